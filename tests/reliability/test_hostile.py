"""The hostile-input corpus through the real pipeline, on SQLite and PostgreSQL.

Every case of `hostile/corpus.py` (at least 40) must end as a processed record, a counted skip
or a reject with its reason: never a crash of the run, never a silent loss; the good records of
the same pages must arrive, and the summaries must account for every input record. The Stripe
sandbox serves the corpus over HTTP (with its first list pages broken on the wire), the
Customer.io sandbox receives the result.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest

from stripe_cio import LedgerSettings
from stripe_cio.extract import UNREADABLE_PAGE, backfill, sync_events
from stripe_cio.ledger import Ledger
from stripe_cio.ledger.normalise import normalised_email
from stripe_cio.runs import RunSummary
from stripe_cio.sandbox import SandboxProcess
from tests.reliability._crash._state import sandbox_call

from .hostile.corpus import CASES, NOW, PAGE_FAULTS, RESOURCES, Case, account
from .hostile.pipeline import Observed, Run, observe, run_pipeline, stripe_client

LEDGER_TABLES = [r for r in RESOURCES if r != "events"]
_databases = itertools.count()


def _ledger_url(backend: str, request: pytest.FixtureRequest, folder: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{folder / 'ledger.db'}"
    server: str = request.getfixturevalue("pg_server")
    name = f"hostile_{next(_databases)}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def outcome(
    request: pytest.FixtureRequest,
    hostile_stripe_box: SandboxProcess,
    hostile_cio_box: SandboxProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Run, Observed]:
    """The whole pipeline over the corpus, once per ledger backend."""
    url = _ledger_url(request.param, request, tmp_path_factory.mktemp(request.param))
    sandbox_call(hostile_cio_box.url, "reset", {})
    sandbox_call(hostile_stripe_box.url, "config", {"corrupt_pages": PAGE_FAULTS})
    ledger = Ledger.open(LedgerSettings(database_url=url))
    try:
        run = asyncio.run(run_pipeline(hostile_stripe_box.url, hostile_cio_box.url, ledger))
        observed = observe(ledger, hostile_cio_box.url, LEDGER_TABLES)
    finally:
        ledger.close()
    observed.sandbox_stats = sandbox_call(hostile_stripe_box.url, "config")
    return run, observed


def test_the_corpus_has_at_least_40_cases_of_each_kind_asked_for() -> None:
    assert len(CASES) >= 40
    assert len({case.name for case in CASES}) == len(CASES)
    kinds = Counter(case.outcome.partition(":")[0] for case in CASES)
    assert set(kinds) == {"processed", "skip", "reject"}


# --- each case ------------------------------------------------------------------------------


def _event_outcome(event_id: str, observed: Observed) -> str:
    """What became of one Stripe event, in the corpus's terms."""
    if event_id not in observed.processed:
        reasons = [r for res, oid, r in observed.rejects if res == "events" and oid == event_id]
        return f"reject:{reasons[0]}" if reasons else "lost"
    handled, reason = observed.handled.get(event_id, ("unhandled", None))
    if handled == "skipped":
        return f"skip:{reason}"
    sent = [name for (eid, name), n in observed.events.items() if eid == event_id for _ in range(n)]
    dead = [d["reason"] for d in observed.dead_letters if d["stripe_event_id"] == event_id]
    if handled == "sent" and sent and not dead:
        return f"sent:{sent[0]}" if len(sent) == 1 else f"sent {len(sent)} times"
    if handled == "sent" and dead and not sent:
        return f"dead:{dead[0]}"
    return "action" if handled == "sent" and not sent and not dead else f"{handled}?"


def _person_outcome(identifier: str, observed: Observed) -> str:
    keys = {f"email:{identifier}"}
    if len(identifier.encode()) > 150:
        # An identifier over Customer.io's limit is kept under a digest, never stored raw.
        keys |= {
            d["person_key"] for d in observed.dead_letters if d["person_key"].startswith("invalid:")
        }
    dead = [
        d["reason"]
        for d in observed.dead_letters
        if d["kind"] == "person" and d["person_key"] in keys
    ]
    if identifier in observed.people:
        return "delivered" if not dead else "delivered and dead-lettered"
    return f"dead:{dead[0]}" if dead else "lost"


def _ledger_outcome(key: str, observed: Observed) -> str:
    resource, _, object_id = key.partition("/")
    reasons = [r for res, oid, r in observed.rejects if res == resource and oid == object_id]
    stored = object_id in observed.tables.get(resource, set())
    if stored and not reasons:
        return "stored"
    if reasons and not stored:
        return f"reject:{reasons[0]}"
    # A field reject: the object is kept, one of its fields (a bad email) is never used.
    return f"stored, field reject:{reasons[0]}" if stored else "lost"


def _page_outcome(resource: str, run: Run, observed: Observed) -> str:
    """Whether the broken pages of `resource` were all served and its list then read whole."""
    rules = [r for r in observed.sandbox_stats["corrupt_pages"] if r["path"] == f"/v1/{resource}"]
    if not rules or any(rule["times"] for rule in rules):
        return "broken pages not served"
    listed = len(account()[resource])
    if resource == "events":
        read = run.syncs[0].events_listed
    else:
        read = run.backfill.resources[resource].objects
    return "every object read" if read == listed else f"{read} of {listed} objects read"


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_each_case_ends_as_expected(case: Case, outcome: tuple[Run, Observed]) -> None:
    run, observed = outcome
    seen: dict[str, Any] = {}
    for key, _ in case.expect.items():
        stage, _, what = key.partition(":")
        if stage == "ledger":
            seen[key] = _ledger_outcome(what, observed)
        elif stage == "event":
            seen[key] = _event_outcome(what, observed)
        elif stage == "person":
            seen[key] = _person_outcome(what, observed)
        elif stage == "ledger-email":
            seen[key] = observed.emails.get(what)
        elif stage == "page":
            seen[key] = _page_outcome(what, run, observed)
    assert seen == case.expect
    for person, attributes in case.attributes.items():
        held = observed.people[person]
        assert {name: held.get(name) for name in attributes} == attributes


# --- the whole corpus -----------------------------------------------------------------------


def test_every_record_is_accounted_for(outcome: tuple[Run, Observed]) -> None:
    run, observed = outcome
    expect = {key: value for case in CASES for key, value in case.expect.items()}
    # Every object of every list page is stored or rejected, and nothing else was rejected.
    for resource, objects in account().items():
        for obj in objects:
            if resource != "events" and "\x00" not in obj["id"]:  # (a NUL id: extra_rejects)
                assert f"ledger:{resource}/{obj['id']}" in expect
    expected_rejects = Counter(
        f"{key.partition(':')[2].partition('/')[0]}: {value.partition(':')[2]}"
        for key, value in expect.items()
        if key.startswith("ledger:") and value.startswith(("reject:", "stored, field reject:"))
    )
    for case in CASES:
        for key, value in case.expect.items():
            if key.startswith("event:") and value.startswith("reject:"):
                # Rejected once: the second sync lists it again, a duplicate then.
                expected_rejects[f"events: {value.partition(':')[2]}"] += 1
        expected_rejects.update(case.extra_rejects)
    # A charge rejected by the backfill is listed once; one in an event, once per claim.
    assert Counter(f"{res}: {reason}" for res, _, reason in observed.rejects) == expected_rejects

    # Customer.io holds exactly the persons expected, and every Stripe event reached an end.
    delivered = {
        k.partition(":")[2]
        for k, v in expect.items()
        if k.startswith("person:") and v == "delivered"
    }
    assert set(observed.people) == delivered
    claimed = {e["id"] for case in CASES for e in case.events} - {
        k.partition(":")[2]
        for k, v in expect.items()
        if k.startswith("event:") and v.startswith("reject:")
    }
    assert observed.processed == claimed
    assert set(observed.handled) == claimed
    assert max(observed.events.values()) == 1  # nothing sent twice

    # The attribute engine counted every row it left out.
    skips = sum((case.attribute_skips for case in CASES), Counter[str]())
    counted = Counter(
        {
            f"{table}: {reason}": n
            for table, reasons in run.skipped.items()
            for reason, n in reasons.items()
            if n
        }
    )
    assert counted == skips


def test_summaries_account_for_every_input_record(outcome: tuple[Run, Observed]) -> None:
    run, _ = outcome
    listed = account()
    expect = {key: value for case in CASES for key, value in case.expect.items()}
    late = {key for case in CASES for key in case.late_rejects}
    pulled = run.backfill
    assert pulled.complete
    assert pulled.retries >= 2  # the broken charges and customers pages were asked again
    for resource in LEDGER_TABLES:
        part = pulled.resources[resource]
        assert part.objects == len(listed[resource]), resource
        outcomes = [
            "reject:nul_character:id"
            if "\x00" in obj["id"]
            else "stored"
            if f"{resource}/{obj['id']}" in late  # rejected only when its charge comes
            else expect.get(f"ledger:{resource}/{obj['id']}", "reject:")
            for obj in listed[resource]
        ]
        # Field rejects are of stored objects: counted as rejects and as written.
        fields = sum(1 for outcome in outcomes if outcome.startswith("stored, field reject:"))
        assert part.written + part.unchanged + sum(part.rejected.values()) - fields == part.objects
        expected = Counter(
            outcome.partition(":")[2]
            for outcome in outcomes
            if outcome.startswith(("reject:", "stored, field reject:"))
        )
        assert part.rejected == expected, resource

    first, second = run.syncs
    # Events the ledger refused outright (the rest of `rejected` are objects inside events).
    refused = sum(1 for k, v in expect.items() if k.startswith("event:") and v.startswith("reject"))
    assert first.events_listed == len(listed["events"])
    assert first.applied + first.duplicates + refused == first.events_listed
    # The overlap lists everything again: duplicates, the malformed events included.
    assert (second.applied, second.duplicates, second.rejected) == (0, first.events_listed, {})
    assert first.cursor_after == max(e["created"] for e in listed["events"])

    lifecycle = run.lifecycle[0]
    assert lifecycle.events_read == first.applied
    assert lifecycle.events_mapped + sum(lifecycle.skipped.values()) == lifecycle.events_read
    assert run.lifecycle[1].events_read == 0

    for delivered in run.enrich:
        assert delivered.persons_seen == (
            delivered.persons_delivered + delivered.persons_rejected + delivered.persons_unchanged
        )
    summary = run.summary
    assert isinstance(summary, RunSummary)
    ledger_rejects = sum(sum(p.rejected.values()) for p in pulled.resources.values())
    sync_rejects = sum(sum(s.rejected.values()) for s in run.syncs)
    delivery_rejects = sum(sum(d.rejected.values()) for d in run.enrich) + sum(
        sum(life.delivery.rejected.values()) for life in run.lifecycle
    )
    assert sum(summary.rejected.values()) == ledger_rejects + sync_rejects + delivery_rejects
    assert summary.records == (
        pulled.objects
        + sum(s.events_listed - s.duplicates for s in run.syncs)
        + sum(d.persons_seen for d in run.enrich)
        + sum(
            life.delivery.persons_seen + life.delivery.events_seen + sum(life.actions.values())
            for life in run.lifecycle
        )
    )
    assert 0 < summary.reject_rate < 1


def test_nothing_impossible_reached_customerio(outcome: tuple[Run, Observed]) -> None:
    """No negative money, no email that is not one valid address, as an identifier, an
    attribute or an event datum (issue 16)."""
    _, observed = outcome
    assert observed.all_people
    money = ("stripe_total_spent", "stripe_refunded_total", "stripe_average_order_value")
    for person in observed.all_people:
        email = person["identifiers"].get("email")
        if email is not None:
            assert normalised_email(email) == email, person["identifiers"]
        attributes = person["attributes"]
        if attributes.get("email") is not None:
            assert normalised_email(attributes["email"]) == attributes["email"]
        for name in money:
            assert attributes.get(name) is None or attributes[name] >= 0, (name, person)
        for value in (attributes.get("stripe_total_spent_by_currency") or {}).values():
            assert value >= 0, person
    assert observed.all_events
    for sent in observed.all_events:
        data = sent["data"]
        if data.get("email") is not None:
            assert normalised_email(data["email"]) == data["email"], data
        for name in ("amount", "amount_refunded"):
            assert data.get(name) is None or data[name] >= 0, data
    # The tester's over-refund is rejected, not sent: its person has spent nothing.
    assert observed.people["over_refunded@example.com"]["stripe_total_spent"] == 0.0


def test_the_broken_pages_were_served_and_read_again(outcome: tuple[Run, Observed]) -> None:
    _, observed = outcome
    left = observed.sandbox_stats["corrupt_pages"]
    assert [rule["times"] for rule in left] == [0] * len(PAGE_FAULTS)


# --- pages that stay broken -----------------------------------------------------------------


def test_a_list_that_stays_broken_fails_its_slices_only(
    hostile_stripe_box: SandboxProcess, make_ledger: Any
) -> None:
    broken = {"path": "/v1/disputes", "body": "html", "times": 10**6}
    sandbox_call(hostile_stripe_box.url, "config", {"corrupt_pages": [broken]})
    ledger = make_ledger()

    async def run() -> Any:
        async with stripe_client(hostile_stripe_box.url) as stripe:
            first = await backfill(stripe, ledger)
            sandbox_call(hostile_stripe_box.url, "config", {"corrupt_pages": []})
            return first, await backfill(stripe, ledger, run=first.run)

    try:
        first, resumed = asyncio.run(run())
    finally:
        sandbox_call(hostile_stripe_box.url, "config", {"corrupt_pages": []})
    assert {failed.resource for failed in first.failed} == {"disputes"}
    assert "HTTP 200 but no JSON object (content-type text/html" in first.failed[0].error
    assert first.resources["charges"].objects == len(account()["charges"])
    summary = RunSummary("backfill-history")
    summary.add_backfill(first)
    assert summary.rejected["Stripe disputes: unreadable slice"] == len(first.failed)
    assert resumed.complete
    assert resumed.resources["disputes"].objects == len(account()["disputes"])


def test_an_events_page_that_stays_broken_ends_the_sync_as_a_reject(
    hostile_stripe_box: SandboxProcess, make_ledger: Any
) -> None:
    # The first /v1/events request reads Stripe's clock; the listing after it stays broken.
    broken = {"path": "/v1/events", "body": "malformed_json", "times": 10**6, "after": 1}
    sandbox_call(hostile_stripe_box.url, "config", {"corrupt_pages": [broken]})
    ledger = make_ledger()
    since = NOW - 29 * 86_400

    async def run() -> Any:
        async with stripe_client(hostile_stripe_box.url) as stripe:
            first = await sync_events(stripe, ledger, since=since)
            sandbox_call(hostile_stripe_box.url, "config", {"corrupt_pages": []})
            return first, await sync_events(stripe, ledger, since=since)

    try:
        first, second = asyncio.run(run())
    finally:
        sandbox_call(hostile_stripe_box.url, "config", {"corrupt_pages": []})
    assert first.rejected == {UNREADABLE_PAGE: 1}
    assert first.applied == 0
    # A first sync records its start before reading, and does not move past the broken page.
    assert first.cursor_after == since
    assert "were not applied, the cursor stays" in first.messages[0]
    summary = RunSummary("sync-stripe-events")
    summary.add_sync(first)
    assert summary.reject_rate == 1.0
    refused = [
        e
        for case in CASES
        for e in case.events
        if case.expect[f"event:{e['id']}"].startswith("reject:")
    ]
    assert second.applied == len(account()["events"]) - len(refused)
