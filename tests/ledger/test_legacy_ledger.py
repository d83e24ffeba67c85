"""A ledger an earlier stripe-cio wrote opens with this code, migrates forward, keeps every row,
and the next `sync` and `enrich` send Customer.io nothing it was sent before.

The fixture, `tests/data/ledger/ledger-v5.sqlite`, was written by the code of schema version 5
(`tests/data/ledger/make_fixture.py`, whose docstring says how and what it holds: a backfill with
enrich, a sync after the Stripe clock moved, two open dead letters); `ledger-v5.json` says which
Stripe sandbox it read and how many rows each table holds.

- SQLite: a copy of the file is opened with `Ledger.open`.
- PostgreSQL: the same ledger is rebuilt on a new database, every table's rows copied from the
  file, then opened with `Ledger.open`. It has to be built at the fixture's version, so that
  opening it runs the migrations above that version as they run on a real PostgreSQL ledger of
  that version. While the code's latest version is the fixture's, the CLI creates exactly
  that schema (the code's own PostgreSQL tables, types and sequences) and the rows are copied
  into it. Once a later migration exists, `Ledger.open` would create the later schema, so the
  tables are instead created from the fixture's own schema, reflected from the SQLite file
  (same tables, columns, primary keys and indexes, in PostgreSQL's types for them), and
  `Ledger.open` then runs `MIGRATIONS[N + 1 ..]` on it like on any ledger of version N.

Then each backend is checked the same way: the schema is at the latest version; every row of
every table of the fixture is still there (compared column by column over the fixture's
columns, so columns added later do not matter; `schema_version` may only gain rows). Then the
Stripe sandbox the fixture read is started again with the same options and the same clock
advance, beside a new, empty Customer.io sandbox, and `stripe-cio sync` and `stripe-cio enrich`
run on the migrated ledger. The sync finds nothing new and sends nothing. The enrich compares
every person with the snapshot of what Customer.io last accepted and must send exactly what the
generator saw the same two runs send with the code that wrote the fixture
(`next_sync_and_enrich_send` in the manifest): one change the ledger learnt and no run pushed
yet (a price's nickname, read with a customer's history by the sync, changes the plan of a
person none of the sync's events touched), with only the changed attribute, and no event.
Nothing sent before is sent again: no other person, no event of `cio_delivered_events`. Stripe's
clock in the fixture stands over a year in the past, so no windowed attribute depends on the day
the test runs. The open dead letters (a person Customer.io refused, who is not in Stripe, and an
event refused before sending) are resent only by `dead-letters replay`, which this test does not
run: they stay as they are, and so does every snapshot but those of the persons just sent.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, Integer, MetaData, Table, create_engine, select, text

from stripe_cio import LedgerSettings
from stripe_cio.ledger import Ledger
from stripe_cio.ledger.normalise import email_key
from stripe_cio.sandbox import SANDBOX_STRIPE_KEY, SandboxProcess, sandbox_environment

DATA = Path(__file__).resolve().parents[1] / "data" / "ledger"
FIXTURE_VERSION = 5
FIXTURE = DATA / f"ledger-v{FIXTURE_VERSION}.sqlite"
MANIFEST: dict[str, Any] = json.loads((DATA / f"ledger-v{FIXTURE_VERSION}.json").read_text())
STRIPE_CIO = str(Path(sys.executable).with_name("stripe-cio"))
# Tables whose rows the delivery writes: a run that sends nothing leaves them as they are.
DELIVERY_TABLES = ("cio_person_snapshots", "cio_delivered_events", "dead_letters")

Rows = dict[str, Counter[tuple[Any, ...]]]


def reflect(engine: Engine) -> MetaData:
    metadata = MetaData()
    metadata.reflect(engine)
    return metadata


def fixture_columns() -> dict[str, list[str]]:
    """The fixture's tables and their columns."""
    engine = create_engine(f"sqlite:///file:{FIXTURE}?mode=ro&uri=true")
    try:
        return {name: list(table.columns.keys()) for name, table in reflect(engine).tables.items()}
    finally:
        engine.dispose()


def rows_of(engine: Engine, columns: dict[str, list[str]]) -> Rows:
    """Every row of each table, over the given columns, as typed values (booleans as bool)."""
    metadata = reflect(engine)
    rows: Rows = {}
    with engine.connect() as conn:
        for name, names in columns.items():
            table = metadata.tables[name]
            query = select(*(table.c[column] for column in names))
            rows[name] = Counter(tuple(row) for row in conn.execute(query))
    return rows


@pytest.fixture(scope="module")
def fixture_rows() -> Rows:
    """The fixture's rows, read from a copy (opening the file itself could leave a journal)."""
    engine = create_engine(f"sqlite:///file:{FIXTURE}?mode=ro&uri=true")
    try:
        return rows_of(engine, fixture_columns())
    finally:
        engine.dispose()


def sqlite_copy(url: str) -> None:
    shutil.copyfile(FIXTURE, url.removeprefix("sqlite:///"))


def postgresql_copy(url: str, work: Path, latest: int) -> None:
    """The fixture's ledger on an empty PostgreSQL database, at the fixture's schema version."""
    source = create_engine(f"sqlite:///file:{FIXTURE}?mode=ro&uri=true")
    target = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        tables = reflect(source)
        if latest == FIXTURE_VERSION:
            # The code's own schema, created as the CLI creates it (every package that adds a
            # table to the ledger imported).
            cli(
                {**os.environ, "STRIPE_CIO_DATABASE_URL": url, "STRIPE_CIO_DATA_DIR": str(work)},
                "dead-letters",
                "list",
            )
        else:
            tables.create_all(target)  # the fixture's schema, in PostgreSQL's types
        created = reflect(target)
        assert set(tables.tables) <= set(created.tables), "a table of the fixture was not created"
        with source.connect() as read, target.begin() as write:
            for table in tables.sorted_tables:
                into = created.tables[table.name]
                write.execute(into.delete())
                rows = [dict(row._mapping) for row in read.execute(select(table))]
                if rows:
                    write.execute(into.insert(), rows)
                _advance_sequences(write, into)
    finally:
        source.dispose()
        target.dispose()


def _advance_sequences(conn: Any, table: Table) -> None:
    """Past the copied ids, as if the rows had been inserted without them."""
    for column in table.primary_key.columns:
        if not isinstance(column.type, Integer):
            continue
        sequence = conn.execute(
            text("SELECT pg_get_serial_sequence(:table, :column)"),
            {"table": table.name, "column": column.name},
        ).scalar()
        if sequence is not None:
            conn.execute(
                text(
                    f'SELECT setval(:sequence, max("{column.name}")) FROM "{table.name}" '  # noqa: S608
                    f'HAVING max("{column.name}") IS NOT NULL'
                ),
                {"sequence": sequence},
            )


@pytest.fixture(scope="module")
def latest(tmp_path_factory: pytest.TempPathFactory) -> int:
    """The schema version this code writes: a new ledger's."""
    fresh = tmp_path_factory.mktemp("fresh") / "ledger.db"
    with Ledger.open(LedgerSettings(database_url=f"sqlite:///{fresh}")) as ledger:
        return ledger.schema_version


@pytest.fixture
def migrated(ledger_url: str, tmp_path: Path, latest: int) -> str:
    """The fixture's ledger on the backend, not opened by this code yet."""
    if ledger_url.startswith("sqlite"):
        sqlite_copy(ledger_url)
    else:
        postgresql_copy(ledger_url, tmp_path, latest)
    return ledger_url


def engine_of(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    return create_engine(url)


def current_rows(url: str, columns: dict[str, list[str]]) -> Rows:
    engine = engine_of(url)
    try:
        return rows_of(engine, columns)
    finally:
        engine.dispose()


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([STRIPE_CIO, *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"stripe-cio {' '.join(args)}:\n{done.stdout}{done.stderr}"
    return done.stdout


def strip(person: dict[str, Any]) -> dict[str, Any]:
    """A Customer.io sandbox person without the cio_id the sandbox assigned."""
    identifiers = {
        kind: value
        for kind, value in person["identifiers"].items()
        if kind != "cio_id" and value is not None
    }
    return {"identifiers": identifiers, "attributes": person["attributes"]}


def person_key(person: dict[str, Any]) -> str:
    """The ledger's key of a person sent with one identifier (emails folded to lower case)."""
    [(kind, value)] = person["identifiers"].items()
    return f"{kind}:{value.lower() if kind == 'email' else value}"


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def summary_count(output: str, label: str) -> int:
    """A count from the run's summary table; 0 when the table does not list it."""
    found = re.search(rf"{re.escape(label)}\s*│\s*([\d,]+)", output)
    return int(found.group(1).replace(",", "")) if found else 0


def test_the_manifest_describes_the_fixture(fixture_rows: Rows) -> None:
    counts = {name: sum(rows.values()) for name, rows in fixture_rows.items()}
    assert counts == MANIFEST["row_counts"]
    assert MANIFEST["schema_version"] == FIXTURE_VERSION
    # The tables that matter hold something: the guard would prove little otherwise.
    for name, count in counts.items():
        assert count or name == "rejects", name
    letters = fixture_rows["dead_letters"]
    assert len(letters) == len(MANIFEST["open_dead_letters"]) == 2
    assert not FIXTURE.with_name(FIXTURE.name + "-wal").exists()


def test_a_legacy_ledger_migrates_keeps_every_row_and_sends_nothing_again(
    migrated: str, fixture_rows: Rows, latest: int
) -> None:
    columns = fixture_columns()

    with Ledger.open(LedgerSettings(database_url=migrated)) as ledger:
        assert ledger.schema_version == latest
    after = current_rows(migrated, columns)
    for name, rows in fixture_rows.items():
        if name == "schema_version":
            assert not rows - after[name], "the schema versions the ledger went through"
        else:
            assert after[name] == rows, f"{name}: rows lost, changed or added by opening"
    versions = [version for version, *_ in after["schema_version"]]
    assert max(versions) == latest
    # Migration 6 keyed the emails already there, so a sync finds a person's rows by them.
    with Ledger.open(LedgerSettings(database_url=migrated)) as ledger, ledger.engine.connect() as c:
        customers = c.execute(text("SELECT email, email_key FROM customers")).all()
        guests = c.execute(
            text("SELECT customer, billing_email, guest_email_key FROM charges")
        ).all()
    assert customers
    assert all(key == email_key(email) for email, key in customers)
    assert any(key for *_, key in guests)
    assert all(key == (email_key(email) if owner is None else None) for owner, email, key in guests)

    sandbox = MANIFEST["stripe_sandbox"]
    with (
        SandboxProcess("stripe", *sandbox["args"]) as stripe,
        SandboxProcess("customerio", "--rps", "0") as cio,
    ):
        httpx.post(
            f"{stripe.url}/_sandbox/advance",
            json={"seconds": MANIFEST["advance_seconds"]},
            headers={"Authorization": f"Bearer {SANDBOX_STRIPE_KEY}"},
            timeout=120,
        ).raise_for_status()
        env = sandbox_environment(os.environ, stripe.url, cio.url, migrated)
        env.update(STRIPE_REQUESTS_PER_SECOND="500", COLUMNS="200")

        synced = cli(env, "sync")
        enriched = cli(env, "enrich")

        with httpx.Client(base_url=cio.url, timeout=60) as http:
            requests = http.get("/_sandbox/requests").raise_for_status().json()
            people = http.get("/_sandbox/people").raise_for_status().json()
            events = http.get("/_sandbox/events").raise_for_status().json()

    # The sync finds nothing new; it pushes and sends nothing.
    assert summary_count(synced, "Stripe: events applied") == 0, synced
    assert summary_count(synced, "persons changed (sent)") == 0, synced
    assert summary_count(synced, "events accepted by Customer.io") == 0, synced
    # The enrich compares every person with the snapshot of what Customer.io accepted and sends
    # only the changes no run sent yet, which the fixture's generator recorded.
    expected = MANIFEST["next_sync_and_enrich_send"]
    assert summary_count(enriched, "persons seen") > len(expected["people"]), enriched
    assert summary_count(enriched, "persons changed (sent)") == len(expected["people"]), enriched
    assert summary_count(enriched, "events accepted by Customer.io") == 0, enriched
    # Each person with only what changed: a full profile sent again would show every attribute.
    assert sorted((strip(person) for person in people), key=canonical) == expected["people"]
    assert events == expected["events"] == [], "no event is sent twice"
    assert requests["duplicate_event_ids"] == 0, requests
    # The dead letters wait for `dead-letters replay`; what was delivered stays recorded; only
    # the snapshots of the persons just sent were replaced.
    delivery = current_rows(migrated, {name: columns[name] for name in DELIVERY_TABLES})
    assert delivery["dead_letters"] == fixture_rows["dead_letters"]
    assert delivery["cio_delivered_events"] == fixture_rows["cio_delivered_events"]
    sent = {person_key(person) for person in expected["people"]}

    def kept(rows: Counter[tuple[Any, ...]]) -> Counter[tuple[Any, ...]]:
        return Counter({row: n for row, n in rows.items() if row[0] not in sent})

    assert kept(delivery["cio_person_snapshots"]) == kept(fixture_rows["cio_person_snapshots"])
    keys = {row[0] for row in delivery["cio_person_snapshots"]}
    assert keys == {row[0] for row in fixture_rows["cio_person_snapshots"]} | sent
