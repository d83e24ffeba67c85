"""Write `ledger-v5.sqlite` and `ledger-v5.json`: a ledger as this code writes it, kept so that
later code can be checked to open it, migrate it forward and lose nothing
(`tests/ledger/test_legacy_ledger.py`).

Run by hand, never by the suite, from the checkout's root, with the code whose ledger is to be
kept (the schema version is in the file names; a later version gets new files beside these):

    .venv/bin/python tests/data/ledger/make_fixture.py

What it does, deterministically (a fixed seed, account size and Stripe clock):

1. starts the Stripe sandbox (`--seed`, `--customers`, `--months`, `--now` below) and an empty
   Customer.io sandbox;
2. `stripe-cio backfill --since NOW-SINCE_DAYS` (enrich included): the objects created since
   then; older customers are outside the history horizon, so their persons are held back;
3. moves the Stripe clock forward ADVANCE_SECONDS and runs `stripe-cio sync`: the new events,
   the histories of the older customers they touch (`customer_histories`), the touched persons'
   attributes and their lifecycle events (`lifecycle_events`, `cio_delivered_events`);
4. leaves two open dead letters through the delivery API, as a run records them: a person
   Customer.io refuses (207 `conflict`: an email another identified person holds) and an event
   refused before sending (an over-long name, for one of the ledger's real Stripe events);
5. checkpoints the WAL into the file, switches it to a rollback journal, VACUUMs it into 4 kB
   pages (the ledger's 16 kB ones would double its size) and copies it here, with a manifest:
   the sandbox options (to replay the same Stripe account), the open dead letters, the people
   sent from outside Stripe, and every table's row count.

Stripe's clock stands more than a year before today, so that every windowed attribute (the
last 30, 90 and 365 days of purchases, failed payments of 90 days) is empty whatever the wall
clock says when the test runs: the attributes computed then equal those computed now.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from stripe_cio import CustomerIOSettings, LedgerSettings
from stripe_cio.cio_api import CustomerIOClient
from stripe_cio.deliver import DeliveryStore, EventItem, PersonUpdate, deliver
from stripe_cio.ledger import Ledger
from stripe_cio.ledger.schema import latest_version
from stripe_cio.sandbox import (
    SANDBOX_CIO_API_KEY,
    SANDBOX_CIO_SITE_ID,
    SandboxProcess,
    sandbox_environment,
)

HERE = Path(__file__).resolve().parent
SEED = 17
CUSTOMERS = 40
MONTHS = 3
NOW = "2025-06-01T00:00:00Z"  # more than a year before any run of the test: windows are empty
SINCE_DAYS = 45  # the backfill reads the last 45 days; older customers come from the sync
ADVANCE_SECONDS = 3 * 86_400
# The person Customer.io refuses: the holder is accepted, the claimant wants the holder's email.
HOLDER = PersonUpdate({"id": "legacy-holder"}, {"email": "held@example.com", "plan": "a"})
CLAIMANT = PersonUpdate({"id": "legacy-claimant"}, {"email": "held@example.com", "plan": "b"})
OVERLONG_EVENT_NAME = "stripe_" + "x" * 120  # over Customer.io's 100 bytes: refused pre-send


def stripe_args() -> list[str]:
    """The Stripe sandbox's options; the test starts it with the same ones."""
    return [
        "--seed", str(SEED), "--customers", str(CUSTOMERS), "--months", str(MONTHS),
        "--rps", "0", "--now", NOW,
    ]  # fmt: skip


def cli(env: dict[str, str], *args: str) -> str:
    """`stripe-cio ARGS...`; its output, or exit naming what failed."""
    command = [str(Path(sys.executable).with_name("stripe-cio")), *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        sys.exit(
            f"stripe-cio {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
        )
    return done.stdout


def leave_dead_letters(ledger_url: str, cio_url: str) -> None:
    """A person Customer.io refuses and an event refused before sending, recorded by delivery."""
    settings = CustomerIOSettings.load(
        {"site_id": SANDBOX_CIO_SITE_ID, "api_key": SANDBOX_CIO_API_KEY, "track_url": cio_url}
    )
    with Ledger.open(LedgerSettings(database_url=ledger_url)) as ledger:
        with ledger.engine.connect() as conn:
            event_id, created, email = conn.exec_driver_sql(
                "SELECT e.id, e.created, c.email FROM processed_events e "
                "JOIN customers c ON c.id = e.customer "
                "WHERE c.email IS NOT NULL ORDER BY e.created DESC, e.id LIMIT 1"
            ).one()
        event = EventItem({"email": email}, OVERLONG_EVENT_NAME, event_id, created, {})
        store = DeliveryStore.of(ledger)

        async def send() -> None:
            async with CustomerIOClient(settings) as client:
                accepted = await deliver(client, store, people=[HOLDER])
                refused = await deliver(client, store, people=[CLAIMANT], events=[event])
            assert accepted.persons_delivered == 1, accepted
            assert refused.rejected == {"conflict": 1, "event_name_too_long": 1}, refused.rejected

        asyncio.run(send())
        assert len(store.dead_letters()) == 2


def environment(stripe_url: str, cio_url: str, ledger_url: str, work: str) -> dict[str, str]:
    env = sandbox_environment(os.environ, stripe_url, cio_url, ledger_url)
    env.update(STRIPE_REQUESTS_PER_SECOND="500", COLUMNS="200", STRIPE_CIO_DATA_DIR=work)
    return env


def people_sent(cio_url: str) -> list[dict[str, Any]]:
    """The people a Customer.io sandbox holds, without the ids it assigned, sorted."""
    people = httpx.get(f"{cio_url}/_sandbox/people", timeout=60).raise_for_status().json()
    return sorted(
        (
            {
                "identifiers": {
                    kind: value
                    for kind, value in person["identifiers"].items()
                    if kind != "cio_id" and value is not None
                },
                "attributes": person["attributes"],
            }
            for person in people
        ),
        key=lambda person: json.dumps(person, sort_keys=True),
    )


def next_sends(ledger: Path, stripe_url: str, work: str) -> dict[str, Any]:
    """What `sync` then `enrich` on a copy of the ledger send to an empty Customer.io, as the
    test runs them: the changes no run has sent yet (none of what was sent before)."""
    copy = Path(work) / "next.db"
    shutil.copyfile(ledger, copy)
    with SandboxProcess("customerio", "--rps", "0") as cio:
        env = environment(stripe_url, cio.url, f"sqlite:///{copy}", work)
        cli(env, "sync")
        cli(env, "enrich")
        events = httpx.get(f"{cio.url}/_sandbox/events", timeout=60).raise_for_status().json()
        return {"people": people_sent(cio.url), "events": events}


def row_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        names = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return {
            name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]  # noqa: S608
            for name in names
        }


def single_file(source: Path, target: Path) -> None:
    """`source`'s WAL checkpointed into it, journal DELETE, vacuumed, copied to `target`."""
    conn = sqlite3.connect(source)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
        # The ledger's 16 kB pages give each of its tables and indexes 16 kB at least; 4 kB
        # pages keep the file small. The page size is the file's layout, not its content.
        conn.execute("PRAGMA page_size=4096")
        conn.execute("VACUUM")
    finally:
        conn.close()
    for suffix in ("-wal", "-shm"):
        if Path(f"{source}{suffix}").exists():
            sys.exit(f"{source}{suffix} is still there after the checkpoint")
    shutil.copyfile(source, target)


def main() -> None:
    version = latest_version()
    now = datetime.fromisoformat(NOW.replace("Z", "+00:00"))
    since = now - timedelta(days=SINCE_DAYS)
    with tempfile.TemporaryDirectory(prefix="stripe-cio-legacy-ledger-") as work:
        db = Path(work) / "ledger.db"
        ledger_url = f"sqlite:///{db}"
        target = HERE / f"ledger-v{version}.sqlite"
        with SandboxProcess("stripe", *stripe_args()) as stripe:
            with SandboxProcess("customerio", "--rps", "0") as cio:
                env = environment(stripe.url, cio.url, ledger_url, work)
                print(cli(env, "backfill", "--since", since.strftime("%Y-%m-%dT%H:%M:%SZ")))
                httpx.post(
                    f"{stripe.url}/_sandbox/advance",
                    json={"seconds": ADVANCE_SECONDS},
                    timeout=120,
                ).raise_for_status()
                print(cli(env, "sync"))
                leave_dead_letters(ledger_url, cio.url)
                cio_people = len(httpx.get(f"{cio.url}/_sandbox/people", timeout=60).json())
            single_file(db, target)
            sent_next = next_sends(target, stripe.url, work)
    counts = row_counts(target)
    with sqlite3.connect(target) as conn:
        open_letters = [
            {"kind": kind, "person_key": person, "stage": stage, "reason": reason}
            for kind, person, stage, reason in conn.execute(
                "SELECT kind, person_key, stage, reason FROM dead_letters "
                "WHERE resolved_at IS NULL ORDER BY id"
            )
        ]
    empty = sorted(name for name, count in counts.items() if not count)
    manifest: dict[str, Any] = {
        "schema_version": version,
        "written_by": "tests/data/ledger/make_fixture.py",
        "written_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "stripe_sandbox": {
            "seed": SEED,
            "customers": CUSTOMERS,
            "months": MONTHS,
            "now": NOW,
            "args": stripe_args(),
        },
        "backfill_since": since.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "advance_seconds": ADVANCE_SECONDS,
        # Persons the generator sent through the delivery API, who are not in Stripe.
        "people_outside_stripe": [
            f"id:{HOLDER.identifiers['id']}",
            f"id:{CLAIMANT.identifiers['id']}",
        ],
        "open_dead_letters": open_letters,
        "customerio_people": cio_people,
        # `sync` then `enrich` on this ledger, with this Stripe account, send exactly this to an
        # empty Customer.io: changes the ledger learnt that no run has pushed yet (a price's
        # nickname read with a customer's history, which the sync pushes only for the persons
        # its events touched), never anything sent before.
        "next_sync_and_enrich_send": sent_next,
        "row_counts": counts,
    }
    (HERE / f"ledger-v{version}.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {target} ({target.stat().st_size:,} bytes); empty tables: {empty}")


if __name__ == "__main__":
    main()
