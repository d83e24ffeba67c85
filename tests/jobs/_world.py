"""One job test's world: a fresh ledger, an emptied Customer.io workspace, the Stripe sandbox's
account, and what a test reads back from them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from stripe_cio import CustomerIOSettings, LedgerSettings, StripeSettings
from stripe_cio.attributes import attribute_dicts, compute_attributes, load_frames
from stripe_cio.jobs import Connections
from stripe_cio.ledger import Ledger
from stripe_cio.sandbox import (
    SANDBOX_CIO_API_KEY,
    SANDBOX_CIO_SITE_ID,
    SANDBOX_STRIPE_KEY,
    SandboxProcess,
)
from tests._sandbox import NO_FAULTS

__all__ = ["World", "world_of"]


@dataclass
class World:
    """One test's world: a fresh ledger, an emptied Customer.io workspace, the Stripe account."""

    ledger_url: str
    stripe_url: str
    cio_url: str
    stripe: httpx.Client
    cio: httpx.Client

    def connections(
        self,
        *,
        stripe: bool = True,
        customerio: bool = True,
        stripe_key: str = SANDBOX_STRIPE_KEY,
        cio_key: str = SANDBOX_CIO_API_KEY,
    ) -> Connections:
        """What a job is given: the ledger, and the sandboxes it needs (None: not given)."""
        return Connections(
            ledger=LedgerSettings(database_url=self.ledger_url),
            stripe=StripeSettings(
                api_key=stripe_key, api_base=self.stripe_url, requests_per_second=500
            )
            if stripe
            else None,
            customerio=CustomerIOSettings.load(
                {"site_id": SANDBOX_CIO_SITE_ID, "api_key": cio_key, "track_url": self.cio_url}
            )
            if customerio
            else None,
        )

    def ledger(self) -> Ledger:
        return Ledger.open(LedgerSettings(database_url=self.ledger_url))

    def stripe_now(self) -> int:
        now: int = self.stripe.get("/_sandbox/clock").raise_for_status().json()["now"]
        return now

    def newest_event_created(self) -> int:
        """Stripe's present as the jobs take it: its newest event's `created`."""
        answer = self.stripe.get(
            "/v1/events", params={"limit": 1}, auth=(SANDBOX_STRIPE_KEY, "")
        ).raise_for_status()
        created: int = answer.json()["data"][0]["created"]
        return created

    def people(self) -> dict[str, dict[str, Any]]:
        """What Customer.io holds, by the identifier the persons were sent with."""
        people = self.cio.get("/_sandbox/people").raise_for_status().json()
        return {
            p["identifiers"].get("email") or p["identifiers"]["id"]: p["attributes"] for p in people
        }

    def identities(self) -> list[dict[str, str]]:
        """The identifiers of every person Customer.io holds (without its own cio_id)."""
        people = self.cio.get("/_sandbox/people").raise_for_status().json()
        return [{k: v for k, v in p["identifiers"].items() if k != "cio_id" and v} for p in people]

    def events(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.cio.get("/_sandbox/events").raise_for_status().json()
        return [event for event in events if event["type"] == "event"]

    def requests(self) -> int:
        """Requests Customer.io has answered since the test began."""
        total: int = self.cio.get("/_sandbox/requests").raise_for_status().json()["total"]
        return total

    def batch_requests(self) -> int:
        requests = self.cio.get("/_sandbox/requests").raise_for_status().json()
        return sum(requests["by_endpoint"].get("/api/v2/batch", {}).values())

    def expected_attributes(self, as_of: int) -> dict[str, dict[str, Any]]:
        """What the attribute engine computes from the ledger, as JSON carries it."""
        with self.ledger() as ledger:
            result = compute_attributes(load_frames(ledger.engine), as_of)
        return {
            person: orjson.loads(orjson.dumps(values))
            for person, values in attribute_dicts(result.attributes)
        }


@contextmanager
def world_of(
    stripe_box: SandboxProcess, cio_box: SandboxProcess, tmp_path: Path
) -> Iterator[World]:
    """A fresh world over these sandboxes: a new ledger, an emptied Customer.io workspace."""
    with (
        httpx.Client(base_url=stripe_box.url, timeout=30) as stripe,
        httpx.Client(base_url=cio_box.url, timeout=30) as cio,
    ):
        cio.post("/_sandbox/reset").raise_for_status()
        cio.post("/_sandbox/config", json={**NO_FAULTS, "region": "us"}).raise_for_status()
        yield World(f"sqlite:///{tmp_path / 'ledger.db'}", stripe_box.url, cio_box.url, stripe, cio)
