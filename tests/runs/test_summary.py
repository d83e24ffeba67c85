"""The run summary: what delivery, lifecycle and attribute parts add up to, and how it shows."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from stripe_cio.deliver import DeliverySummary
from stripe_cio.lifecycle import LifecycleSummary
from stripe_cio.runs import REASONS, RunSummary
from stripe_cio.runs.reasons import reason_code


def delivery(**counts: object) -> DeliverySummary:
    summary = DeliverySummary()
    for name, value in counts.items():
        setattr(summary, name, value)
    return summary


def test_delivery_parts_add_up_as_dataclass_or_as_dict() -> None:
    part = delivery(persons_seen=10, persons_created=3, persons_updated=2, persons_delivered=4,
                    events_delivered=1, rejected={"attribute_too_long": 1})  # fmt: skip
    summary = RunSummary("enrich-profiles")
    summary.add_delivery(part)
    summary.add_delivery(part.as_dict())
    assert (summary.persons_seen, summary.persons_changed, summary.persons_sent) == (20, 10, 8)
    assert summary.events_delivered == 2
    assert summary.rejected == {"attribute_too_long": 2}
    assert summary.dead_lettered == 2


def test_a_dry_run_dead_letters_nothing() -> None:
    summary = RunSummary("enrich-profiles", dry_run=True)
    summary.add_delivery(delivery(dry_run=True, persons_created=5, rejected={"bad": 1}))
    assert summary.rejected == {"bad": 1}
    assert summary.dead_lettered == 0
    rows = dict(summary.rows())
    assert rows["persons changed (would be sent)"] == "5"
    assert "persons accepted by Customer.io" not in rows
    assert summary.title.startswith("enrich-profiles (dry run: nothing sent): 5 persons changed")


def test_lifecycle_counts_events_by_name_and_skips_by_reason() -> None:
    lifecycle = LifecycleSummary(events_read=5, events_mapped=3)
    lifecycle.items.update({"stripe_payment_failed": 2, "stripe_invoice_paid": 1})
    lifecycle.skipped.update({"unmapped_type": 2})
    lifecycle.delivery.events_delivered = 3
    summary = RunSummary("sync-stripe-events")
    summary.add_lifecycle(lifecycle.as_dict())
    assert summary.events_sent == Counter({"stripe_payment_failed": 2, "stripe_invoice_paid": 1})
    assert summary.skipped == {"lifecycle: unmapped_type": 2}
    assert summary.events_delivered == 3
    assert summary.stripe == {"events mapped to lifecycle events": 3}


def test_nested_skips_are_named_by_table_and_zeros_left_out() -> None:
    summary = RunSummary("enrich-profiles")
    summary.add_skipped({"customers": {"no_identifier": 2, "deleted": 0}, "charges": {}})
    assert summary.skipped == {"customers: no_identifier": 2}


def test_a_subflow_run_adds_into_its_parent() -> None:
    child = RunSummary("enrich-profiles", persons_seen=4, persons_changed=2, persons_sent=2)
    child.skipped["customers: deleted"] = 1
    parent = RunSummary("backfill-history", stripe={"customers read": 5})
    parent.add_run(child)
    parent.add_run(child)
    assert (parent.persons_seen, parent.persons_changed, parent.persons_sent) == (8, 4, 4)
    assert parent.skipped == {"customers: deleted": 2}
    assert parent.stripe == {"customers read": 5}


def test_steps_are_timed_and_everything_is_plain_data() -> None:
    summary = RunSummary("sync-stripe-events")
    with summary.step("pull Stripe events"):
        pass
    with summary.step("pull Stripe events"):
        pass
    assert list(summary.steps) == ["pull Stripe events"]
    table = summary.table()
    # It never reached Customer.io: no Customer.io rows of zeros.
    assert not any(row["what"] == "dead-lettered" for row in table)
    summary.credentials["Customer.io"] = "the environment (CUSTOMERIO_SITE_ID)"
    assert {"what": "dead-lettered", "count": "0", "meaning": ""} in summary.table()
    assert any(row["what"] == "seconds: pull Stripe events" for row in table)
    assert json.loads(json.dumps(summary.as_dict()))["flow"] == "sync-stripe-events"


def test_skip_and_reject_rows_say_what_their_reason_means() -> None:
    summary = RunSummary("enrich-profiles")
    summary.skipped["customers: no_identifier"] = 2
    summary.rejected["Stripe charges: missing_field:amount"] = 1
    summary.rejected["an API's own reason"] = 1
    meanings = {row["what"]: row["meaning"] for row in summary.table()}
    assert meanings["skipped: customers: no_identifier"] == REASONS["no_identifier"]
    assert meanings["rejected: Stripe charges: missing_field:amount"] == REASONS["missing_field"]
    assert meanings["rejected: an API's own reason"] == ""


DOCS = Path(__file__).resolve().parents[2] / "docs"


def documented_reasons() -> set[str]:
    """The codes in the first column of every docs/ table headed `| reason |`."""
    codes: set[str] = set()
    for path in DOCS.glob("*.md"):
        in_table = False
        for line in path.read_text().splitlines():
            if line.startswith("| reason |"):
                in_table = True
            elif not line.startswith("|"):
                in_table = False
            elif in_table and not line.startswith("|---"):
                first = line.split("|")[1]
                codes.update(re.findall(r"`([^`]+)`", first))
    # `missing_field:<name>` documents the code missing_field.
    return {code.split("<")[0].rstrip(":") for code in codes}


def test_every_documented_reason_is_explained_and_every_explained_one_documented() -> None:
    documented = documented_reasons()
    assert {"no_identifier", "unmapped_type", "missing_field"} <= documented
    assert sorted(code for code in documented if reason_code(code) not in REASONS) == []
    text = "".join(path.read_text() for path in DOCS.glob("*.md"))
    assert [code for code in REASONS if f"`{code}" not in text] == []
