"""The hostile-input corpus: Stripe objects and events that try to break the pipeline.

Each `Case` is a small piece of a Stripe account (objects in the sandbox's lists, events in
`/v1/events`) and the outcome every record of it must reach: stored in the ledger or rejected
with its reason, a person delivered to Customer.io or dead-lettered with its reason, an event
sent, skipped or rejected with its reason. All cases share one account, so the good records of
a case sit in the same list pages as the hostile ones.

`python -m tests.reliability.hostile.corpus FILE` writes the account as a fixtures file for
`stripe-cio sandbox stripe --fixtures FILE --now 1767225600`.

Outcome keys (`Case.expect`):

- `ledger:<resource>/<id>` -> `stored` or `reject:<reason>` (the ledger's `rejects` table)
- `person:<identifier>` -> `delivered` or `dead:<reason>` (a dead letter)
- `event:<id>` -> `sent:<Customer.io event>`, `action` (a person change, no event),
  `skip:<lifecycle reason>`, `reject:<reason>` (the ledger refused the event itself) or
  `dead:<reason>` (Customer.io's limits refused the event made of it)

`Case.attribute_skips` are the rows the attribute engine leaves out, by `table: reason`,
counted over the whole account after the last sync.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson

from ._case import NOW, RESOURCES, Case
from ._charge_cases import _charge_cases
from ._customer_cases import _customer_cases
from ._event_cases import PAGE_FAULTS, _event_cases, _page_cases

__all__ = ["CASES", "NOW", "PAGE_FAULTS", "RESOURCES", "Case", "account", "write_fixtures"]

CASES: list[Case] = [*_customer_cases(), *_charge_cases(), *_event_cases(), *_page_cases()]


def account() -> dict[str, list[dict[str, Any]]]:
    """Every case's objects and events, as the fixtures file's resource lists."""
    out: dict[str, list[dict[str, Any]]] = {resource: [] for resource in RESOURCES}
    for case in CASES:
        for resource, objects in case.objects.items():
            out[resource].extend(objects)
        out["events"].extend(case.events)
    return out


def write_fixtures(path: Path) -> Path:
    """Write the account as a fixtures file for `stripe-cio sandbox stripe --fixtures`."""
    path.write_bytes(orjson.dumps(account()))
    return path


if __name__ == "__main__":
    print(write_fixtures(Path(sys.argv[1])))
