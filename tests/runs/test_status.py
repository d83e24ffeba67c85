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
