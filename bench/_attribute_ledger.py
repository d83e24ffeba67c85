"""A synthetic ledger file for the attribute benchmark, bulk-inserted straight into SQLite.

Seeded and vectorised with numpy: persons with one or two customers (two share an email in
different case and spacing), guest-only persons, deleted and email-less customers, charges in
several currencies (zero-, two- and three-decimal) with failures, uncaptured authorisations,
partial captures and refunds, guest charges and charges of unknown customers, disputes in every
status, subscriptions in every status with one to three items on day/week/month/year prices
(some without a unit amount), and a price catalog with and without nicknames.

Rows carry a small `raw` ('{}'): a real ledger keeps each object's JSON there (kilobytes), which
the attribute loader never selects.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from stripe_cio import LedgerSettings
from stripe_cio.ledger import Ledger
from stripe_cio.ledger.normalise import email_key

__all__ = ["AS_OF", "build_ledger"]

DAY = 86_400
START = 1_690_000_000  # history starts here (July 2023) ...
AS_OF = 1_780_000_000  # ... and the attributes are computed as of here (May 2026)
CURRENCIES = np.array(["usd", "eur", "gbp", "jpy", "kwd", "cad", "isk", "krw"])
CURRENCY_WEIGHTS = np.array([0.55, 0.18, 0.08, 0.07, 0.03, 0.05, 0.02, 0.02])
# Typical amounts in minor units per currency (JPY, KRW and ISK prices are large numbers).
CURRENCY_SCALE = np.array([3000, 3000, 2500, 4000, 10, 3500, 4000, 40000])
CHARGE_STATUS = np.array(["succeeded", "failed", "pending"])
DISPUTE_STATUS = np.array(
    [
        "lost",
        "won",
        "needs_response",
        "under_review",
        "warning_needs_response",
        "warning_under_review",
        "warning_closed",
    ]
)
SUB_STATUS = np.array(
    [
        "active",
        "past_due",
        "trialing",
        "unpaid",
        "paused",
        "incomplete",
        "canceled",
        "incomplete_expired",
    ]
)
SUB_STATUS_WEIGHTS = np.array([0.45, 0.05, 0.08, 0.02, 0.02, 0.02, 0.33, 0.03])
INTERVALS = np.array(["day", "week", "month", "year"])
_ALPHABET = np.frombuffer(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8
)
_BATCH = 200_000

IntArray = npt.NDArray[np.int64]
Rows = Iterator[tuple[Any, ...]]


def _ids(rng: np.random.Generator, prefix: str, n: int, width: int = 24) -> list[str]:
    """`n` distinct random Stripe-like ids: random, so that id order is not creation order."""
    chars = _ALPHABET[rng.integers(0, len(_ALPHABET), size=(n, width))]
    body = chars.view(f"S{width}").ravel().astype(str)
    ids = np.char.add(prefix, body)
    assert len(np.unique(ids)) == n
    return list(ids.tolist())


def _none_where(values: list[Any], mask: npt.NDArray[np.bool_]) -> list[Any]:
    return [None if m else v for v, m in zip(values, mask.tolist(), strict=True)]


def _insert(db: sqlite3.Connection, table: str, columns: tuple[str, ...], rows: Rows) -> None:
    # Table and column names are this module's constants, never input.
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"  # noqa: S608
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == _BATCH:
            db.executemany(sql, batch)
            batch.clear()
    db.executemany(sql, batch)


def build_ledger(path: Path, persons: int, charges: int, seed: int = 7) -> None:
    """Create the ledger schema at `path` and fill it with a synthetic account."""
    Ledger.open(LedgerSettings(database_url=f"sqlite:///{path}")).close()
    rng = np.random.default_rng(seed)
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA cache_size=-262144")
    # Each person mostly pays in a home currency, which is also their customers' currency.
    home = rng.choice(len(CURRENCIES), size=persons, p=CURRENCY_WEIGHTS)
    with db:
        customer_ids, customer_person, emails = _customers(db, rng, persons, home)
        _charges(db, rng, charges, customer_ids, customer_person, emails, home)
        customer_home = np.where(customer_person >= 0, home[customer_person], 0)
        _subscriptions(db, rng, customer_ids, customer_home)
    db.execute("ANALYZE")
    db.close()


def _customers(
    db: sqlite3.Connection, rng: np.random.Generator, persons: int, home: IntArray
) -> tuple[list[str], IntArray, list[str]]:
    """Customers of every person but the guest-only ones (3%), 6% with a second customer."""
    emails = [f"person{i}@example.com" for i in range(persons)]
    guest_only = rng.random(persons) < 0.03
    owners = np.flatnonzero(~guest_only)
    doubles = owners[rng.random(len(owners)) < 0.06]
    person = np.concatenate([owners, doubles]).astype(np.int64)
    # Customers nobody can be: deleted ones (2%), and ones without an email (1%).
    extra = max(1, persons // 50) + max(1, persons // 100)
    n = len(person) + extra
    ids = _ids(rng, "cus_", n, 14)
    created = rng.integers(START, AS_OF - DAY, size=n)
    spelled = [
        f"  {emails[p].upper()} " if rng_bit else emails[p]
        for p, rng_bit in zip(
            person.tolist(), (rng.random(len(person)) < 0.3).tolist(), strict=True
        )
    ]
    email = [*spelled, *[f"gone{i}@example.com" for i in range(persons // 50 or 1)]]
    email += ["   "] * (n - len(email))
    deleted = np.zeros(n, dtype=bool)
    deleted[len(person) : len(person) + max(1, persons // 50)] = True
    owner = np.concatenate([person, np.full(extra, -1)])
    known = CURRENCIES[home[np.maximum(owner, 0)]].tolist()
    currency = _none_where(known, rng.random(n) < 0.6)
    delinquent = (rng.random(n) < 0.03).tolist()
    rows = (
        (i, c, 0, AS_OF, "{}", e, email_key(e), cur, d, dl, f'{{"user_id": "u{k}"}}')
        for k, (i, c, e, cur, d, dl) in enumerate(
            zip(ids, created.tolist(), email, currency, deleted.tolist(), delinquent, strict=True)
        )
    )
    columns: tuple[str, ...] = (
        "id",
        "created",
        "livemode",
        "observed_at",
        "raw",
        "email",
        "email_key",
        "currency",
    )
    _insert(db, "customers", (*columns, "deleted", "delinquent", "metadata"), rows)
    return ids, owner, emails


def _charges(
    db: sqlite3.Connection,
    rng: np.random.Generator,
    n: int,
    customer_ids: list[str],
    customer_person: IntArray,
    emails: list[str],
    home: IntArray,
) -> None:
    persons = len(emails)
    # Skewed purchase frequency: a few persons buy very often, most a handful of times.
    weight = rng.pareto(1.5, size=persons) + 0.2
    person = rng.choice(persons, size=n, p=weight / weight.sum())
    # Each charge goes to one of its person's customers, else (guest-only person) is a guest.
    order = np.argsort(customer_person, kind="stable")
    first = np.searchsorted(customer_person[order], person, side="left")
    last = np.searchsorted(customer_person[order], person, side="right")
    has = last > first
    slot = first + (rng.random(n) * np.maximum(last - first, 1)).astype(np.int64)
    customer_row = np.where(has, order[np.minimum(slot, len(order) - 1)], -1)
    guest = ~has | (rng.random(n) < 0.02)
    skipped = np.flatnonzero(customer_person < 0)
    to_skipped = rng.random(n) < 0.003  # charges of deleted or email-less customers
    customer_row = np.where(to_skipped, rng.choice(skipped, size=n), customer_row)
    guest &= ~to_skipped
    unknown = rng.random(n) < 0.001
    customer = [
        None if g else ("cus_unknown" + str(k) if u else customer_ids[r])
        for k, (g, u, r) in enumerate(
            zip(guest.tolist(), unknown.tolist(), customer_row.tolist(), strict=True)
        )
    ]
    billing = [
        (f" {emails[p].title()}" if k % 3 == 0 else emails[p]) if g else None
        for k, (g, p) in enumerate(zip(guest.tolist(), person.tolist(), strict=True))
    ]
    # 5% of charges are in another currency than the person's home currency.
    cur = np.where(
        rng.random(n) < 0.05,
        rng.choice(len(CURRENCIES), size=n, p=CURRENCY_WEIGHTS),
        home[person],
    )
    amount = np.maximum(1, (rng.lognormal(0, 0.8, size=n) * CURRENCY_SCALE[cur]).astype(np.int64))
    kind = rng.random(n)
    status = np.where(kind < 0.08, 1, np.where(kind < 0.09, 2, 0))
    uncaptured = (status == 0) & (rng.random(n) < 0.03)  # expired or pending authorisations
    captured = np.where((status == 0) & ~uncaptured, amount, 0)
    partial = (captured > 1) & (rng.random(n) < 0.01)
    captured = np.where(partial, captured // 2, captured)
    refund = rng.random(n)
    refunded = np.where(refund < 0.03, captured, np.where(refund < 0.08, captured // 3, 0))
    refunded = np.where(captured > 0, refunded, 0)
    # Creation times cluster towards the present, and many share a second (imports, retries).
    created = AS_OF - (rng.power(2.0, size=n) * (AS_OF - START)).astype(np.int64)
    created = np.where(rng.random(n) < 0.01, created - created % 3600, created)
    ids = _ids(rng, "ch_", n)
    rows = zip(
        ids,
        created.tolist(),
        customer,
        CHARGE_STATUS[status].tolist(),
        amount.tolist(),
        captured.tolist(),
        refunded.tolist(),
        CURRENCIES[cur].tolist(),
        billing,
        [email_key(email) for email in billing],  # billing emails are guests' only
        strict=True,
    )
    columns: tuple[str, ...] = ("id", "created", "customer", "status", "amount", "amount_captured")
    columns += ("amount_refunded", "currency", "billing_email", "guest_email_key")
    constants = ("livemode", "observed_at", "raw")
    _insert(db, "charges", (*columns, *constants), ((*row, 0, AS_OF, "{}") for row in rows))
    _disputes(db, rng, ids, created, captured, CURRENCIES[cur])


def _disputes(
    db: sqlite3.Connection,
    rng: np.random.Generator,
    charge_ids: list[str],
    created: IntArray,
    captured: IntArray,
    currency: npt.NDArray[Any],
) -> None:
    """Disputes on 0.5% of purchases, a few on the same charge."""
    rows = np.flatnonzero((captured > 0) & (rng.random(len(captured)) < 0.005))
    rows = np.concatenate([rows, rows[: len(rows) // 20]])
    n = len(rows)
    status = rng.choice(DISPUTE_STATUS, size=n, p=[0.3, 0.3, 0.1, 0.1, 0.05, 0.05, 0.1])
    amount = np.minimum(
        captured[rows], (captured[rows] * rng.uniform(0.5, 1.2, n)).astype(np.int64)
    )
    dispute = zip(
        _ids(rng, "dp_", n),
        (created[rows] + DAY).tolist(),
        [charge_ids[r] for r in rows.tolist()],
        np.maximum(amount, 1).tolist(),
        currency[rows].tolist(),
        status.tolist(),
        strict=True,
    )
    columns: tuple[str, ...] = ("id", "created", "charge", "amount", "currency", "status")
    constants = ("livemode", "observed_at", "raw")
    _insert(db, "disputes", (*columns, *constants), ((*row, 0, AS_OF, "{}") for row in dispute))


def _subscriptions(
    db: sqlite3.Connection, rng: np.random.Generator, customer_ids: list[str], home: IntArray
) -> None:
    """Subscriptions of 35% of customers (a few resubscribed), one to three items each, priced
    in the customer's home currency from a catalog of 8 prices per currency."""
    per_currency = 8
    prices = per_currency * len(CURRENCIES)
    price_ids = _ids(rng, "price_", prices)
    price_currency = np.arange(prices) // per_currency
    interval = rng.choice(4, size=prices, p=[0.05, 0.15, 0.6, 0.2])
    interval_count = rng.choice([1, 1, 1, 3, 6, 12], size=prices)
    interval_count = np.where(interval == 3, np.minimum(interval_count, 3), interval_count)
    unit = (rng.integers(5, 100, size=prices) * CURRENCY_SCALE[price_currency] // 10).astype(object)
    unit[rng.random(prices) < 0.1] = None  # tiered or metered
    nickname = _none_where([f"Plan {k}" for k in range(prices)], rng.random(prices) < 0.4)
    lookup = _none_where([f"plan_{k}" for k in range(prices)], rng.random(prices) < 0.5)
    price_rows = zip(
        price_ids,
        CURRENCIES[price_currency].tolist(),
        unit.tolist(),
        nickname,
        lookup,
        INTERVALS[interval].tolist(),
        interval_count.tolist(),
        strict=True,
    )
    columns: tuple[str, ...] = (
        "id",
        "currency",
        "unit_amount",
        "nickname",
        "lookup_key",
        "recurring_interval",
    )
    columns += (
        "recurring_interval_count",
        "created",
        "livemode",
        "observed_at",
        "raw",
        "type",
        "deleted",
    )
    constants = (START, 0, AS_OF, "{}", "recurring", 0)
    _insert(db, "prices", columns, (row + constants for row in price_rows))

    owners = np.flatnonzero(rng.random(len(customer_ids)) < 0.35)
    owners = np.concatenate([owners, owners[rng.random(len(owners)) < 0.1]])
    n = len(owners)
    sub_ids = _ids(rng, "sub_", n)
    created = rng.integers(START, AS_OF - DAY, size=n)
    status = rng.choice(SUB_STATUS, size=n, p=SUB_STATUS_WEIGHTS)
    trial_end = _none_where(
        (created + 14 * DAY).tolist(), ~((status == "trialing") | (rng.random(n) < 0.1))
    )
    canceled_at = _none_where(
        (created + 30 * DAY).tolist(), ~np.isin(status, ["canceled", "incomplete_expired"])
    )
    sub_rows = zip(
        sub_ids,
        created.tolist(),
        [customer_ids[o] for o in owners.tolist()],
        status.tolist(),
        CURRENCIES[home[owners]].tolist(),
        created.tolist(),
        trial_end,
        canceled_at,
        (rng.random(n) < 0.1).tolist(),
        strict=True,
    )
    columns = (
        "id",
        "created",
        "customer",
        "status",
        "currency",
        "start_date",
        "trial_end",
    )
    columns += ("canceled_at", "cancel_at_period_end", "livemode", "observed_at", "raw")
    _insert(db, "subscriptions", columns, ((*row, 0, AS_OF, "{}") for row in sub_rows))

    items = rng.choice([1, 1, 1, 2, 3], size=n)
    subscription = np.repeat(np.arange(n), items)
    position = np.arange(len(subscription)) - np.repeat(np.cumsum(items) - items, items)
    price = home[owners][subscription] * per_currency + rng.integers(
        0, per_currency, size=len(subscription)
    )
    item_rows = zip(
        _ids(rng, "si_", len(subscription)),
        [sub_ids[s] for s in subscription.tolist()],
        position.tolist(),
        [price_ids[p] for p in price.tolist()],
        rng.choice([1, 1, 1, 2, 5], size=len(subscription)).tolist(),
        CURRENCIES[price_currency[price]].tolist(),
        unit[price].tolist(),
        INTERVALS[interval[price]].tolist(),
        interval_count[price].tolist(),
        strict=True,
    )
    columns = (
        "id",
        "subscription",
        "position",
        "price",
        "quantity",
        "price_currency",
    )
    columns += ("unit_amount", "recurring_interval", "recurring_interval_count")
    _insert(db, "subscription_items", columns, item_rows)
