"""`stripe-cio dead-letters list|replay` as an operator runs them, against the sandbox."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx

from stripe_cio import CustomerIOSettings, LedgerSettings
from stripe_cio.cio_api import CustomerIOClient
from stripe_cio.deliver import DeliveryStore, PersonUpdate, deliver
from stripe_cio.ledger import Ledger
from stripe_cio.sandbox import SANDBOX_CIO_API_KEY, SANDBOX_CIO_SITE_ID, SandboxProcess


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "CUSTOMERIO_"))}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env={**base, "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def table_text(output: str) -> str:
    """The words of a printed table, its borders and padding dropped."""
    return " ".join(output.replace("│", " ").split())


def push(settings: CustomerIOSettings, database: Path, *people: PersonUpdate) -> None:
    async def go() -> None:
        async with CustomerIOClient(settings) as client:
            await deliver(client, store, people=people)

    with Ledger.open(LedgerSettings(database_url=f"sqlite:///{database}")) as ledger:
        store = DeliveryStore.of(ledger)
        asyncio.run(go())


def test_list_shows_refused_items_and_replay_resends_them_once_fixed(
    cio_box: SandboxProcess, sandbox: httpx.Client, settings: CustomerIOSettings, tmp_path: Path
) -> None:
    database = tmp_path / "ledger.db"
    env = {
        "STRIPE_CIO_DATABASE_URL": f"sqlite:///{database}",
        "CUSTOMERIO_SITE_ID": SANDBOX_CIO_SITE_ID,
        "CUSTOMERIO_API_KEY": SANDBOX_CIO_API_KEY,
        "CUSTOMERIO_TRACK_URL": cio_box.url,
    }
    push(settings, database, PersonUpdate({"id": "a"}, {"email": "shared@example.com"}))
    push(settings, database, PersonUpdate({"id": "b"}, {"email": "shared@example.com"}))

    listed = cli("dead-letters", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "1 open dead letters (conflict: 1)" in listed.stdout
    assert "id:b" in listed.stdout

    # Still refused: the run's summary counts it, then the run fails on its reject rate.
    refused = cli("dead-letters", "replay", env=env)
    assert refused.returncode == 1
    assert "rejected: conflict 1" in table_text(refused.stdout)
    assert refused.stderr.strip().splitlines() == [
        "run failed: replay-dead-letters: reject rate 100.0% (1 rejected of 1 records) exceeds "
        "the threshold of 5.0%; top reasons: conflict (1); see the rejects and dead letters, fix "
        "the cause, or raise STRIPE_CIO_MAX_REJECT_RATE"
    ]
    # Accepted as it is, the same replay completes; the letter stays open.
    accepted = cli("dead-letters", "replay", "--max-reject-rate", "1", env=env)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "Still refused: see `stripe-cio dead-letters list`." in accepted.stdout
    assert "1 open dead letters (conflict: 1)" in cli("dead-letters", "list", env=env).stdout

    push(settings, database, PersonUpdate({"id": "a"}, {"email": "a@example.com"}))
    replayed = cli("dead-letters", "replay", env=env)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "dead letters resolved 1" in table_text(replayed.stdout)
    emails = {
        p["identifiers"]["id"]: p["identifiers"]["email"]
        for p in sandbox.get("/_sandbox/people").json()
    }
    assert emails["b"] == "shared@example.com"
    history = cli("dead-letters", "list", "--all", env=env).stdout
    assert "0 open dead letters" in history
    assert "delivered" in history
