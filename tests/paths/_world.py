"""A user's world for the documented command sequences: both sandboxes, a ledger, and the
`stripe-cio` console script run exactly as a user types it."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from stripe_cio import LedgerSettings
from stripe_cio.ledger import Ledger
from stripe_cio.sandbox import SANDBOX_STRIPE_KEY, SandboxProcess, sandbox_environment

# The sandbox account's present: fixed, so that two runs of a test see the same account.
SANDBOX_NOW = "2026-06-01T00:00:00Z"
DAY = 86_400
STRIPE_CIO = str(Path(sys.executable).with_name("stripe-cio"))


@dataclass
class World:
    """One user's setup: a Stripe account, a Customer.io workspace, a ledger, the CLI."""

    stripe: SandboxProcess
    cio: SandboxProcess
    ledger_url: str
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        env = sandbox_environment(os.environ, self.stripe.url, self.cio.url, self.ledger_url)
        env.update(STRIPE_REQUESTS_PER_SECOND="500", COLUMNS="200")
        env.update(self.extra_env)
        return env

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`stripe-cio ARGS...` as a user types it, with the world's environment."""
        return subprocess.run(
            [STRIPE_CIO, *args], env=self.env, capture_output=True, text=True, timeout=600
        )

    def ledger(self) -> Ledger:
        return Ledger.open(LedgerSettings.load({"database_url": self.ledger_url}))

    # --- the Stripe sandbox -----------------------------------------------------------------

    def _stripe(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.stripe.url,
            headers={"Authorization": f"Bearer {SANDBOX_STRIPE_KEY}"},
            timeout=60,
        )

    def stripe_now(self) -> int:
        with self._stripe() as http:
            return int(http.get("/_sandbox/clock").raise_for_status().json()["now"])

    def advance(self, seconds: int) -> None:
        with self._stripe() as http:
            http.post("/_sandbox/advance", json={"seconds": seconds}).raise_for_status()

    def stripe_config(self, **values: Any) -> None:
        with self._stripe() as http:
            http.post("/_sandbox/config", json=values).raise_for_status()

    def stripe_events(self, since: int) -> list[dict[str, Any]]:
        """Every event the Stripe sandbox lists created at or after `since`."""
        events: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 100, "created[gte]": since}
        with self._stripe() as http:
            while True:
                page = http.get("/v1/events", params=params).raise_for_status().json()
                events.extend(page["data"])
                if not page["has_more"]:
                    return events
                params["starting_after"] = page["data"][-1]["id"]

    # --- the Customer.io sandbox ------------------------------------------------------------

    def _cio(self) -> httpx.Client:
        return httpx.Client(base_url=self.cio.url, timeout=60)

    def people(self) -> dict[str, dict[str, Any]]:
        with self._cio() as http:
            people = http.get("/_sandbox/people").raise_for_status().json()
        return {p["identifiers"]["email"]: p["attributes"] for p in people}

    def cio_events(self) -> list[dict[str, Any]]:
        with self._cio() as http:
            events: list[dict[str, Any]] = http.get("/_sandbox/events").raise_for_status().json()
        return [event for event in events if event["type"] == "event"]

    def cio_requests(self) -> int:
        with self._cio() as http:
            return int(http.get("/_sandbox/requests").raise_for_status().json()["total"])

    def reset_cio(self) -> None:
        with self._cio() as http:
            http.post("/_sandbox/reset").raise_for_status()


def stripe_sandbox(customers: int = 80, months: int = 4) -> SandboxProcess:
    """A Stripe sandbox whose customers mostly predate Stripe's 30-day event window."""
    return SandboxProcess(
        "stripe",
        "--customers", str(customers), "--months", str(months), "--rps", "0",
        "--now", SANDBOX_NOW,
    )  # fmt: skip
