"""Builders of tiny hand-written ledger frames, and the attributes computed from them.

Test modules reach them through the `kit` fixture (importlib mode: they cannot import this
conftest). Amounts are minor units; times are Unix seconds around AS_OF.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pytest

from stripe_cio.attributes import (
    AttributeResult,
    AttributeSettings,
    LedgerFrames,
    attribute_dict,
    compute_attributes,
    frame_from_records,
)

AS_OF = 1_780_000_000
DAY = 86_400
T0 = AS_OF - 400 * DAY  # when the test customers were created

Row = dict[str, Any]


@dataclass(frozen=True)
class Computed:
    """Attributes computed from hand-written frames, with helpers to read them."""

    result: AttributeResult
    settings: AttributeSettings

    @property
    def frame(self) -> pd.DataFrame:
        return self.result.attributes

    @property
    def persons(self) -> list[str]:
        return [str(person) for person in self.frame.index]

    def person(self, key: str) -> dict[str, Any]:
        """The attributes to send for one person, without the prefix."""
        row = self.frame.loc[key]
        assert isinstance(row, pd.Series)
        sent = attribute_dict(row)
        prefix = self.settings.prefix
        return {name.removeprefix(prefix): value for name, value in sent.items()}


class Kit:
    AS_OF = AS_OF
    DAY = DAY
    T0 = T0

    @staticmethod
    def customer(id: str, email: str | None = None, *, created: int = T0, **fields: Any) -> Row:
        return {"id": id, "email": email, "created": created, "deleted": False, **fields}

    @staticmethod
    def charge(
        id: str,
        customer: str | None = None,
        *,
        created: int = AS_OF - 10 * DAY,
        amount: int = 1000,
        captured: int | None = None,
        refunded: int = 0,
        currency: str = "usd",
        status: str = "succeeded",
        billing_email: str | None = None,
    ) -> Row:
        if captured is None:
            captured = amount if status == "succeeded" else 0
        return {
            "id": id,
            "customer": customer,
            "created": created,
            "status": status,
            "amount_captured": captured,
            "amount_refunded": refunded,
            "currency": currency,
            "billing_email": billing_email,
        }

    @staticmethod
    def dispute(charge: str, amount: int, status: str) -> Row:
        return {"charge": charge, "amount": amount, "status": status}

    @staticmethod
    def subscription(
        id: str, customer: str, *, created: int = T0, status: str = "active", **fields: Any
    ) -> Row:
        row = {"id": id, "customer": customer, "created": created, "status": status}
        defaults = {"currency": "usd", "start_date": created, "cancel_at_period_end": False}
        return {**defaults, **row, **fields}

    @staticmethod
    def item(
        subscription: str,
        unit_amount: int | None = 1000,
        *,
        position: int = 0,
        price: str = "price_basic",
        quantity: int | None = 1,
        interval: str | None = "month",
        interval_count: int | None = 1,
        currency: str | None = "usd",
    ) -> Row:
        return {
            "subscription": subscription,
            "position": position,
            "price": price,
            "quantity": quantity,
            "price_currency": currency,
            "unit_amount": unit_amount,
            "recurring_interval": interval,
            "recurring_interval_count": interval_count,
        }

    @staticmethod
    def price(id: str, nickname: str | None = None, lookup_key: str | None = None) -> Row:
        return {"id": id, "nickname": nickname, "lookup_key": lookup_key}

    @staticmethod
    def joined(
        disputes: Iterable[Mapping[str, Any]], charges: Iterable[Mapping[str, Any]]
    ) -> list[Row]:
        """Disputes with their charge's fields, as the ledger loader joins them."""
        by_id = {charge["id"]: charge for charge in charges}
        rows = []
        for dispute in disputes:
            charge = by_id.get(dispute["charge"], {})
            guest = charge and charge.get("customer") is None
            rows.append(
                {
                    **dispute,
                    "charge_customer": charge.get("customer"),
                    "charge_billing_email": charge.get("billing_email") if guest else None,
                    "charge_status": charge.get("status"),
                    "charge_amount_captured": charge.get("amount_captured"),
                    "charge_currency": charge.get("currency"),
                }
            )
        return rows

    @staticmethod
    def frames(
        customers: Iterable[Mapping[str, Any]] = (),
        charges: Iterable[Mapping[str, Any]] = (),
        disputes: Iterable[Mapping[str, Any]] = (),
        subscriptions: Iterable[Mapping[str, Any]] = (),
        items: Iterable[Mapping[str, Any]] = (),
        prices: Iterable[Mapping[str, Any]] = (),
    ) -> LedgerFrames:
        charges = list(charges)
        return LedgerFrames(
            customers=frame_from_records("customers", customers),
            charges=frame_from_records("charges", charges),
            disputes=frame_from_records("disputes", Kit.joined(disputes, charges)),
            subscriptions=frame_from_records("subscriptions", subscriptions),
            subscription_items=frame_from_records("subscription_items", items),
            prices=frame_from_records("prices", prices),
        )

    @staticmethod
    def compute(
        frames: LedgerFrames | None = None,
        *,
        as_of: int = AS_OF,
        settings: AttributeSettings | None = None,
        **tables: Iterable[Mapping[str, Any]],
    ) -> Computed:
        settings = settings or AttributeSettings()
        frames = frames if frames is not None else Kit.frames(**tables)
        return Computed(compute_attributes(frames, as_of, settings), settings)


@pytest.fixture(scope="session")
def kit() -> type[Kit]:
    return Kit
