"""The ledger's status: what `stripe-cio status` shows of its coverage."""

from __future__ import annotations

from collections.abc import Callable

from stripe_cio.ledger import (
    Ledger,
    lower_history_horizon,
    record_backfill_completed,
    record_backfill_started,
)
from stripe_cio.runs import ledger_status


def test_status_lists_unfinished_backfills_and_the_history_horizon(
    make_ledger: Callable[[], Ledger],
) -> None:
    ledger = make_ledger()
    fresh = ledger_status(ledger)
    assert (fresh.unfinished_backfills, fresh.history_horizon) == ([], None)

    record_backfill_started(ledger.engine, "backfill-200", since=0, t0=200, resources=["charges"])
    record_backfill_started(ledger.engine, "backfill-300", since=0, t0=300, resources=["charges"])
    record_backfill_completed(ledger.engine, "backfill-300", completed_at=400)
    lower_history_horizon(ledger.engine, 150)
    status = ledger_status(ledger)
    assert [run.run for run in status.unfinished_backfills] == ["backfill-200"]
    assert status.unfinished_backfills[0].t0 == 200
    assert status.history_horizon == 150


def test_status_counts_rejects_by_resource_and_reason(make_ledger: Callable[[], Ledger]) -> None:
    ledger = make_ledger()
    assert ledger_status(ledger).rejects_by_reason == {}
    customer = {"id": "cus_1", "object": "customer", "created": 1, "email": "not-an-email"}
    charge = {
        "id": "ch_1",
        "object": "charge",
        "created": 1,
        "customer": "cus_1",
        "status": "succeeded",
        "amount": 2_000,
        "amount_captured": 2_000,
        "amount_refunded": 10**9,
        "currency": "usd",
    }
    ledger.write_objects("customers", [customer], observed_at=1)
    ledger.write_objects("charges", [charge, charge | {"id": "ch_2"}], observed_at=1)
    status = ledger_status(ledger)
    assert status.rejected_objects == 3
    assert status.rejects_by_reason == {
        "charges: amount_refunded_over_captured": 2,
        "customers: email is not a valid address: 'not-an-email'": 1,
    }
