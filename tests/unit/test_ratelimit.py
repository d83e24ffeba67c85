"""The client-side rate limiter, on a fake clock: spacing, bursts, pauses."""

from __future__ import annotations

import asyncio

import pytest

from stripe_cio.http import AsyncRateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_reservations_are_spaced_one_interval_apart() -> None:
    clock = FakeClock()
    limiter = AsyncRateLimiter(10, clock=clock)
    waits = [limiter.reserve() for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


def test_idle_time_allows_a_burst_but_no_more() -> None:
    clock = FakeClock()
    limiter = AsyncRateLimiter(10, burst=3, clock=clock)
    limiter.reserve()
    clock.now += 60  # a long quiet spell does not bank more than `burst` slots
    waits = [limiter.reserve() for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.0, 0.0, 0.1, 0.2])


def test_pause_pushes_every_later_reservation_back() -> None:
    clock = FakeClock()
    limiter = AsyncRateLimiter(10, clock=clock)
    limiter.reserve()
    limiter.pause(2.0)
    assert limiter.reserve() == pytest.approx(2.0)
    assert limiter.reserve() == pytest.approx(2.1)


def test_concurrent_tasks_share_the_rate() -> None:
    clock = FakeClock()
    limiter = AsyncRateLimiter(50, clock=clock, sleep=clock.sleep)

    async def main() -> None:
        await asyncio.gather(*(limiter.acquire() for _ in range(100)))

    asyncio.run(main())
    assert max(clock.slept) == pytest.approx(99 / 50)
    assert limiter.waited == pytest.approx(sum(i / 50 for i in range(100)))


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (10, 0.5)])
def test_nonsense_is_refused(rate: float, burst: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        AsyncRateLimiter(rate, burst)
