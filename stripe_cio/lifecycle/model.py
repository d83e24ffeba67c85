"""What the mapping reads besides the event (ledger records) and what it gives back."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ..deliver import EventItem


@dataclass(frozen=True)
class CustomerRecord:
    """A customer as the ledger holds it now: what resolving its person needs."""

    id: str
    email: str | None = None  # as given
    metadata: Mapping[str, Any] = field(default_factory=dict)
    deleted: bool = False


@dataclass(frozen=True)
class ChargeRecord:
    """A charge as the ledger holds it: its person (disputes, guests' payment intents)."""

    id: str
    customer: str | None = None
    billing_email: str | None = None
    receipt_url: str | None = None


@dataclass(frozen=True)
class PriceRecord:
    """A price, for subscription items that carry only its id."""

    id: str
    nickname: str | None = None
    lookup_key: str | None = None
    currency: str | None = None
    unit_amount: int | None = None
    interval: str | None = None
    interval_count: int | None = None


class Lookup(Protocol):
    """Read-only access to ledger records; the caller fills it (see `LedgerLookup`)."""

    def customer(self, customer_id: str) -> CustomerRecord | None: ...

    def charge(self, charge_id: str) -> ChargeRecord | None: ...

    def price(self, price_id: str) -> PriceRecord | None: ...


@dataclass(frozen=True)
class LedgerLookup:
    """A `Lookup` over records already read from the ledger, by id."""

    customers: Mapping[str, CustomerRecord] = field(default_factory=dict)
    charges: Mapping[str, ChargeRecord] = field(default_factory=dict)
    prices: Mapping[str, PriceRecord] = field(default_factory=dict)

    def customer(self, customer_id: str) -> CustomerRecord | None:
        return self.customers.get(customer_id)

    def charge(self, charge_id: str) -> ChargeRecord | None:
        return self.charges.get(charge_id)

    def price(self, price_id: str) -> PriceRecord | None:
        return self.prices.get(price_id)


@dataclass(frozen=True)
class PersonAction:
    """A change to a person rather than an event: identify (attributes), delete or suppress.

    `update_only` sends `_update: true`, so an identify never creates a person
    (https://docs.customer.io/api/track/, `identify_person.attributes._update`).
    """

    identifiers: Mapping[str, str]
    action: Literal["identify", "delete", "suppress"]
    stripe_event_id: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    update_only: bool = False


@dataclass(frozen=True)
class Mapped:
    """What one Stripe event becomes: identifies sent before the events, then the events, and
    person changes (customer.deleted) sent after every event of the run."""

    events: tuple[EventItem, ...] = ()
    before: tuple[PersonAction, ...] = ()
    after: tuple[PersonAction, ...] = ()

    @property
    def items(self) -> int:
        return len(self.events) + len(self.before) + len(self.after)


@dataclass(frozen=True)
class Skipped:
    """Why a Stripe event sends nothing (a reason counted in the run summary)."""

    reason: str


@dataclass(frozen=True)
class Source:
    """One event's `data` and context, as the row builders take it."""

    obj: Mapping[str, Any]  # data.object, as it stood when the event happened
    previous: Any  # data.previous_attributes (updates only), else None
    api_version: str | None  # the version data.object is rendered in (None: current)
    lookup: Lookup


# A row's `data` keys besides stripe_event_id and livemode (or SkipEvent: nothing to send).
Builder = Callable[[Source], dict[str, Any]]
