"""A client-side rate limiter shared by every request of one client, so we never earn a 429.

Requests reserve evenly spaced send times (1/rate apart); a burst of up to `burst` requests may
go at once after a quiet spell. Reservations are made without awaiting, so concurrent tasks of
one event loop share the limiter fairly without a lock. A 429 from the server pushes every
reservation back (`pause`), since the server's bucket is shared by all our tasks too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class AsyncRateLimiter:
    """Spaces acquisitions `1/rate` seconds apart, allowing `burst` at once after idling."""

    def __init__(
        self,
        rate: float,
        burst: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = rate
        self.burst = burst
        self._interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next = clock()  # the earliest send time not yet reserved
        self.waited = 0.0  # total seconds spent waiting, for run statistics

    def reserve(self) -> float:
        """Reserve the next send slot and return how long to wait for it (0 when it is now)."""
        now = self._clock()
        # After an idle spell, up to `burst` slots may lie in the past: they go at once.
        earliest = now - (self.burst - 1) * self._interval
        slot = max(self._next, earliest)
        self._next = slot + self._interval
        return max(0.0, slot - now)

    async def acquire(self) -> None:
        """Wait until this caller may send one request."""
        delay = self.reserve()
        if delay > 0:
            self.waited += delay
            await self._sleep(delay)

    def pause(self, seconds: float) -> None:
        """Let nobody send for `seconds` from now (the server said we were too fast)."""
        self._next = max(self._next, self._clock() + seconds)
