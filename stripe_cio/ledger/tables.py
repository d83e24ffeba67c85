"""The ledger's tables as sqlmodel models: one per Stripe resource, plus bookkeeping tables.

Only portable types: integers (Unix seconds, minor units), strings, booleans and JSON as text,
so that the same models serve SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, Integer, MetaData, Table, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class _LedgerModel(SQLModel, registry=registry()):
    """Base of the ledger's models: their own metadata, apart from any other SQLModel tables."""


class _StripeObject(_LedgerModel):
    """Columns every resource table has."""

    id: str = Field(primary_key=True)
    # Null only for rows known from a deletion stub alone.
    created: int | None = Field(default=None, sa_type=BigInteger, index=True)
    livemode: bool | None = None
    # Stripe time (Unix s) at which this state of the object was true; see docs/ledger.md.
    observed_at: int = Field(sa_type=BigInteger)
    raw: str = Field(sa_type=Text)  # the object's JSON as received


class Customer(_StripeObject, table=True):
    __tablename__ = "customers"
    email: str | None = None  # as given: trimming and case folding belong to the attributes
    # `email_key(email)`: finds the other customers of a person by email (migration 6).
    email_key: str | None = Field(default=None, index=True)
    name: str | None = None
    currency: str | None = None
    delinquent: bool | None = None
    deleted: bool = False
    metadata_json: str | None = Field(default=None, sa_column=Column("metadata", Text))


class Charge(_StripeObject, table=True):
    __tablename__ = "charges"
    customer: str | None = Field(default=None, index=True)
    status: str
    amount: int = Field(sa_type=BigInteger)
    amount_captured: int = Field(sa_type=BigInteger)
    amount_refunded: int = Field(sa_type=BigInteger)  # basil semantics, whatever the version
    currency: str
    captured: bool | None = None
    refunded: bool | None = None
    paid: bool | None = None
    disputed: bool | None = None
    billing_email: str | None = None
    # `email_key(billing_email)` of a charge without a customer (a guest's), else null: finds
    # a person's guest charges by email (migration 6).
    guest_email_key: str | None = Field(default=None, index=True)
    payment_intent: str | None = Field(default=None, index=True)
    invoice: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    outcome_reason: str | None = None
    description: str | None = None
    receipt_url: str | None = None


class Refund(_StripeObject, table=True):
    __tablename__ = "refunds"
    charge: str | None = Field(default=None, index=True)
    payment_intent: str | None = None
    amount: int = Field(sa_type=BigInteger)
    currency: str
    status: str | None = None
    reason: str | None = None


class Dispute(_StripeObject, table=True):
    __tablename__ = "disputes"
    charge: str | None = Field(default=None, index=True)
    payment_intent: str | None = None
    amount: int = Field(sa_type=BigInteger)
    currency: str
    status: str
    reason: str | None = None
    evidence_due_by: int | None = Field(default=None, sa_type=BigInteger)


class PaymentIntent(_StripeObject, table=True):
    __tablename__ = "payment_intents"
    customer: str | None = Field(default=None, index=True)
    status: str
    amount: int = Field(sa_type=BigInteger)
    amount_received: int | None = Field(default=None, sa_type=BigInteger)
    currency: str
    latest_charge: str | None = None


class Subscription(_StripeObject, table=True):
    __tablename__ = "subscriptions"
    customer: str | None = Field(default=None, index=True)
    status: str
    currency: str
    start_date: int | None = Field(default=None, sa_type=BigInteger)
    trial_start: int | None = Field(default=None, sa_type=BigInteger)
    trial_end: int | None = Field(default=None, sa_type=BigInteger)
    cancel_at_period_end: bool | None = None
    cancel_at: int | None = Field(default=None, sa_type=BigInteger)
    canceled_at: int | None = Field(default=None, sa_type=BigInteger)
    ended_at: int | None = Field(default=None, sa_type=BigInteger)
    cancellation_reason: str | None = None
    cancellation_feedback: str | None = None


class SubscriptionItem(_LedgerModel, table=True):
    """One item of a subscription, replaced wholesale whenever the subscription is written."""

    __tablename__ = "subscription_items"
    id: str = Field(primary_key=True)
    subscription: str = Field(index=True)
    position: int  # index in Stripe's items list: attributes take "the first item"
    price: str | None = Field(default=None, index=True)
    quantity: int | None = Field(default=None, sa_type=BigInteger)
    price_currency: str | None = None
    unit_amount: int | None = Field(default=None, sa_type=BigInteger)
    recurring_interval: str | None = None
    recurring_interval_count: int | None = None


class Price(_StripeObject, table=True):
    __tablename__ = "prices"
    product: str | None = Field(default=None, index=True)
    active: bool | None = None
    currency: str | None = None  # null only on deletion stubs
    unit_amount: int | None = Field(default=None, sa_type=BigInteger)
    nickname: str | None = None
    lookup_key: str | None = None
    type: str | None = None
    recurring_interval: str | None = None
    recurring_interval_count: int | None = None
    deleted: bool = False


class Product(_StripeObject, table=True):
    __tablename__ = "products"
    name: str | None = None
    active: bool | None = None
    deleted: bool = False


class Invoice(_StripeObject, table=True):
    __tablename__ = "invoices"
    customer: str | None = Field(default=None, index=True)
    subscription: str | None = Field(default=None, index=True)
    status: str | None = None
    number: str | None = None
    currency: str
    amount_due: int = Field(sa_type=BigInteger)
    amount_paid: int = Field(sa_type=BigInteger)
    attempt_count: int | None = None
    next_payment_attempt: int | None = Field(default=None, sa_type=BigInteger)
    hosted_invoice_url: str | None = None
    invoice_pdf: str | None = None


class CheckoutSession(_StripeObject, table=True):
    __tablename__ = "checkout_sessions"
    customer: str | None = Field(default=None, index=True)
    customer_email: str | None = None
    mode: str | None = None
    status: str | None = None
    payment_status: str | None = None
    amount_total: int | None = Field(default=None, sa_type=BigInteger)
    currency: str | None = None
    payment_intent: str | None = None
    subscription: str | None = None
    invoice: str | None = None


class ProcessedEvent(_LedgerModel, table=True):
    """An event whose data.object has been applied; lifecycle events are mapped from `raw`."""

    __tablename__ = "processed_events"
    id: str = Field(primary_key=True)
    type: str = Field(index=True)
    created: int = Field(sa_type=BigInteger, index=True)
    api_version: str | None = None
    livemode: bool | None = None
    object_type: str | None = None
    object_id: str | None = Field(default=None, index=True)
    customer: str | None = Field(default=None, index=True)
    raw: str = Field(sa_type=Text)
    processed_at: int = Field(sa_type=BigInteger)  # wall clock, Unix s


class SyncCursor(_LedgerModel, table=True):
    __tablename__ = "sync_cursors"
    name: str = Field(primary_key=True)
    value: int = Field(sa_type=BigInteger)


class BackfillSlice(_LedgerModel, table=True):
    """A [start, end) created-range of a backfill run that was written completely."""

    __tablename__ = "backfill_slices"
    resource: str = Field(primary_key=True)
    run: str = Field(primary_key=True)
    start: int = Field(
        sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    end: int = Field(
        sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    count: int = Field(sa_type=BigInteger)
    completed_at: int = Field(sa_type=BigInteger)  # wall clock, Unix s


class BackfillRunRow(_LedgerModel, table=True):
    """A backfill run: what it set out to read, when it started, whether it completed or was
    abandoned."""

    __tablename__ = "backfill_runs"
    run: str = Field(primary_key=True)  # "backfill-<T0>"
    since: int = Field(sa_type=BigInteger)
    t0: int = Field(sa_type=BigInteger)
    resources: str  # the resources read, comma-separated
    started_at: int = Field(sa_type=BigInteger)  # wall clock, Unix s: the first attempt's
    completed_at: int | None = Field(default=None, sa_type=BigInteger)  # wall clock, Unix s
    # Wall clock, Unix s: a new read (`backfill --restart`) replaced it; it is not resumed.
    abandoned_at: int | None = Field(default=None, sa_type=BigInteger)  # migration 5


class CustomerHistory(_LedgerModel, table=True):
    """A customer whose history was read from Stripe customer by customer (see coverage)."""

    __tablename__ = "customer_histories"
    customer: str = Field(primary_key=True)
    fetched_at: int = Field(sa_type=BigInteger)  # Stripe time of the fetch, Unix s
    outcome: str  # "complete", "deleted" or "unknown"


class RejectRow(_LedgerModel, table=True):
    """An object the ledger could not take, with the reason and the raw JSON (or its repr)."""

    __tablename__ = "rejects"
    id: int | None = Field(default=None, primary_key=True, sa_type=Integer)
    resource: str = Field(index=True)
    object_id: str | None = None
    reason: str
    raw: str = Field(sa_type=Text)
    created_at: int = Field(sa_type=BigInteger)  # wall clock, Unix s


class RankCutRow(_LedgerModel, table=True):
    """A cut-point list of the rank attributes, from the latest full computation: a sync
    scores the persons it touches against them (see attributes/rfm.py)."""

    __tablename__ = "rank_cuts"
    name: str = Field(primary_key=True)  # "recency", "frequency" or "monetary:<currency>"
    cuts: str  # JSON list of the four cut-points
    persons: int = Field(sa_type=BigInteger)  # how many persons they were cut from
    as_of: int = Field(sa_type=BigInteger)  # the computation's time, Unix s
    computed_at: int = Field(sa_type=BigInteger)  # wall clock, Unix s


class WebhookInboxRow(_LedgerModel, table=True):
    """A verified webhook event not applied from its payload (another API version than ours):
    kept until the receiver has read it again through the API, as the events poll would."""

    __tablename__ = "webhook_inbox"
    id: str = Field(primary_key=True)  # the event id
    created: int = Field(sa_type=BigInteger)
    api_version: str | None = None
    received_at: int = Field(sa_type=BigInteger)  # wall clock, Unix s


class WebhookPendingRow(_LedgerModel, table=True):
    """A verified webhook event new to the ledger whose delivery (its persons' attributes, its
    lifecycle events) has not yet run: written with the event, before the 2xx, and removed once
    a delivery round has sent what it changed, so that a receiver stopped or killed in between
    delivers it when it starts again (and the poll sends it meanwhile)."""

    __tablename__ = "webhook_pending"
    id: str = Field(primary_key=True)  # the event id
    received_at: float = Field(index=True)  # wall clock, Unix s: rounds take the oldest first


class WebhookCountRow(_LedgerModel, table=True):
    """A counter of the webhook receiver (received, verified, rejected:<reason>, ...), kept
    across restarts and read by `stripe-cio status`."""

    __tablename__ = "webhook_counts"
    name: str = Field(primary_key=True)
    value: int = Field(sa_type=BigInteger)
    updated_at: int = Field(sa_type=BigInteger)  # wall clock, Unix s


class SchemaVersion(_LedgerModel, table=True):
    __tablename__ = "schema_version"
    version: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    applied_at: int = Field(sa_type=BigInteger)


LEDGER_METADATA: MetaData = _LedgerModel.metadata

# Added to existing ledgers by MIGRATIONS[4] (`schema.py`).
COVERAGE_TABLES: tuple[Table, ...] = tuple(
    LEDGER_METADATA.tables[name] for name in ("backfill_runs", "customer_histories")
)

# Added to existing ledgers by MIGRATIONS[6] (`schema.py`).
RANK_TABLES: tuple[Table, ...] = (LEDGER_METADATA.tables["rank_cuts"],)

# Added to existing ledgers by MIGRATIONS[7] (`schema.py`).
WEBHOOK_TABLES: tuple[Table, ...] = tuple(
    LEDGER_METADATA.tables[name] for name in ("webhook_inbox", "webhook_pending", "webhook_counts")
)


def table(name: str) -> Table:
    """The ledger table called `name`."""
    return LEDGER_METADATA.tables[name]


def __getattr__(name: str) -> Any:
    """RESOURCE_TABLES, under its old name here: the resource registry derives it
    (`resources.py`, which imports this module's tables)."""
    if name == "RESOURCE_TABLES":
        from . import resources

        return resources.RESOURCE_TABLES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
