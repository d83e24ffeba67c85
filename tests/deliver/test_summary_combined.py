"""Delivery summaries of a job's parts add up to the job's (the partitions of an enrich)."""

from __future__ import annotations

from collections import Counter

from stripe_cio.deliver import DeliverySummary


def test_parts_add_up_and_keep_the_first_samples() -> None:
    first = DeliverySummary(
        dry_run=True,
        persons_seen=3,
        persons_created=2,
        rejected={"too_large": 1},
        attribute_changes=Counter({"stripe_mrr": 2}),
        samples=[{"n": 1}, {"n": 2}],
        seconds=1.5,
    )
    second = DeliverySummary(
        dry_run=True,
        persons_seen=4,
        persons_updated=1,
        rejected={"too_large": 2, "invalid_email": 1},
        attribute_changes=Counter({"stripe_mrr": 1, "stripe_plan": 1}),
        samples=[{"n": 3}, {"n": 4}, {"n": 5}, {"n": 6}],
        seconds=0.5,
    )
    both = first.combined(second)
    assert both.dry_run
    assert (both.persons_seen, both.persons_created, both.persons_updated) == (7, 2, 1)
    assert both.rejected == {"too_large": 3, "invalid_email": 1}
    assert both.attribute_changes == Counter({"stripe_mrr": 3, "stripe_plan": 1})
    assert [sample["n"] for sample in both.samples] == [1, 2, 3, 4, 5]
    assert both.seconds == 2.0
    assert first.persons_seen == 3, "the parts are left as they were"
    assert DeliverySummary().combined(DeliverySummary()) == DeliverySummary()
