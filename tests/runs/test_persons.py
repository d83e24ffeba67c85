"""Which persons a run sends: all, the first N, or those the latest Stripe events touched."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from stripe_cio import LedgerSettings
from stripe_cio.attributes import AttributeSettings
from stripe_cio.ledger import Ledger
from stripe_cio.runs import (
    TouchedCustomers,
    advance_attributes_mark,
    attributes_mark,
    complete_persons,
    person_updates,
    touched_customers,
    touched_persons,
)

EMAIL = AttributeSettings()
BY_ID = AttributeSettings.load({"identifier": "stripe_id", "prefix": "s_"})


def frame(settings: AttributeSettings, rows: dict[str, dict[str, Any]]) -> pd.DataFrame:
    data = pd.DataFrame.from_dict(rows, orient="index")
    data.columns = [settings.name(c) for c in data.columns]
    data.index.name = "person"
    return data


ATTRIBUTES = frame(
    EMAIL,
    {
        "ann@example.com": {"customer_id": "cus_A2", "customer_ids": ["cus_A1", "cus_A2"],
                            "total_spent": 10.5, "plan": None},
        "bob@example.com": {"customer_id": "cus_B", "customer_ids": None,
                            "total_spent": np.nan, "plan": "pro"},
        "guest@example.com": {"customer_id": None, "customer_ids": None,
                              "total_spent": 3.0, "plan": None},
    },
)  # fmt: skip


@pytest.mark.parametrize(
    ("incomplete", "guests_complete", "expected"),
    [
        (set(), True, ["ann@example.com", "bob@example.com", "guest@example.com"]),
        # A guest's purchases can only be read by a history read from the beginning.
        (set(), False, ["ann@example.com", "bob@example.com"]),
        # Any one of a person's customers incomplete makes the person incomplete.
        ({"cus_A1"}, True, ["bob@example.com", "guest@example.com"]),
        ({"cus_A2", "cus_B"}, False, []),
        ({"cus_unrelated"}, True, ["ann@example.com", "bob@example.com", "guest@example.com"]),
    ],
)
def test_complete_persons_are_those_whose_every_customer_is_complete(
    incomplete: set[str], guests_complete: bool, expected: list[str]
) -> None:
    complete = complete_persons(ATTRIBUTES, incomplete, guests_complete, EMAIL)
    assert list(ATTRIBUTES.index[complete.to_numpy(dtype=bool)]) == expected
    assert list(ATTRIBUTES.index) == ["ann@example.com", "bob@example.com", "guest@example.com"]


def test_updates_carry_the_identifier_and_leave_absent_values_out() -> None:
    updates = person_updates(ATTRIBUTES, EMAIL)
    assert [dict(u.identifiers) for u in updates] == [
        {"email": "ann@example.com"},
        {"email": "bob@example.com"},
        {"email": "guest@example.com"},
    ]
    assert updates[0].attributes == {
        "stripe_customer_id": "cus_A2",
        "stripe_customer_ids": ["cus_A1", "cus_A2"],
        "stripe_total_spent": 10.5,
    }
    assert updates[1].attributes == {"stripe_customer_id": "cus_B", "stripe_plan": "pro"}


def test_limit_takes_the_first_persons_and_persons_filters() -> None:
    assert [u.identifiers["email"] for u in person_updates(ATTRIBUTES, EMAIL, limit=2)] == [
        "ann@example.com",
        "bob@example.com",
    ]
    assert person_updates(ATTRIBUTES, EMAIL, limit=0) == []
    chosen = person_updates(ATTRIBUTES, EMAIL, persons=["guest@example.com"])
    assert [u.identifiers["email"] for u in chosen] == ["guest@example.com"]


def test_other_identifiers_are_sent_as_id() -> None:
    by_id = frame(BY_ID, {"cus_9": {"customer_id": "cus_9", "customer_ids": None}})
    [update] = person_updates(by_id, BY_ID)
    assert update.identifiers == {"id": "cus_9"}
    assert update.attributes == {"s_customer_id": "cus_9"}


@pytest.mark.parametrize(
    ("touched", "expected"),
    [
        (TouchedCustomers(frozenset({"cus_A1"})), ["ann@example.com"]),  # an older customer
        (TouchedCustomers(frozenset({"cus_B", "cus_gone"})), ["bob@example.com"]),
        (TouchedCustomers(guest_emails=frozenset({"guest@example.com"})), ["guest@example.com"]),
        (TouchedCustomers(), []),
    ],
)
def test_touched_persons_are_found_by_any_of_their_customers(
    touched: TouchedCustomers, expected: list[str]
) -> None:
    assert touched_persons(ATTRIBUTES, touched, EMAIL) == expected


def test_guests_are_persons_only_under_the_email_identifier() -> None:
    by_id = frame(BY_ID, {"cus_9": {"customer_id": "cus_9", "customer_ids": None}})
    touched = TouchedCustomers(guest_emails=frozenset({"cus_9"}))
    assert touched_persons(by_id, touched, BY_ID) == []


# --- from the ledger's processed events -------------------------------------------------------


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(LedgerSettings.load({"database_url": f"sqlite:///{tmp_path / 'l.db'}"})) as it:
        yield it


def event(number: int, created: int, obj: dict[str, Any]) -> dict[str, Any]:
    kind = obj["object"]
    return {
        "id": f"evt_{number}",
        "object": "event",
        "type": f"{'charge.dispute' if kind == 'dispute' else kind}.updated",
        "created": created,
        "livemode": False,
        "api_version": "2025-03-31.basil",
        "data": {"object": obj},
    }


def charge(charge_id: str, customer: str | None, email: str | None) -> dict[str, Any]:
    return {
        "id": charge_id, "object": "charge", "created": 100, "livemode": False,
        "status": "succeeded", "amount": 500, "amount_captured": 500, "amount_refunded": 0,
        "currency": "usd", "customer": customer, "billing_details": {"email": email},
    }  # fmt: skip


def test_touched_customers_come_from_events_since_a_time(ledger: Ledger) -> None:
    customer = {"id": "cus_C", "object": "customer", "created": 50, "email": "c@example.com"}
    dispute = {"id": "dp_1", "object": "dispute", "created": 300, "charge": "ch_2",
               "amount": 500, "currency": "usd", "status": "needs_response"}  # fmt: skip
    events = [
        event(1, 1_000, customer),
        event(2, 2_000, charge("ch_1", "cus_D", None)),
        event(3, 3_000, charge("ch_2", "cus_E", None)),
        event(4, 4_000, charge("ch_3", None, "  Guest@Example.com ")),
        event(5, 5_000, dispute),
    ]
    result = ledger.apply_events(events, cursor=5_000)
    assert result.applied == 5
    assert result.rejected == {}
    everything = touched_customers(ledger.engine, None)
    assert everything.customers == {"cus_C", "cus_D", "cus_E"}
    assert everything.guest_emails == {"guest@example.com"}
    # Since 3,500: the guest's charge, and the dispute, whose customer is its charge's.
    later = touched_customers(ledger.engine, 3_500)
    assert later == TouchedCustomers(frozenset({"cus_E"}), frozenset({"guest@example.com"}))


def test_the_attributes_mark_only_moves_forward(ledger: Ledger) -> None:
    assert attributes_mark(ledger.engine) is None
    advance_attributes_mark(ledger.engine, 2_000)
    advance_attributes_mark(ledger.engine, 1_000)
    assert attributes_mark(ledger.engine) == 2_000
    assert ledger.events_cursor() is None  # a cursor of its own, beside the events cursor
