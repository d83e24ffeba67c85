"""History coverage: the horizon, backfill runs, customers' histories and the gaps of events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import inspect, text

from stripe_cio.ledger import (
    BackfillProgress,
    HistoryGaps,
    Ledger,
    abandon_backfills,
    backfill_progress,
    backfill_run,
    guest_history_complete,
    history_gaps,
    history_horizon,
    incomplete_among,
    incomplete_customers,
    lower_history_horizon,
    missing_objects,
    record_backfill_completed,
    record_backfill_started,
    record_customer_histories,
    unfinished_backfills,
)
from stripe_cio.ledger import schema as schema

Example = Callable[[str], dict[str, Any]]
LedgerFactory = Callable[[], Ledger]


def event(event_id: str, created: int, obj: dict[str, Any], kind: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "type": kind,
        "created": created,
        "livemode": False,
        "api_version": None,
        "data": {"object": obj},
    }


def customer(example: Example, cid: str, created: int) -> dict[str, Any]:
    return example("customer") | {"id": cid, "created": created}


def test_the_horizon_only_moves_backward(ledger: Ledger) -> None:
    engine = ledger.engine
    assert history_horizon(engine) is None  # a new ledger vouches for no history
    assert not guest_history_complete(engine)
    lower_history_horizon(engine, 100)
    lower_history_horizon(engine, 200)
    assert history_horizon(engine) == 100
    lower_history_horizon(engine, 50)
    assert history_horizon(engine) == 50
    assert not guest_history_complete(engine)
    lower_history_horizon(engine, 0)
    assert history_horizon(engine) == 0
    assert guest_history_complete(engine)
    assert ledger.events_cursor() is None  # a cursor of its own in sync_cursors


def _back_to_version_three(ledger: Ledger, *, keep_horizon: bool = False) -> None:
    with ledger.engine.begin() as conn:
        conn.execute(text("DROP TABLE backfill_runs"))
        conn.execute(text("DROP TABLE customer_histories"))
        if not keep_horizon:
            conn.execute(text("DELETE FROM sync_cursors WHERE name = 'history_horizon'"))
        conn.execute(text("DELETE FROM schema_version WHERE version >= 4"))


def test_migration_four_takes_an_existing_ledger_as_complete(
    open_ledger: LedgerFactory, example: Example
) -> None:
    ledger = open_ledger()
    assert ledger.schema_version == schema.latest_version() >= 4
    ledger.write_objects("customers", [customer(example, "cus_a", 10)], observed_at=10)
    _back_to_version_three(ledger)
    assert not inspect(ledger.engine).has_table("customer_histories")
    migrated = Ledger(ledger.engine)
    assert migrated.schema_version == schema.latest_version()
    assert {"backfill_runs", "customer_histories"} <= set(inspect(ledger.engine).get_table_names())
    assert history_horizon(ledger.engine) == 0
    assert incomplete_customers(ledger.engine) == frozenset()


def test_migration_four_on_a_ledger_synced_by_events_only(open_ledger: LedgerFactory) -> None:
    ledger = open_ledger()
    ledger.set_events_cursor(1_000)
    _back_to_version_three(ledger)
    assert history_horizon(Ledger(ledger.engine).engine) == 0


def test_migration_four_leaves_an_empty_ledger_without_a_horizon(
    open_ledger: LedgerFactory,
) -> None:
    ledger = open_ledger()
    _back_to_version_three(ledger)
    assert Ledger(ledger.engine).schema_version == schema.latest_version()
    assert history_horizon(ledger.engine) is None


def test_unfinished_backfills(ledger: Ledger) -> None:
    engine = ledger.engine
    record_backfill_started(engine, "backfill-100", since=0, t0=100, resources=["charges"])
    record_backfill_started(
        engine, "backfill-200", since=50, t0=200, resources=["customers", "charges"]
    )
    record_backfill_completed(engine, "backfill-100", 1_000)
    [run] = unfinished_backfills(engine)
    assert (run.run, run.since, run.t0, run.resources, run.completed_at) == (
        "backfill-200",
        50,
        200,
        ("customers", "charges"),
        None,
    )
    with engine.begin() as conn:
        conn.execute(text("UPDATE backfill_runs SET started_at = 7 WHERE run = 'backfill-200'"))
    record_backfill_started(
        engine, "backfill-200", since=50, t0=200, resources=["customers", "charges"]
    )
    assert [r.started_at for r in unfinished_backfills(engine)] == [7]  # a resume keeps it
    record_backfill_completed(engine, "backfill-200", 1_001)
    assert unfinished_backfills(engine) == []


def test_an_abandoned_backfill_is_no_longer_unfinished_until_resumed_by_its_id(
    ledger: Ledger,
) -> None:
    engine = ledger.engine
    record_backfill_started(engine, "backfill-100", since=0, t0=100, resources=["charges"])
    record_backfill_started(engine, "backfill-200", since=0, t0=200, resources=["charges"])
    record_backfill_completed(engine, "backfill-200", 1_000)
    abandon_backfills(engine, ["backfill-100", "backfill-200"], abandoned_at=1_100)
    assert unfinished_backfills(engine) == []
    abandoned = backfill_run(engine, "backfill-100")
    assert abandoned is not None
    assert abandoned.abandoned_at == 1_100
    completed = backfill_run(engine, "backfill-200")
    assert completed is not None
    assert completed.abandoned_at is None  # a completed run stays so
    assert backfill_run(engine, "backfill-300") is None

    record_backfill_started(engine, "backfill-100", since=0, t0=100, resources=["charges"])
    assert [run.run for run in unfinished_backfills(engine)] == ["backfill-100"]


def test_backfill_progress_counts_slices_and_the_resources_they_cover(ledger: Ledger) -> None:
    engine = ledger.engine
    record_backfill_started(
        engine, "backfill-100", since=10, t0=100, resources=["customers", "charges"]
    )
    [run] = unfinished_backfills(engine)
    assert backfill_progress(engine, run) == BackfillProgress(0, 0, 0, 2)
    ledger.mark_slice_done("customers", "backfill-100", 60, 101, 5)
    ledger.mark_slice_done("customers", "backfill-100", 10, 60, 7)
    ledger.mark_slice_done("charges", "backfill-100", 50, 101, 9)
    ledger.mark_slice_done("charges", "backfill-other", 10, 50, 4)  # another run's
    progress = backfill_progress(engine, run)
    assert progress == BackfillProgress(slices=3, objects=21, resources_done=1, resources=2)
    assert str(progress) == "3 slices and 21 objects read, 1 of 2 resources complete"


def test_migration_five_adds_abandoned_at_keeping_the_runs(open_ledger: LedgerFactory) -> None:
    ledger = open_ledger()
    record_backfill_started(ledger.engine, "backfill-100", since=0, t0=100, resources=["charges"])
    with ledger.engine.begin() as conn:
        conn.execute(text("ALTER TABLE backfill_runs DROP COLUMN abandoned_at"))
        conn.execute(text("DELETE FROM schema_version WHERE version >= 5"))
    migrated = Ledger(ledger.engine)
    assert migrated.schema_version == schema.latest_version() >= 5
    [run] = unfinished_backfills(ledger.engine)
    assert (run.run, run.abandoned_at) == ("backfill-100", None)


def test_incomplete_customers_follow_the_horizon_and_the_histories(
    ledger: Ledger, example: Example
) -> None:
    engine = ledger.engine
    ledger.write_objects(
        "customers",
        [
            customer(example, "cus_old", 100),
            customer(example, "cus_new", 300),
            customer(example, "cus_read", 50),
        ],
        observed_at=400,
    )
    assert incomplete_customers(engine) == {"cus_old", "cus_new", "cus_read"}  # no horizon
    record_customer_histories(engine, {"cus_read": "complete"}, fetched_at=400)
    assert incomplete_customers(engine) == {"cus_old", "cus_new"}
    lower_history_horizon(engine, 200)
    assert incomplete_customers(engine) == {"cus_old"}
    assert incomplete_among(engine, ["cus_old", "cus_new", "cus_unseen"]) == {
        "cus_old",
        "cus_unseen",
    }
    lower_history_horizon(engine, 0)
    assert incomplete_customers(engine) == frozenset()
    assert missing_objects(engine, "customers", ["cus_old", "cus_x"]) == {"cus_x"}


def test_history_gaps_of_the_events_since(ledger: Ledger, example: Example) -> None:
    engine = ledger.engine
    ledger.write_objects(
        "customers",
        [customer(example, "cus_old", 100), customer(example, "cus_new", 500)],
        observed_at=600,
    )
    lower_history_horizon(engine, 200)
    charge = example("charge")
    # Charges already in the ledger: one of an unseen customer, one of a guest.
    ledger.write_objects(
        "charges",
        [
            charge | {"id": "ch_of_unseen", "customer": "cus_refunded"},
            charge | {"id": "ch_guest", "customer": None},
        ],
        observed_at=600,
    )
    events = [
        event("evt_old_charge", 1_000, charge | {"id": "ch_1", "customer": "cus_old"}, "x"),
        event("evt_new_charge", 1_000, charge | {"id": "ch_2", "customer": "cus_new"}, "x"),
        event("evt_invoice", 1_000, example("invoice") | {"customer": "cus_absent"}, "x"),
        event("evt_dispute", 1_000, example("dispute") | {"charge": "ch_missing"}, "x"),
        event("evt_refund", 1_000, example("refund") | {"charge": "ch_of_unseen"}, "x"),
        event(
            "evt_guest_refund", 1_000, example("refund") | {"id": "re_2", "charge": "ch_guest"}, "x"
        ),
        event(
            "evt_intent",
            1_000,
            example("payment_intent") | {"latest_charge": "ch_pi_missing", "customer": None},
            "x",
        ),
        event("evt_early", 10, customer(example, "cus_early", 5), "customer.updated"),
    ]
    assert ledger.apply_events(events, cursor=1_000).rejected == {}
    gaps = history_gaps(engine, 900)
    assert gaps == HistoryGaps(
        customers=frozenset({"cus_old", "cus_absent", "cus_refunded"}),
        charges=frozenset({"ch_missing", "ch_pi_missing"}),
    )
    assert len(gaps) == 5
    assert "cus_early" in history_gaps(engine, None).customers
    record_customer_histories(engine, {"cus_old": "complete", "cus_absent": "unknown"}, 1_000)
    assert history_gaps(engine, 900).customers == {"cus_refunded"}
