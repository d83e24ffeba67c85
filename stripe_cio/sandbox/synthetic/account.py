"""SyntheticAccount: generates a Stripe account's history, then its activity as time advances."""

from __future__ import annotations

from typing import Any

from ...gc import collector_paused
from . import lifecycle, shop
from .catalog import build_catalog
from .payments import Payments
from .people import People
from .timeline import arrival_times, end_rate
from .world import DAY, AccountSink, World

MONTH = 2_629_746  # an average Gregorian month in seconds
DORMANT_RATE = 0.10
SUBSCRIBER_RATE = 0.45
SUBSCRIBER_SHOPS = 0.3
DELETION_RATE = 0.04
GUESTS_PER_CUSTOMER = 0.12


class _Arrivals:
    """A sorted stream of arrival times; each arrival schedules the next (a short queue)."""

    __slots__ = ("guest", "index", "times")

    def __init__(self, times: list[int], guest: bool) -> None:
        self.times = times
        self.guest = guest
        self.index = 0


def _arrive(w: World, stream: _Arrivals, t: int) -> None:
    stream.index += 1
    if stream.index < len(stream.times):
        w.at(stream.times[stream.index], _arrive, stream)
    if stream.guest:
        shop.guest_purchase(w, w.people.guest(), t)
        return
    rnd = w.rnd
    x = rnd()
    subscriber = DORMANT_RATE <= x < DORMANT_RATE + SUBSCRIBER_RATE
    buyer = x >= DORMANT_RATE + SUBSCRIBER_RATE
    person = w.people.customer(t, currency_known=buyer and rnd() < 0.5)
    assert person.obj is not None
    w.touch("customers", person.obj)
    w.emit("customer.created", person.obj, t)
    if subscriber:
        lifecycle.start(w, person, t)
        if rnd() < SUBSCRIBER_SHOPS:
            shop.schedule(w, person, t, shop.SUBSCRIBER_GAP_DAYS, shop.subscriber_purchase)
    elif buyer:
        w.at(t + w.between(60, 3600), shop.buyer_purchase, person)
    if rnd() < DELETION_RATE:
        w.at(t + w.expo(45 * DAY) + 3600, shop.delete_customer, person)


class _Discard:
    """A sink that keeps nothing: shards other than 0 build the catalog without putting it."""

    def put(self, resource: str, obj: dict[str, Any]) -> None:
        pass


class SyntheticAccount:
    """A realistic Stripe test-mode account, deterministic for a seed.

    generate() writes `months` of history ending at `now` into the sink (events only for the
    last 30 days, as Stripe keeps them); advance() then adds the activity of each new span.
    """

    def __init__(
        self,
        sink: AccountSink,
        *,
        seed: int,
        customers: int,
        months: int,
        now: int,
        shard: int = 0,
        shards: int = 1,
    ) -> None:
        if customers < 0 or months < 1:
            raise ValueError("customers must be >= 0 and months >= 1")
        if not 0 <= shard < shards <= 4:
            raise ValueError("shards must be 1..4 and shard in 0..shards-1")
        self._w = World(sink, seed, now)
        # Shard k of n generates every k-th share of the customers with its own random stream
        # and id range; all shards build the same catalog (it comes first from the shared seed)
        # and only shard 0 hands it to the sink. See stripe_server/shards.py.
        self._seed = seed
        self._shard = shard
        self._shards = shards
        self._customers = customers // shards + (1 if shard < customers % shards else 0)
        self._start = now - months * MONTH
        self._generated = False

    @property
    def now(self) -> int:
        """The account's clock (Unix seconds): the end of everything generated so far."""
        return self._w.now

    def generate(self) -> None:
        """Generate `months` of history ending at `now` into the sink, in one pass."""
        if self._generated:
            raise RuntimeError("generate() runs once")
        self._generated = True
        w = self._w
        sink = w.sink
        if self._shard:
            w.sink = _Discard()
        w.catalog = build_catalog(w, self._start - DAY)
        w.sink = sink
        if self._shards > 1:
            w.rng.seed(f"{self._seed}:{self._shard}/{self._shards}")
            w.ids.skip_to_shard(self._shard)
        w.payments = Payments(w)
        w.people = People(w)
        guests = int(self._customers * GUESTS_PER_CUSTOMER)
        for count, guest in ((self._customers, False), (guests, True)):
            times = arrival_times(w.rng, count, self._start, w.now)
            if times:
                w.at(times[0], _arrive, _Arrivals(times, guest))
        # Generation allocates millions of short-lived dicts and keeps a large live graph, which
        # the collector would traverse again and again for nothing (it makes next to no cycles).
        with collector_paused():
            w.run_until(w.now)
            w.flush()

    def release(self) -> None:
        """Drop the simulation's state now; the account cannot advance any more.

        Its parts refer to each other (the world and its payments, people...), so without this
        only the cyclic collector would free them, and rarely: a Connect sandbox that drops
        built accounts would grow by their size each time (stripe_server/accounts.py).
        """
        self._w.__dict__.clear()

    def advance(self, seconds: int) -> int:
        """Generate the activity of (now, now + seconds] with all its events; return the new now."""
        if not self._generated:
            raise RuntimeError("call generate() before advance()")
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        w = self._w
        end = w.now + seconds
        w.event_floor = w.now  # every change from now on is recent enough to keep its event
        rate = end_rate(self._customers, self._start, w.now)
        for share, guest in ((1.0, False), (GUESTS_PER_CUSTOMER, True)):
            times = []
            t = float(w.now)
            while rate > 0:
                t += w.rng.expovariate(rate * share)
                if t > end:
                    break
                times.append(int(t) + 1 if int(t) <= w.now else int(t))
            times = [min(x, end) for x in times]
            if times:
                w.at(times[0], _arrive, _Arrivals(times, guest))
        with collector_paused():
            w.run_until(end)
            w.flush()
        w.now = end
        return end
