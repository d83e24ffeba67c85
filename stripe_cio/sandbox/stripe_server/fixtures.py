"""Load a fixtures file (an explicit Stripe account as JSON) into a StripeStore.

Format: one JSON object whose keys are resource names (customers, charges, payment_intents,
invoices, subscriptions, refunds, disputes, checkout_sessions, events, prices, products), each a
list of objects in Stripe's shape. Every object needs a string `id` and an integer `created`
(deleted customer stubs `{"id", "object": "customer", "deleted": true}` may omit `created`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson

from ...exceptions import ConfigError
from .resources import RESOURCES
from .store import StripeStore

log = logging.getLogger(__name__)
_HOW = "see docs/sandbox.md for the fixtures format"


def _invalid(problem: str) -> ConfigError:
    return ConfigError("--fixtures", problem, _HOW)


def _check(resource: str, position: int, obj: Any) -> None:
    where = f"{resource}[{position}]"
    if not isinstance(obj, dict):
        raise _invalid(f"{where} is not a JSON object")
    if not isinstance(obj.get("id"), str) or not obj["id"]:
        raise _invalid(f"{where} has no string 'id'")
    created = obj.get("created")
    stub = obj.get("deleted") is True
    if not (isinstance(created, int) and not isinstance(created, bool)) and not stub:
        raise _invalid(f"{where} ({obj['id']}) has no integer 'created'")


def load_fixtures(path: Path, store: StripeStore) -> dict[str, int]:
    """Validate the whole file, then put every object; returns the count per resource."""
    try:
        account = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise _invalid(f"cannot read {path}: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise _invalid(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(account, dict):
        raise _invalid(f"{path} must hold a JSON object keyed by resource name")
    for key in account:
        if key not in RESOURCES:
            log.warning("fixtures file %s: ignoring unknown key %r", path, key)
    counts: dict[str, int] = {}
    for resource in RESOURCES:
        objects = account.get(resource, [])
        if not isinstance(objects, list):
            raise _invalid(f"{resource!r} must be a list of objects")
        for position, obj in enumerate(objects):
            _check(resource, position, obj)
        counts[resource] = len(objects)
    for resource in RESOURCES:
        for obj in account.get(resource, []):
            store.put(resource, obj)
    return counts
