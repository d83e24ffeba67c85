"""The loader against real ledgers written through Ledger.write_objects: SQLite, PostgreSQL,
and the synthetic sandbox account."""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest
from sqlalchemy import text

from stripe_cio import LedgerSettings
from stripe_cio.attributes import (
    FRAME_COLUMNS,
    AttributeSettings,
    LedgerReadError,
    compute_attributes,
    load_frames,
    partition_frames,
    partition_of,
    scatter,
)
from stripe_cio.ledger import Ledger
from stripe_cio.sandbox.synthetic import SyntheticAccount

AS_OF = 1_780_000_000
DAY = 86_400
T0 = AS_OF - 300 * DAY
OLD_VERSION = "2024-06-20"  # before basil: amount_refunded includes released authorisations


def open_ledger(url: str) -> Ledger:
    return Ledger.open(LedgerSettings(database_url=url))


class Objects:
    """Stripe-shaped objects made from Stripe's published examples."""

    def __init__(self, examples: dict[str, Any]) -> None:
        self.examples = examples

    def _example(self, kind: str, **fields: Any) -> dict[str, Any]:
        return {**copy.deepcopy(self.examples[kind]), **fields}

    def customer(self, id: str, email: str | None, **fields: Any) -> dict[str, Any]:
        defaults: dict[str, Any] = {
            "created": T0,
            "currency": None,
            "metadata": {},
            "delinquent": False,
        }
        return self._example("customer", id=id, email=email, **{**defaults, **fields})

    def charge(self, id: str, customer: str | None, amount: int, **fields: Any) -> dict[str, Any]:
        charge = self._example(
            "charge",
            id=id,
            customer=customer,
            amount=amount,
            amount_captured=amount,
            amount_refunded=0,
            captured=True,
            status="succeeded",
            created=AS_OF - 20 * DAY,
            currency="usd",
        )
        charge["billing_details"]["email"] = fields.pop("billing_email", None)
        return {**charge, **fields}

    def dispute(self, id: str, charge: str, amount: int, status: str) -> dict[str, Any]:
        return self._example("dispute", id=id, charge=charge, amount=amount, status=status)

    def subscription(
        self, id: str, customer: str, price: dict[str, Any], **fields: Any
    ) -> dict[str, Any]:
        subscription = self._example("subscription", id=id, customer=customer, created=T0, **fields)
        item = copy.deepcopy(subscription["items"]["data"][0])
        item.update(id=f"si_{id}", subscription=id, price=price, quantity=2)
        subscription["items"] = {**subscription["items"], "data": [item]}
        return subscription

    def price(self, id: str, unit_amount: int, nickname: str | None) -> dict[str, Any]:
        price = self._example("price", id=id, unit_amount=unit_amount, nickname=nickname)
        price["recurring"] = {
            **(price.get("recurring") or {}),
            "interval": "month",
            "interval_count": 1,
        }
        return {**price, "currency": "usd", "lookup_key": None}


def fill(ledger: Ledger, objects: Objects) -> None:
    write = ledger.write_objects
    meta = {"user_id": "u-1"}
    write(
        "customers",
        [
            objects.customer("cus_A", "Ann@Example.com", metadata=meta),
            objects.customer(
                "cus_B", " ann@example.com", created=T0 + 100, delinquent=True, metadata=meta
            ),
            objects.customer("cus_C", None),
            {"id": "cus_D", "object": "customer", "deleted": True},
        ],
        observed_at=AS_OF,
    )
    write(
        "charges",
        [
            objects.charge("ch_1", "cus_A", 2000),
            objects.charge("ch_3", None, 700, currency="jpy", billing_email="ANN@example.com"),
            objects.charge(
                "ch_4", "cus_A", 900, status="failed", amount_captured=0, captured=False
            ),
            objects.charge("ch_5", "cus_Z", 100),
        ],
        observed_at=AS_OF,
    )
    # Rendered before basil: a partial capture of 3000 with 500 refunded, and an expired
    # authorisation, both count the released amount as refunded; the ledger takes it off.
    write(
        "charges",
        [
            objects.charge("ch_2", "cus_B", 5000, amount_captured=3000, amount_refunded=2500),
            objects.charge(
                "ch_6",
                "cus_B",
                4000,
                amount_captured=0,
                amount_refunded=4000,
                captured=False,
                refunded=True,
            ),
        ],
        observed_at=AS_OF,
        api_version=OLD_VERSION,
    )
    write(
        "disputes",
        [
            objects.dispute("dp_1", "ch_1", 2000, "lost"),
            objects.dispute("dp_2", "ch_missing", 300, "needs_response"),
        ],
        observed_at=AS_OF,
    )
    price = objects.price("price_basic", 1500, "Basic")
    write("prices", [price], observed_at=AS_OF)
    write(
        "subscriptions",
        [
            objects.subscription(
                "sub_1", "cus_B", price, status="active", cancel_at_period_end=False
            )
        ],
        observed_at=AS_OF,
    )


@pytest.fixture
def objects(stripe_examples: dict[str, Any]) -> Objects:
    return Objects(stripe_examples)


@pytest.fixture
def sqlite_ledger(tmp_path: Path, objects: Objects) -> Iterator[Ledger]:
    ledger = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    fill(ledger, objects)
    yield ledger
    ledger.close()


def test_frames_are_compact_and_hold_only_the_needed_columns(sqlite_ledger: Ledger) -> None:
    frames = load_frames(sqlite_ledger.engine)
    charges = frames.charges
    assert list(charges.columns) == list(FRAME_COLUMNS["charges"])
    assert {str(charges[c].dtype) for c in ("customer", "status", "currency")} == {"category"}
    assert {str(charges[c].dtype) for c in ("created", "amount_captured")} == {"int64"}
    assert str(frames.subscriptions["trial_end"].dtype) == "Int64"
    assert str(frames.customers["delinquent"].dtype) == "boolean"
    assert frames.customers["metadata_value"].isna().all()  # only read for metadata:<key>
    by_id = charges.set_index("id")
    assert by_id.loc["ch_2", "amount_refunded"] == 500  # basil semantics
    assert by_id.loc["ch_6", "amount_refunded"] == 0
    assert by_id.loc["ch_3", "billing_email"] == "ANN@example.com"
    assert by_id["billing_email"].isna()["ch_1"]  # read for guest charges only
    assert frames.subscription_items["unit_amount"].tolist() == [1500]
    # Disputes come joined to their charge's fields; all null for a charge not in the ledger.
    disputes = frames.disputes.set_index("charge").astype(object)
    joined = ["charge_customer", "charge_status", "charge_currency", "charge_amount_captured"]
    assert [disputes.at["ch_1", name] for name in joined] == ["cus_A", "succeeded", "usd", 2000]
    assert disputes.loc["ch_missing"].drop(["amount", "status"]).isna().all()


def expected_ann() -> dict[str, Any]:
    return {
        "customer_id": "cus_B",
        "customer_ids": ["cus_A", "cus_B"],
        "customer_since": T0,
        "currency": "usd",
        "purchase_count": 3,
        "total_spent": 25.0,  # 2000 - 2000 lost + 3000 - 500
        "total_spent_by_currency": {"jpy": 700.0, "usd": 25.0},
        "refunded_total": 5.0,
        "dispute_count": 1,
        "failed_payment_count_90d": 1,
        "mrr": 30.0,
        "plan": "Basic",
        "plan_interval": "month",
        "subscription_status": "active",
        "delinquent": True,
    }


def check(result: Any, person: str, expected: dict[str, Any]) -> None:
    row = result.attributes.loc[person]
    got = {name: row[f"stripe_{name}"] for name in expected}
    assert got == expected


def test_attributes_from_a_sqlite_ledger(sqlite_ledger: Ledger) -> None:
    result = compute_attributes(load_frames(sqlite_ledger.engine), AS_OF)
    assert list(result.attributes.index) == ["ann@example.com"]
    check(result, "ann@example.com", expected_ann())
    skipped = result.skipped.as_dict()
    assert skipped["customers"] == {"deleted": 1, "no_identifier": 1}
    assert skipped["charges"] == {"unknown_customer": 1}
    assert skipped["disputes"] == {"unknown_charge": 1}


def test_a_metadata_identifier_is_read_from_the_customer_json(sqlite_ledger: Ledger) -> None:
    settings = AttributeSettings(identifier="metadata:user_id")
    frames = load_frames(sqlite_ledger.engine, settings)
    assert frames.customers.set_index("id")["metadata_value"].to_dict() == {
        "cus_A": "u-1",
        "cus_B": "u-1",
        "cus_C": None,
        "cus_D": None,
    }
    result = compute_attributes(frames, AS_OF, settings)
    assert list(result.attributes.index) == ["u-1"]
    assert result.attributes.loc["u-1", "stripe_purchase_count"] == 2  # the guest charge is not


def test_postgresql_gives_the_same_frames_and_attributes(
    pg_url: str, objects: Objects, sqlite_ledger: Ledger
) -> None:
    ledger = open_ledger(pg_url)
    try:
        fill(ledger, objects)
        for settings in (AttributeSettings(), AttributeSettings(identifier="metadata:user_id")):
            ours, theirs = (
                load_frames(ledger.engine, settings),
                load_frames(sqlite_ledger.engine, settings),
            )
            for name in FRAME_COLUMNS:
                left = getattr(ours, name).sort_values(
                    list(FRAME_COLUMNS[name])[:2], ignore_index=True
                )
                right = getattr(theirs, name).sort_values(
                    list(FRAME_COLUMNS[name])[:2], ignore_index=True
                )
                pd.testing.assert_frame_equal(left, right, check_categorical=False)
            pd.testing.assert_frame_equal(
                compute_attributes(ours, AS_OF, settings).attributes,
                compute_attributes(theirs, AS_OF, settings).attributes,
            )
    finally:
        ledger.close()


def test_an_empty_ledger_gives_an_empty_frame(tmp_path: Path) -> None:
    with open_ledger(f"sqlite:///{tmp_path / 'empty.db'}") as ledger:
        result = compute_attributes(load_frames(ledger.engine), AS_OF)
        scatter(ledger.engine, AttributeSettings(), 3, tmp_path / "partitions")
    assert result.attributes.shape == (0, 30)
    for partition in range(3):
        part = compute_attributes(partition_frames(tmp_path / "partitions", partition), AS_OF)
        assert part.attributes.shape == (0, 30)


def test_a_null_the_normalisers_never_write_is_a_one_line_error(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    with sqlite_ledger.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO charges (id, observed_at, raw, status, amount, amount_captured,"
                " amount_refunded, currency) VALUES ('ch_x', 1, '{}', 'succeeded', 1, 1, 0, 'usd')"
            )
        )
    expected = r"^cannot read the ledger: column charges.created has 1 null values; "
    with pytest.raises(LedgerReadError, match=expected):
        load_frames(sqlite_ledger.engine)
    with pytest.raises(LedgerReadError, match=expected):  # the nightly run in partitions
        scatter(sqlite_ledger.engine, AttributeSettings(), 2, tmp_path)


def test_each_partition_holds_exactly_its_persons_rows(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    everyone = load_frames(sqlite_ledger.engine)
    scatter(sqlite_ledger.engine, AttributeSettings(), 4, tmp_path)
    parts = [partition_frames(tmp_path, n) for n in range(4)]
    for table_ in FRAME_COLUMNS:
        # Prices are few and every partition has them all; every other row is in one.
        copies = 4 if table_ == "prices" else 1
        assert sum(len(getattr(part, table_)) for part in parts) == copies * len(
            getattr(everyone, table_)
        ), table_
    for n, part in enumerate(parts):
        keys = part.customers["email"].str.strip().str.lower().fillna(part.customers["id"])
        assert all(partition_of(key, 4) == n for key in keys)
        # Each charge's customer is one of the partition's, or one the ledger lacks (in 0).
        unknown = set(everyone.charges["customer"].dropna()) - set(everyone.customers["id"])
        allowed = set(part.customers["id"]) | (unknown if n == 0 else set())
        assert set(part.charges["customer"].dropna()) <= allowed


class _LatestSink:
    """Keeps the last version of every object the synthetic account puts."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)

    def put(self, resource: str, obj: dict[str, Any]) -> None:
        parsed = orjson.loads(orjson.dumps(obj))  # pre-serialised parts become plain JSON
        self.objects[resource][parsed["id"]] = parsed


def test_the_synthetic_sandbox_account(tmp_path: Path) -> None:
    sink = _LatestSink()
    SyntheticAccount(sink, seed=5, customers=300, months=6, now=AS_OF).generate()
    resources = ("customers", "charges", "disputes", "prices", "subscriptions")
    with open_ledger(f"sqlite:///{tmp_path / 'synthetic.db'}") as ledger:
        for resource in resources:
            result = ledger.write_objects(
                resource, list(sink.objects[resource].values()), observed_at=AS_OF
            )
            assert result.rejected == {}, resource
        attributes = compute_attributes(load_frames(ledger.engine), AS_OF)
    frame, skipped = attributes.attributes, attributes.skipped.as_dict()
    customers = sink.objects["customers"].values()
    live = [c for c in customers if not c.get("deleted") and (c.get("email") or "").strip()]
    assert {c["email"].strip().lower() for c in live} <= set(frame.index)
    assert skipped["customers"].get("deleted", 0) == sum(1 for c in customers if c.get("deleted"))
    charges = sink.objects["charges"].values()
    purchases = [c for c in charges if c["status"] == "succeeded" and c["amount_captured"] > 0]
    live_ids = {c["id"] for c in live}

    def assigned(charge: dict[str, Any]) -> bool:
        if charge.get("customer") is None:
            return bool((charge["billing_details"].get("email") or "").strip())
        return charge["customer"] in live_ids

    assert int(frame["stripe_purchase_count"].sum()) == sum(map(assigned, purchases))
    assert (frame["stripe_mrr"] >= 0).all()
    assert frame["stripe_subscription_status"].notna().any()
    assert frame["stripe_rfm_segment"].notna().any()
