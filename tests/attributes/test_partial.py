"""Attributes of some persons from their rows alone equal the computation over everyone,
restricted to them, and partitions together equal the single pass: random ledgers written
through the normalisers on SQLite and PostgreSQL, random touched customers and guests, each
identifier strategy."""

from __future__ import annotations

import copy
import itertools
from collections import Counter
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from stripe_cio import LedgerSettings
from stripe_cio.attributes import (
    AttributeSettings,
    attribute_dicts,
    compute_attributes,
    load_frames,
    rows_of,
)
from stripe_cio.jobs.partitions import (
    compute_partition,
    everyones_cuts,
    finished_partition,
    remove_files,
    write_partitions,
)
from stripe_cio.ledger import Ledger, write_transaction
from stripe_cio.ledger.normalise import email_key
from stripe_cio.ledger.tables import table
from stripe_cio.runs import TouchedCustomers
from stripe_cio.runs.persons import touched_persons

AS_OF = 1_780_000_000
DAY = 86_400
EMAILS = ["ann@example.com", "bo@example.com", "cy@example.com"]
CURRENCIES = ["usd", "eur", "jpy"]
TABLES = ("customers", "charges", "disputes", "subscriptions", "subscription_items", "prices")
IDENTIFIERS = ("email", "stripe_id", "metadata:user_id")
EXAMPLES = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def spelled(email: str, how: int) -> str:
    return [email, email.upper(), f"  {email.title()} "][how % 3]


@st.composite
def accounts(draw: st.DrawFn) -> dict[str, list[dict[str, Any]]]:
    """Customers sharing emails and metadata values, guests, charges of unknown customers,
    disputes of known and missing charges, subscriptions on two prices."""
    customers = [
        {
            "id": f"cus_{i}",
            "email": draw(
                st.sampled_from([*(spelled(e, i) for e in EMAILS), None, "not-an-email"])
            ),
            "created": AS_OF - draw(st.integers(1, 700)) * DAY,
            "currency": draw(st.sampled_from([None, *CURRENCIES])),
            "delinquent": draw(st.booleans()),
            "metadata": {"user_id": draw(st.sampled_from(["u1", " u1", "u2", "u3 "]))},
        }
        for i in range(draw(st.integers(0, 7)))
    ]
    owners = [c["id"] for c in customers] + [None, None, "cus_unknown"]
    charges = []
    for i in range(draw(st.integers(0, 24))):
        amount = draw(st.integers(1, 9_000))
        status = draw(st.sampled_from(["succeeded", "succeeded", "failed"]))
        captured = draw(st.integers(0, amount)) if status == "succeeded" else 0
        guest_email = draw(st.sampled_from([None, " ", *EMAILS, "NEW@example.com"]))
        charges.append(
            {
                "id": f"ch_{i:03d}",
                "customer": draw(st.sampled_from(owners)),
                "created": AS_OF - draw(st.integers(0, 600)) * DAY - i,
                "status": status,
                "amount": amount,
                "amount_captured": captured,
                "amount_refunded": draw(st.integers(0, captured)),
                "captured": captured > 0,
                "currency": draw(st.sampled_from(CURRENCIES)),
                "billing_email": guest_email,
            }
        )
    charge_ids = [c["id"] for c in charges] + ["ch_missing"]
    disputes = [
        {
            "id": f"dp_{i}",
            "charge": draw(st.sampled_from(charge_ids)),
            "amount": draw(st.integers(1, 3_000)),
            "status": draw(st.sampled_from(["lost", "won", "needs_response"])),
        }
        for i in range(draw(st.integers(0, 4)))
    ]
    subscriptions = [
        {
            "id": f"sub_{i}",
            "customer": draw(st.sampled_from([c["id"] for c in customers])),
            "status": draw(st.sampled_from(["active", "past_due", "canceled", "trialing"])),
            "price": draw(st.sampled_from(["price_a", "price_b"])),
        }
        for i in range(draw(st.integers(0, 4) if customers else st.just(0)))
    ]
    return {
        "customers": customers,
        "charges": charges,
        "disputes": disputes,
        "subscriptions": subscriptions,
    }


class Writer:
    """Writes a drawn account as Stripe objects (from Stripe's published examples)."""

    def __init__(self, examples: dict[str, Any]) -> None:
        self.examples = examples

    def __repr__(self) -> str:  # Hypothesis prints a failing example's arguments
        return "Writer()"

    def example(self, kind: str, **fields: Any) -> dict[str, Any]:
        return {**copy.deepcopy(self.examples[kind]), **fields}

    def price(self, price_id: str, amount: int) -> dict[str, Any]:
        price = self.example(
            "price", id=price_id, unit_amount=amount, currency="usd", nickname=price_id
        )
        price["recurring"] = {**(price.get("recurring") or {}), "interval": "month"}
        price["recurring"]["interval_count"] = 1
        return price

    def write(self, ledger: Ledger, account: dict[str, list[dict[str, Any]]]) -> None:
        with write_transaction(ledger.engine) as conn:
            for name in TABLES:
                conn.execute(delete(table(name)))
        write = ledger.write_objects
        customers = [self.example("customer", **c) for c in account["customers"]]
        write("customers", customers, observed_at=AS_OF)
        charges = []
        for c in account["charges"]:
            fields = {k: v for k, v in c.items() if k != "billing_email"}
            charge = self.example("charge", **fields)
            charge["billing_details"] = {**charge["billing_details"], "email": c["billing_email"]}
            charges.append(charge)
        write("charges", charges, observed_at=AS_OF)
        write(
            "disputes",
            [self.example("dispute", **d, currency="usd") for d in account["disputes"]],
            observed_at=AS_OF,
        )
        prices = {"price_a": self.price("price_a", 1500), "price_b": self.price("price_b", 900)}
        write("prices", list(prices.values()), observed_at=AS_OF)
        subscriptions = []
        for s in account["subscriptions"]:
            fields = {k: v for k, v in s.items() if k != "price"}
            subscription = self.example("subscription", **fields, created=AS_OF - 90 * DAY)
            item = copy.deepcopy(subscription["items"]["data"][0])
            item.update(id=f"si_{s['id']}", subscription=s["id"], price=prices[s["price"]])
            subscription["items"] = {**subscription["items"], "data": [item]}
            subscriptions.append(subscription)
        write("subscriptions", subscriptions, observed_at=AS_OF)


_databases = itertools.count()


@pytest.fixture(scope="module")
def writer(stripe_examples: dict[str, Any]) -> Writer:
    return Writer(stripe_examples)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def ledger(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Ledger]:
    """One ledger a backend for the module; each example empties it first."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('partial') / 'ledger.db'}"
    else:
        server: str = request.getfixturevalue("pg_server")
        name = f"partial_{next(_databases)}"
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = f"{server}/{name}"
    opened = Ledger.open(LedgerSettings(database_url=url))
    yield opened
    opened.close()


def sent(frame: Any, persons: list[str]) -> dict[str, dict[str, Any]]:
    """What would be sent for `persons`, by person."""
    return dict(attribute_dicts(frame.loc[sorted(persons)]))


@EXAMPLES
@given(account=accounts(), identifier=st.sampled_from(IDENTIFIERS), data=st.data())
def test_the_touched_persons_rows_alone_give_their_attributes_of_the_full_computation(
    ledger: Ledger,
    writer: Writer,
    account: dict[str, list[dict[str, Any]]],
    identifier: str,
    data: st.DataObject,
) -> None:
    writer.write(ledger, account)
    settings_ = AttributeSettings(identifier=identifier)
    full = compute_attributes(load_frames(ledger.engine, settings_), AS_OF, settings_)

    known = [c["id"] for c in account["customers"]]
    customers = data.draw(st.sets(st.sampled_from([*known, "cus_unknown", "cus_nowhere"])))
    guests = {
        key
        for c in data.draw(st.lists(st.sampled_from(account["charges"] or [{}]), max_size=4))
        if not c.get("customer") and (key := email_key(c.get("billing_email")))
    }
    touched = TouchedCustomers(frozenset(customers), frozenset(guests))
    rows = rows_of(ledger.engine, touched.customers, touched.guest_emails, settings_)
    partial = compute_attributes(
        load_frames(ledger.engine, settings_, rows=rows),
        AS_OF,
        settings_,
        rank_cuts=full.rank_cuts,
    )

    expected = touched_persons(full.attributes, touched, settings_)
    assert sorted(touched_persons(partial.attributes, touched, settings_)) == sorted(expected)
    assert sent(partial.attributes, expected) == sent(full.attributes, expected)
    # The partial load read only the touched persons' rows: nobody else was computed.
    assert sorted(partial.attributes.index) == sorted(expected)


@EXAMPLES
@given(
    account=accounts(),
    identifier=st.sampled_from(IDENTIFIERS),
    # Beyond 64 partitions their files are opened per piece; most are then empty.
    count=st.sampled_from([1, 2, 3, 5, 70]),
)
def test_partitions_each_from_their_own_rows_give_exactly_the_single_pass(
    ledger: Ledger,
    writer: Writer,
    tmp_path_factory: pytest.TempPathFactory,
    account: dict[str, list[dict[str, Any]]],
    identifier: str,
    count: int,
) -> None:
    writer.write(ledger, account)
    settings_ = AttributeSettings(identifier=identifier)
    single = compute_attributes(load_frames(ledger.engine, settings_), AS_OF, settings_)

    directory = tmp_path_factory.mktemp("partitions")
    works = write_partitions(ledger, settings_, count, directory, AS_OF)
    assert ledger.settings is not None
    computed = [compute_partition(settings_, work) for work in works]
    cuts = everyones_cuts(works)
    parts = [finished_partition(work, cuts, settings_) for work in works]
    remove_files(works)

    assert cuts == single.rank_cuts
    persons = [person for part in parts for person in part.attributes.index]
    assert len(persons) == len(set(persons)), "each person in one partition"
    assert sorted(persons) == sorted(single.attributes.index)
    together = dict(item for part in parts for item in attribute_dicts(part.attributes))
    assert together == dict(attribute_dicts(single.attributes))
    # Every row is counted once, skipped ones included.
    skipped: Counter[str] = Counter()
    for done in computed:
        skipped.update(done.skipped)
    assert skipped == Counter(
        {
            f"{table_}: {reason}": n
            for table_, reasons in single.skipped.as_dict().items()
            for reason, n in reasons.items()
            if n
        }
    )
    assert not directory.exists(), "the run's files are removed"
