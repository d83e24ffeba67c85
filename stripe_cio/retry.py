"""Retry policy for API clients: which failures are transient, and how long to back off."""

from __future__ import annotations

import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt n waits uniform(0, min(cap, base * 2**n)).

    Full jitter spreads the retries of many concurrent requests that failed together, so they
    do not come back as one burst. Source: AWS Architecture Blog, "Exponential Backoff And
    Jitter" (2015).
    """

    max_attempts: int = 8
    base_delay: float = 0.25
    max_delay: float = 20.0
    # Stripe's limiter counts requests per second, so a 429 clears within about a second.
    rate_limit_delay: float = 1.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < self.base_delay:
            raise ValueError("delays must satisfy 0 <= base_delay <= max_delay")

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number `attempt` (0-based)."""
        return rng.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


def retry_after_seconds(response: httpx.Response, cap: float = 120.0) -> float | None:
    """The server's `Retry-After` (seconds or an HTTP date), capped; None when absent or bad."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), cap)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    date = response.headers.get("date")
    try:
        now = parsedate_to_datetime(date) if date else None
    except (TypeError, ValueError):
        now = None
    if now is None:
        return None  # no server clock to compare with; fall back to our own backoff
    return min(max(0.0, (when - now).total_seconds()), cap)
