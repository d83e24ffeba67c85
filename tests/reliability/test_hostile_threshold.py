"""The reject-rate threshold's arithmetic, message and settings (pure: no Prefect, no HTTP)."""

from __future__ import annotations

import pytest

from stripe_cio import ConfigError, run_settings_from_env
from stripe_cio.deliver import DeliverySummary
from stripe_cio.extract import BackfillSummary, FailedSlice, ResourceSummary, SyncSummary
from stripe_cio.jobs import reject_threshold
from stripe_cio.lifecycle import LifecycleSummary
from stripe_cio.runs import DEFAULT_MAX_REJECT_RATE, RunSummary, reject_rate_problem


def sync_summary(listed: int, duplicates: int = 0, **rejected: int) -> SyncSummary:
    summary = SyncSummary(cursor_before=None, cursor_after=None, start=0, stripe_now=0)
    summary.events_listed, summary.duplicates = listed, duplicates
    summary.applied = listed - duplicates - sum(rejected.values())
    summary.rejected.update(rejected)
    return summary


def test_records_count_every_input_once_and_rejects_every_refusal() -> None:
    customers = ResourceSummary(objects=90, written=88)
    customers.rejected.update({"invalid_field:email": 2})
    pulled = BackfillSummary(run="backfill-1", t0=1, resources={"customers": customers})
    pulled.failed.append(FailedSlice("charges", 0, 10, "Stripe answered GET /v1/charges ..."))
    summary = RunSummary("backfill-history")
    summary.add_backfill(pulled)
    summary.add_sync(sync_summary(30, duplicates=10, **{"missing_field:data.object": 1}))
    summary.add_delivery(DeliverySummary(persons_seen=40, rejected={"identifier_too_long": 1}))
    lifecycle = LifecycleSummary(events_read=19)
    lifecycle.actions.update({"identify": 3})
    lifecycle.actions_rejected.update({"invalid_identifier": 1})
    lifecycle.delivery.events_seen = 12
    summary.add_lifecycle(lifecycle)
    # 90 objects + 20 new events + 40 persons + 3 person changes + 12 Customer.io events.
    assert summary.records == 165
    assert summary.rejected == {
        "Stripe customers: invalid_field:email": 2,
        "Stripe charges: unreadable slice": 1,
        "Stripe event: missing_field:data.object": 1,
        "identifier_too_long": 1,
        "person change: invalid_identifier": 1,
    }
    assert summary.reject_rate == pytest.approx(6 / 165)
    subflow = RunSummary("enrich-profiles")
    subflow.add_run(summary)
    assert (subflow.records, subflow.reject_rate) == (165, summary.reject_rate)


def test_the_message_names_the_rate_the_threshold_and_the_top_reasons() -> None:
    summary = RunSummary("sync-stripe-events")
    summary.add_sync(sync_summary(40, **{"invalid_field:type": 3, "missing_field:currency": 2}))
    summary.add_delivery(DeliverySummary(rejected={"attribute_value_too_long": 1, "x": 1}))
    problem = reject_rate_problem(summary, 0.05)
    assert problem == (
        "sync-stripe-events: reject rate 17.5% (7 rejected of 40 records) exceeds the threshold "
        "of 5.0%; top reasons: Stripe event: invalid_field:type (3), Stripe event: "
        "missing_field:currency (2), attribute_value_too_long (1); see the rejects and dead "
        "letters, fix the cause, or raise STRIPE_CIO_MAX_REJECT_RATE"
    )


@pytest.mark.parametrize(
    ("rejected", "records", "threshold", "fails"),
    [
        (5, 100, 0.05, False),  # exactly at the threshold: within it
        (6, 100, 0.05, True),
        (0, 0, 0.0, False),  # nothing read, nothing rejected
        (0, 100, 0.0, False),
        (1, 100, 0.0, True),  # a zero threshold: any reject fails the run
        (1, 0, 0.99, True),  # a sync that stopped at an unreadable page before reading any
        (100, 100, 1.0, False),  # 1.0 turns the check off
    ],
)
def test_the_threshold(rejected: int, records: int, threshold: float, fails: bool) -> None:
    summary = RunSummary("enrich-profiles", records=records)
    if rejected:
        summary.rejected["identifier_too_long"] = rejected
    assert (reject_rate_problem(summary, threshold) is not None) is fails


def test_the_setting_defaults_to_5_percent_and_refuses_nonsense() -> None:
    assert DEFAULT_MAX_REJECT_RATE == run_settings_from_env({}).max_reject_rate == 0.05
    setting = {"STRIPE_CIO_MAX_REJECT_RATE": "0.2"}
    assert run_settings_from_env(setting).max_reject_rate == 0.2
    assert run_settings_from_env({"STRIPE_CIO_MAX_REJECT_RATE": " "}).max_reject_rate == 0.05
    for bad in ("5%", "1.5", "-0.1"):
        with pytest.raises(ConfigError, match=r"^STRIPE_CIO_MAX_REJECT_RATE: ") as raised:
            run_settings_from_env({"STRIPE_CIO_MAX_REJECT_RATE": bad})
        assert "\n" not in str(raised.value)


def test_the_run_parameter_wins_and_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_CIO_MAX_REJECT_RATE", "0.2")
    assert reject_threshold(None) == 0.2
    assert reject_threshold(0.5) == 0.5
    assert reject_threshold(0.0) == 0.0
    with pytest.raises(ConfigError, match=r"^max_reject_rate: must be a fraction between 0 and 1"):
        reject_threshold(5.0)
