"""Stripe time: the moment a backfill starts (T0) and the reference for the 30-day window.

We take the newest event's `created`, Stripe's own clock, rather than our machine's clock or the
response `Date` header: it needs no clock agreement between machines, it can never be later than
Stripe's present (a T0 in Stripe's future would label rows newer than events still to come, and
the ledger keeps a row's newest observation, so those events would be ignored), and against the
sandbox it follows the sandbox clock, which `POST /_sandbox/advance` moves while the HTTP server's
`Date` header keeps showing the host's wall time. An account without events in the last 30 days
falls back to the local clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .pages import PageSource

# Source: https://docs.stripe.com/api/events ("we only guarantee access to events through the
# Retrieve Event API for 30 days")
EVENT_RETENTION_SECONDS = 30 * 24 * 3600


async def stripe_now(client: PageSource, fallback: Callable[[], float] = time.time) -> int:
    """The newest event's `created`, else `fallback()` (the local clock) when there is none."""
    body = await client.get("/v1/events", {"limit": 1})
    data = body.get("data")
    if isinstance(data, list) and data and isinstance(data[0], dict):
        created = data[0].get("created")
        if isinstance(created, int):
            return created
    return int(fallback())
