"""Each command sequence the README and docs/ describe, run as a user types it, end to end
against both sandboxes, on SQLite and PostgreSQL: nothing lost, nothing sent twice."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import text

from stripe_cio.runs import run_lock
from tests.paths._world import DAY, World

OVERLAP = 600


def _ok(result: Any) -> None:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"


def _processed(world: World) -> set[str]:
    with world.ledger() as ledger, ledger.engine.connect() as conn:
        return set(conn.execute(text("SELECT id FROM processed_events")).scalars())


def _event_keys(events: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """Events as comparable rows; the workspace's own `cio_id` depends on arrival order."""
    return sorted(
        (e["id"], e["name"], str(e["identifiers"].get("email")),
         json.dumps(e["data"], sort_keys=True))
        for e in events
    )  # fmt: skip


def _one_error_line(stderr: str) -> str:
    """The run's one error line: the last thing printed, with no traceback (what went wrong
    on the way, e.g. slices given up, is logged above it)."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("run failed:", "refused:", "error:"))]
    assert errors == lines[-1:], stderr
    return lines[-1]


def test_backfill_then_sync_loses_no_event(world: World) -> None:
    """README order: `backfill`, time passes, `sync`: every event from the backfill's T0 on is
    applied, and its lifecycle events are sent once each."""
    _ok(world.cli("backfill"))
    with world.ledger() as ledger:
        t0 = ledger.events_cursor()
    assert t0 is not None, "the backfill must start the events cursor at its T0"
    persons = len(world.people())
    assert persons > 0

    world.advance(DAY)
    _ok(world.cli("sync"))
    since_t0 = world.stripe_events(since=t0)
    assert len(since_t0) > 10, "a sandbox day makes events"
    missing = {e["id"] for e in since_t0} - _processed(world)
    assert not missing, f"{len(missing)} events after the backfill were never applied"
    sent = world.cio_events()
    assert sent, "the day's lifecycle events reach Customer.io"
    assert len({e["id"] for e in sent}) == len(sent)


def test_sync_since_on_an_empty_ledger_needs_no_backfill(make_world: Callable[[], World]) -> None:
    """`sync --since` on an empty ledger, over customers older than Stripe's 30-day window:
    every lifecycle event of the window is delivered once, and the attributes pushed equal
    those a ledger with the full history gives for the same persons."""
    reference = make_world()
    # The truth: the whole history read by a backfill, then the same window of events.
    reference.extra_env["STRIPE_CIO_SEND_BACKFILL_EVENTS"] = "true"
    since = reference.stripe_now() - 3 * DAY
    with reference.ledger() as ledger:
        ledger.set_events_cursor(since + OVERLAP)
    _ok(reference.cli("backfill"))
    _ok(reference.cli("sync"))

    fresh = make_world()
    result = fresh.cli("sync", "--since", str(since))
    _ok(result)
    got, truth = fresh.cio_events(), reference.cio_events()
    assert truth, "the window holds lifecycle events"
    assert len({e["id"] for e in got}) == len(got), "an event was sent twice"
    assert _event_keys(got) == _event_keys(truth)

    pushed, full = fresh.people(), reference.people()
    unknowable = _guest_buyers_before(reference, since)
    complete = 0
    for email, attributes in pushed.items():
        if email in unknowable:
            continue
        for name, value in attributes.items():
            assert full[email].get(name) == value, f"{email}: {name}"
        complete += attributes.keys() == full[email].keys()
    assert complete > 0, "the touched persons' attributes were pushed"

    # Run again: nothing new, nothing sent.
    before = fresh.cio_requests()
    _ok(fresh.cli("sync"))
    assert fresh.cio_requests() == before


def _guest_buyers_before(world: World, since: int) -> set[str]:
    """Emails that paid as guests (no Stripe customer) before `since`: Stripe lists charges by
    customer, not by billing email, so only a backfill can read those (docs/events.md)."""
    with world.ledger() as ledger, ledger.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT billing_email FROM charges WHERE customer IS NULL AND created < :since"),
            {"since": since},
        ).scalars()
        return {str(e).strip().lower() for e in rows if e}


def test_second_sync_sends_nothing(world: World) -> None:
    _ok(world.cli("backfill"))
    world.advance(DAY)
    _ok(world.cli("sync"))
    before = world.cio_requests()
    result = world.cli("sync")
    _ok(result)
    assert world.cio_requests() == before


def test_replay_refused_while_another_run_pushes(world: World) -> None:
    _ok(world.cli("backfill"))
    before = world.cio_requests()
    with world.ledger() as ledger, run_lock(ledger.engine, "a test holding the push lock"):
        result = world.cli("dead-letters", "replay")
    assert result.returncode == 75, result.stdout + result.stderr
    assert "another run is pushing" in _one_error_line(result.stderr)
    assert world.cio_requests() == before


def test_failed_first_sync_then_plain_sync_skips_nothing(world: World) -> None:
    since = world.stripe_now() - 3 * DAY
    # The first events page (Stripe's present) comes through; every listing page after it
    # stays broken through the client's retries.
    broken = [{"path": "/v1/events", "body": "html", "times": 10_000, "after": 1}]
    world.stripe_config(corrupt_pages=broken)
    failed = world.cli("sync", "--since", str(since))
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "run failed" in _one_error_line(failed.stderr)
    with world.ledger() as ledger:
        assert ledger.events_cursor() == since

    world.stripe_config(corrupt_pages=[])
    _ok(world.cli("sync"))
    missing = {e["id"] for e in world.stripe_events(since=since)} - _processed(world)
    assert not missing, f"{len(missing)} events of the failed run's window were skipped"
    assert world.cio_events()


def test_enrich_during_an_unfinished_backfill_pushes_only_complete_persons(world: World) -> None:
    broken = [{"path": "/v1/disputes", "body": "html", "times": 10_000, "after": 0}]
    world.stripe_config(corrupt_pages=broken)
    failed = world.cli("backfill", "--no-enrich")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    line = _one_error_line(failed.stderr)
    run = re.search(r"backfill-\d+", line)
    assert run is not None, line

    enriched = world.cli("enrich")
    _ok(enriched)
    assert "history incomplete" in enriched.stdout
    assert world.people() == {}, "no person of an unfinished backfill may be pushed"

    world.stripe_config(corrupt_pages=[])
    _ok(world.cli("backfill", "--run", run.group(0)))
    assert len(world.people()) > 0


def test_enrich_in_partitions_from_the_command_line_sends_what_one_pass_sends(
    world: World,
) -> None:
    _ok(world.cli("backfill", "--no-enrich"))
    as_of = str(world.stripe_now())
    split = world.cli(
        "enrich", "--as-of", as_of, "--partitions", "3", "--partition-concurrency", "2"
    )
    _ok(split)
    assert "read into partitions" in split.stdout
    partitioned = world.people()
    assert partitioned

    world.reset_cio()
    with world.ledger() as ledger, ledger.engine.begin() as conn:
        conn.execute(text("DELETE FROM cio_person_snapshots"))
    _ok(world.cli("enrich", "--as-of", as_of))
    assert world.people() == partitioned

    refused = world.cli("enrich", "--partitions", "2", "--limit", "5")
    assert refused.returncode != 0
    [line] = [line for line in refused.stderr.splitlines() if line.strip()]
    assert line.startswith("configuration error: limit:")
    assert line.endswith("give either a limit or partitions")
