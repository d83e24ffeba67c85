"""Properties over random small ledgers: signs of totals, counts that add up, grouping that
does not depend on row order or email spelling, inputs left untouched, and a plain-Python
reference for the per-person counts and per-currency totals."""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stripe_cio.attributes import LedgerFrames, exponent

Kit = Any  # the `kit` fixture's class (tests/attributes/conftest.py)
AS_OF = 1_780_000_000
DAY = 86_400
EMAILS = ["ann@example.com", "bo@example.com", "cy@example.com", "di@example.com"]
CURRENCIES = ["usd", "eur", "jpy", "kwd"]
DISPUTE_STATUSES = ["lost", "won", "needs_response", "under_review", "warning_closed"]
SUB_STATUSES = ["active", "past_due", "trialing", "canceled", "unpaid", "incomplete_expired"]
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def spelled(email: str, case: int) -> str:
    """The same email as a person might type it."""
    return [email, email.upper(), f"  {email.title()} "][case % 3]


@dataclass
class Ledger:
    customers: list[dict[str, Any]]
    charges: list[dict[str, Any]]
    disputes: list[dict[str, Any]]
    subscriptions: list[dict[str, Any]]
    items: list[dict[str, Any]]


@st.composite
def ledgers(draw: st.DrawFn, disputes_within_net: bool = False) -> Ledger:
    n_customers = draw(st.integers(0, 6))
    customers = [
        {
            "id": f"cus_{i}",
            "email": draw(st.sampled_from([*[spelled(e, i) for e in EMAILS], None, " "])),
            "created": AS_OF - draw(st.integers(0, 900)) * DAY,
            "currency": draw(st.sampled_from([None, *CURRENCIES])),
            "delinquent": draw(st.booleans()),
            "deleted": draw(st.booleans()) and draw(st.booleans()),
        }
        for i in range(n_customers)
    ]
    owners = [c["id"] for c in customers] + [None, None, "cus_unknown"]
    charges: list[dict[str, Any]] = []
    for i in range(draw(st.integers(0, 25))):
        amount = draw(st.integers(1, 10_000))
        status = draw(st.sampled_from(["succeeded", "succeeded", "failed", "pending"]))
        captured = draw(st.integers(0, amount)) if status == "succeeded" else 0
        charges.append(
            {
                "id": f"ch_{i:03d}",
                "customer": draw(st.sampled_from(owners)),
                "created": AS_OF + draw(st.integers(-500 * DAY, DAY)),
                "status": status,
                "amount_captured": captured,
                "amount_refunded": draw(st.integers(0, captured)),
                "currency": draw(st.sampled_from(CURRENCIES)),
                "billing_email": draw(st.sampled_from([None, " ", *EMAILS, "NEW@example.com"])),
            }
        )
    disputes: list[dict[str, Any]] = []
    for charge in draw(st.lists(st.sampled_from(charges), max_size=6)) if charges else []:
        net = int(charge["amount_captured"]) - int(charge["amount_refunded"])
        status = draw(st.sampled_from(DISPUTE_STATUSES))
        if disputes_within_net and (net <= 0 or any(d["charge"] == charge["id"] for d in disputes)):
            continue
        limit = net if disputes_within_net else 20_000
        disputes.append(
            {"charge": charge["id"], "amount": draw(st.integers(1, limit)), "status": status}
        )
    subscriptions: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    for i in range(draw(st.integers(0, 5))):
        sub = f"sub_{i}"
        subscriptions.append(
            {
                "id": sub,
                "customer": draw(st.sampled_from(owners[:-2] or ["cus_unknown"])),
                "created": AS_OF - draw(st.integers(0, 900)) * DAY,
                "status": draw(st.sampled_from(SUB_STATUSES)),
                "currency": draw(st.sampled_from(CURRENCIES)),
                "cancel_at_period_end": draw(st.booleans()),
            }
        )
        for position in range(draw(st.integers(0, 3))):
            items.append(
                {
                    "subscription": sub,
                    "position": position,
                    "price": f"price_{draw(st.integers(0, 3))}",
                    "quantity": draw(st.sampled_from([None, 1, 2, 7])),
                    "price_currency": draw(st.sampled_from([None, *CURRENCIES])),
                    "unit_amount": draw(st.sampled_from([None, 0, 999, 12_345])),
                    "recurring_interval": draw(st.sampled_from(["day", "week", "month", "year"])),
                    "recurring_interval_count": draw(st.sampled_from([None, 1, 3, 12])),
                }
            )
    return Ledger(customers, charges, disputes, subscriptions, items)


def frames_of(kit: Kit, ledger: Ledger) -> LedgerFrames:
    frames: LedgerFrames = kit.frames(
        ledger.customers, ledger.charges, ledger.disputes, ledger.subscriptions, ledger.items
    )
    return frames


def reference(ledger: Ledger) -> dict[str, dict[str, Any]]:
    """Per-person counts and per-currency totals, computed row by row in plain Python."""
    person_of: dict[str, str] = {}
    for c in ledger.customers:
        key = (c["email"] or "").strip().lower()
        if not c["deleted"] and key:
            person_of[c["id"]] = key
    known = {c["id"] for c in ledger.customers}

    def blank() -> dict[str, Any]:
        return {"count": 0, "windows": Counter(), "spent": Counter()}

    out = {key: blank() for key in person_of.values()}  # a person exists without charges
    charge_person: dict[str, str] = {}
    for ch in ledger.charges:
        if ch["customer"] is None:
            key = (ch["billing_email"] or "").strip().lower()
        else:
            key = person_of.get(ch["customer"], "") if ch["customer"] in known else ""
        if not key:
            continue
        charge_person[ch["id"]] = key
        person = out.setdefault(key, blank())
        if ch["status"] == "succeeded" and ch["amount_captured"] > 0:
            person["count"] += 1
            person["spent"][ch["currency"]] += ch["amount_captured"] - ch["amount_refunded"]
            for days in (30, 90, 365):
                if AS_OF - days * DAY < ch["created"] <= AS_OF:
                    person["windows"][days] += 1
    purchases = {
        ch["id"]: ch
        for ch in ledger.charges
        if ch["status"] == "succeeded" and ch["amount_captured"] > 0
    }
    for d in ledger.disputes:
        if d["status"] == "lost" and d["charge"] in charge_person and d["charge"] in purchases:
            currency = purchases[d["charge"]]["currency"]
            out[charge_person[d["charge"]]]["spent"][currency] -= d["amount"]
    return out


@SETTINGS
@given(ledgers())
def test_counts_and_totals_match_a_plain_python_reference(kit: Kit, ledger: Ledger) -> None:
    computed = kit.compute(frames_of(kit, ledger))
    expected = reference(ledger)
    assert sorted(computed.persons) == sorted(expected)
    for key, want in expected.items():
        got = computed.person(key)
        assert got["purchase_count"] == want["count"]
        for days in (30, 90, 365):
            assert got[f"purchases_last_{days}d"] == want["windows"][days]
        by_currency = {c: v / 10 ** exponent(c) for c, v in want["spent"].items()}
        assert got.get("total_spent_by_currency", {}) == by_currency


@SETTINGS
@given(ledgers())
def test_counts_add_up(kit: Kit, ledger: Ledger) -> None:
    computed = kit.compute(frames_of(kit, ledger))
    frame, skipped = computed.frame, computed.result.skipped
    p = "stripe_"
    assert (frame[p + "purchases_last_30d"] <= frame[p + "purchases_last_90d"]).all()
    assert (frame[p + "purchases_last_90d"] <= frame[p + "purchases_last_365d"]).all()
    assert (frame[p + "purchases_last_365d"] <= frame[p + "purchase_count"]).all()
    assert (frame[p + "refund_count"] <= frame[p + "purchase_count"]).all()
    assert len(computed.persons) == len(set(computed.persons))
    assert sum(skipped.customers.values()) + sum(
        1 for c in ledger.customers if not c["deleted"] and (c["email"] or "").strip()
    ) == len(ledger.customers)
    assert int(frame[p + "dispute_count"].sum()) + sum(skipped.disputes.values()) == len(
        ledger.disputes
    )
    assigned = len(ledger.charges) - sum(skipped.charges.values())
    purchases = int(frame[p + "purchase_count"].sum())
    assert purchases <= assigned


@SETTINGS
@given(ledgers(disputes_within_net=True))
def test_totals_are_never_negative_when_lost_disputes_stay_within_the_net(
    kit: Kit, ledger: Ledger
) -> None:
    frame = kit.compute(frames_of(kit, ledger)).frame
    p = "stripe_"
    for name in ("total_spent", "refunded_total", "mrr"):
        assert (frame[p + name] >= 0).all(), name
    assert (frame[p + "average_order_value"].dropna() >= 0).all()
    for totals in frame[p + "total_spent_by_currency"].dropna():
        assert all(value >= 0 for value in totals.values())


@SETTINGS
@given(ledgers(), st.randoms(use_true_random=False), st.integers(0, 2))
def test_grouping_does_not_depend_on_row_order_or_email_spelling(
    kit: Kit, ledger: Ledger, random: Any, case: int
) -> None:
    expected = kit.compute(frames_of(kit, ledger)).frame
    shuffled = copy.deepcopy(ledger)
    for rows in (shuffled.customers, shuffled.charges, shuffled.disputes, shuffled.subscriptions):
        random.shuffle(rows)
    random.shuffle(shuffled.items)
    for customer in shuffled.customers:
        if customer["email"] and customer["email"].strip():
            customer["email"] = spelled(customer["email"].strip().lower(), case)
    got = kit.compute(frames_of(kit, shuffled)).frame
    pd.testing.assert_frame_equal(got, expected)


@SETTINGS
@given(ledgers())
def test_inputs_are_never_mutated(kit: Kit, ledger: Ledger) -> None:
    frames = frames_of(kit, ledger)
    before = copy.deepcopy(frames)
    kit.compute(frames)
    for name in (
        "customers",
        "charges",
        "disputes",
        "subscriptions",
        "subscription_items",
        "prices",
    ):
        pd.testing.assert_frame_equal(getattr(frames, name), getattr(before, name))
