"""The fair baselines' rate limiter: threads sending no faster than our client may send.

A baseline that ran at a different rate, or one connection against our many, would measure
the settings rather than the code; the backfill and delivery benchmarks drive the official
clients from a thread pool as wide as our connection pool, through this limiter.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from stripe_cio.http import AsyncRateLimiter


class ThreadRateLimiter:
    """Spaces the requests of many threads `1/rate` seconds apart, by our client's own rule.

    The slots come from the engine's `AsyncRateLimiter` (burst 1, as our clients use it),
    reserved under a lock and slept for outside it, so a baseline sends at exactly the rate
    our client may: a different rule would make the ratio partly a comparison of limiters.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._limiter = AsyncRateLimiter(rate, clock=clock)
        self._lock = threading.Lock()
        self._sleep = sleep
        self.waited = 0.0  # seconds the callers spent waiting for a slot, all threads together

    def acquire(self) -> None:
        """Block until the calling thread may send one request."""
        with self._lock:
            delay = self._limiter.reserve()
            self.waited += delay
        if delay > 0:
            self._sleep(delay)


def of_ceiling(rate: float, ceiling: float) -> str:
    """`rate` as a percentage of `ceiling`, the way the benchmarks print it."""
    return f"{rate / ceiling:.1%}" if ceiling > 0 else "n/a"
