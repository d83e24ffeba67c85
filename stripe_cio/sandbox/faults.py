"""Rate limiting, latency and fault injection shared by both sandbox servers.

Settable at start (CLI flags) and at run time (`POST /_sandbox/config`), so a test can turn a
healthy server into a failing one and back without restarting it.

`corrupt_pages` (Stripe sandbox only) makes chosen list pages arrive broken with HTTP 200, as a
misbehaving proxy or gateway would send them: `{"path": "/v1/charges", "body": "html" |
"malformed_json" | "invalid_utf8", "times": N, "after": K}` lets K good list pages of that path
through, then breaks the next N (malformed JSON is the real page cut in half; invalid UTF-8 is
the real page with two bytes that are not UTF-8 inside its first string).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

Outcome = Literal["ok", "rate_limited", "fail", "drop"]
Corruption = Literal["html", "malformed_json", "invalid_utf8"]
_CORRUPTIONS: tuple[Corruption, ...] = ("html", "malformed_json", "invalid_utf8")
_HTML_PAGE = b"<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>"


@dataclass
class PageCorruption:
    """Break `times` list pages of `path` with a 200, after letting `after` good ones through."""

    path: str
    body: Corruption
    times: int = 1
    after: int = 0

    @classmethod
    def parse(cls, value: Any) -> PageCorruption:
        """One rule from its JSON form; ValueError naming what is wrong."""
        if not isinstance(value, dict) or set(value) - {"path", "body", "times", "after"}:
            raise ValueError(
                "each corrupt_pages rule must be an object with path, body, times and after"
            )
        path, body = value.get("path"), value.get("body")
        times, after = value.get("times", 1), value.get("after", 0)
        if not isinstance(path, str) or not path.startswith("/v1/"):
            raise ValueError("a corrupt_pages rule needs a path such as /v1/charges")
        if body not in _CORRUPTIONS:
            raise ValueError(
                "a corrupt_pages rule's body must be 'html', 'malformed_json' or 'invalid_utf8'"
            )
        for name, number in (("times", times), ("after", after)):
            if not isinstance(number, int) or isinstance(number, bool) or number < 0:
                raise ValueError(f"a corrupt_pages rule's {name} must be a non-negative integer")
        return cls(path=path, body=body, times=times, after=after)

    def corrupt(self, page: bytes) -> tuple[bytes, bytes]:
        """The broken body and its content type."""
        if self.body == "html":
            return _HTML_PAGE, b"text/html; charset=utf-8"
        if self.body == "invalid_utf8":
            at = page.find(b'"', page.find(b":") + 1) + 1  # inside the first string value
            return page[:at] + b"\xff\xfe" + page[at:], b"application/json"
        return page[: len(page) // 2], b"application/json"


@dataclass
class FaultConfig:
    """What the server does to each request before handling it."""

    rps: float | None = None  # token-bucket rate; None = unlimited
    burst: float | None = None  # bucket size; None = one second's worth of requests
    latency_ms: float = 0.0  # fixed delay added to every request
    jitter_ms: float = 0.0  # plus a uniform random delay in [0, jitter_ms]
    fail_rate: float = 0.0  # fraction of requests answered with HTTP 500
    drop_rate: float = 0.0  # fraction of connections dropped mid-response
    slow_rate: float = 0.0  # fraction of requests delayed by slow_ms more
    slow_ms: float = 2000.0
    rate_limit_burst_rate: float = 0.0  # fraction of requests that open a burst of 429s
    rate_limit_burst_length: int = 20  # how many requests such a burst answers with 429
    corrupt_pages: list[PageCorruption] = field(default_factory=list)  # replaced as a whole

    def update(self, values: dict[str, Any]) -> None:
        """Apply a partial update, refusing unknown keys and bad values with ValueError."""
        known = {f.name: f for f in fields(self)}
        values = dict(values)
        rules = values.pop("corrupt_pages", None)
        if rules is not None and not isinstance(rules, list):
            raise ValueError("sandbox setting 'corrupt_pages' must be a list of rules")
        corrupt_pages = [PageCorruption.parse(rule) for rule in rules or []]
        for key, value in values.items():
            if key not in known:
                raise ValueError(f"unknown sandbox setting {key!r}")
            if value is not None and not isinstance(value, int | float):
                raise ValueError(f"sandbox setting {key!r} must be a number or null")
            if key.endswith("_rate") and value is not None and not 0 <= value <= 1:
                raise ValueError(f"sandbox setting {key!r} must be between 0 and 1")
            if value is not None and value < 0:
                raise ValueError(f"sandbox setting {key!r} must not be negative")
        for key, value in values.items():
            if key == "rate_limit_burst_length":
                value = int(value)
            setattr(self, key, value)
        if rules is not None:
            self.corrupt_pages = corrupt_pages

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class TokenBucket:
    """A token bucket refilled continuously at `rate` per second, holding at most `capacity`."""

    def __init__(self, rate: float, capacity: float | None = None) -> None:
        self.rate = rate
        self.capacity = capacity if capacity is not None else max(1.0, rate)
        self._tokens = self.capacity
        self._stamp = time.monotonic()

    def try_take(self) -> bool:
        """Take one token if there is one; never waits."""
        now = time.monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class FaultInjector:
    """Decides, per request, whether it is served, refused with 429, failed or dropped."""

    def __init__(self, config: FaultConfig, seed: int | None = None) -> None:
        self.config = config
        self._random = random.Random(seed)
        # One bucket per rate-limited account (None: the server's own account), all with the
        # same settings; new settings start every bucket afresh.
        self._buckets: dict[str | None, TokenBucket] = {}
        self._bucket_key: tuple[float | None, float | None] = (None, None)
        self._burst_left = 0

    def _limiter(self, account: str | None) -> TokenBucket | None:
        key = (self.config.rps, self.config.burst)
        if key != self._bucket_key:
            self._bucket_key = key
            self._buckets = {}
        if not key[0]:
            return None
        bucket = self._buckets.get(account)
        if bucket is None:
            bucket = self._buckets[account] = TokenBucket(key[0], key[1])
        return bucket

    async def admit(self, account: str | None = None) -> Outcome:
        """Apply latency, then say what to do with the request.

        `account` names the rate limit the request counts against, when the server holds
        several accounts (the Stripe sandbox's connected accounts); None is the server's own.
        """
        config = self.config
        delay = config.latency_ms
        if config.jitter_ms:
            delay += self._random.uniform(0, config.jitter_ms)
        if config.slow_rate and self._random.random() < config.slow_rate:
            delay += config.slow_ms
        limiter = self._limiter(account)
        # The limiter counts requests as they arrive, as Stripe's does, before any latency.
        admitted = limiter.try_take() if limiter else True
        if delay:
            await asyncio.sleep(delay / 1000)
        if not admitted:
            return "rate_limited"
        if self._burst_left > 0:
            self._burst_left -= 1
            return "rate_limited"
        if config.rate_limit_burst_rate and self._random.random() < config.rate_limit_burst_rate:
            self._burst_left = max(0, config.rate_limit_burst_length - 1)
            return "rate_limited"
        if config.drop_rate and self._random.random() < config.drop_rate:
            return "drop"
        if config.fail_rate and self._random.random() < config.fail_rate:
            return "fail"
        return "ok"

    def corrupt_page(self, path: str) -> PageCorruption | None:
        """The rule that breaks this 200 list page of `path`, if one does (counting it)."""
        for rule in self.config.corrupt_pages:
            if rule.path != path:
                continue
            if rule.after > 0:
                rule.after -= 1
            elif rule.times > 0:
                rule.times -= 1
                return rule
        return None
