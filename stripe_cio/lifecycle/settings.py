"""Lifecycle event settings: names, disabled events, the payment-intent switch, backfills."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import Field, field_validator

from ..cio_api import MAX_EVENT_NAME_BYTES
from ..settings_base import (
    EnvSource,
    SettingsSection,
    empty_to_none,
    section_env,
    section_env_names,
)
from .rules import RULES

# Stripe event type -> the Customer.io event it becomes unless renamed (docs/events.md).
DEFAULT_EVENT_NAMES: Mapping[str, str] = {t: rule.event_name for t, rule in RULES.items()}
# Sends no event: it marks, deletes or suppresses the person (`customer_deleted`).
CUSTOMER_DELETED = "customer.deleted"
_DELETED_MODES = ("attribute", "delete", "suppress")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}

# Field -> environment variable; the names are declared with every other setting's (ENV_NAMES).
LIFECYCLE_ENV_NAMES: Mapping[str, str] = section_env_names("lifecycle")


def _known_type(name: str, *, renaming: bool) -> str:
    name = name.strip()
    if name == CUSTOMER_DELETED and renaming:
        raise ValueError(f"{CUSTOMER_DELETED} sends no event, so it has no name to change")
    if name not in DEFAULT_EVENT_NAMES and name != CUSTOMER_DELETED:
        raise ValueError(f"{name!r} is not a Stripe event type that stripe-cio maps")
    return name


def _pairs(value: Any) -> Iterable[tuple[Any, Any]]:
    """`type=name` pairs from "a=b, c=d" or a mapping."""
    if isinstance(value, Mapping):
        return value.items()
    if not isinstance(value, str):
        raise ValueError("must be Stripe event type = event name pairs, such as charge.failed=x")
    pairs = []
    for part in value.split(","):
        if not part.strip():
            continue
        key, equals, name = part.partition("=")
        if not equals:
            raise ValueError(f"{part.strip()!r} is not a pair such as charge.failed=payment_failed")
        pairs.append((key, name))
    return pairs


def _flag(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise ValueError("must be true or false")
    return value


class LifecycleSettings(SettingsSection):
    """Which Stripe events become Customer.io events, under which names, and when.

    `event_names` renames events (Stripe type -> Customer.io name) and `disabled` turns Stripe
    types off; `payment_intent_events` maps payment_intent.succeeded / .payment_failed instead
    of charge.succeeded / .failed; `send_backfill_events` also sends events replayed during a
    backfill (with their original timestamps); `customer_deleted` is what customer.deleted
    does: set the `<prefix>customer_deleted_at` attribute, or delete or suppress the person.
    """

    section: Literal["lifecycle"] = "lifecycle"
    event_names: dict[str, str] = Field(default_factory=dict)
    disabled: frozenset[str] = frozenset()
    payment_intent_events: bool = False
    send_backfill_events: bool = False
    customer_deleted: Literal["attribute", "delete", "suppress"] = "attribute"

    @field_validator("event_names", mode="before")
    @classmethod
    def _check_names(cls, value: Any) -> Any:
        value = empty_to_none(value)
        if value is None:
            return {}
        names: dict[str, str] = {}
        for key, name in _pairs(value):
            if not isinstance(key, str) or not isinstance(name, str):
                raise ValueError("must map Stripe event types to event names (text)")
            stripe_type = _known_type(key, renaming=True)
            name = name.strip()
            if not name:
                raise ValueError(f"gives {stripe_type} an empty name; disable it instead")
            if len(name.encode()) > MAX_EVENT_NAME_BYTES:
                raise ValueError(
                    f"gives {stripe_type} a name longer than Customer.io's "
                    f"{MAX_EVENT_NAME_BYTES} bytes"
                )
            names[stripe_type] = name
        return names

    @field_validator("disabled", mode="before")
    @classmethod
    def _check_disabled(cls, value: Any) -> Any:
        value = empty_to_none(value)
        if value is None:
            return frozenset()
        parts = value.split(",") if isinstance(value, str) else value
        if not isinstance(parts, Iterable):
            raise ValueError("must be a list of Stripe event types, such as charge.succeeded")
        types = set()
        for part in parts:
            if not isinstance(part, str):
                raise ValueError("must be a list of Stripe event types, such as charge.succeeded")
            if part.strip():
                types.add(_known_type(part, renaming=False))
        return frozenset(types)

    @field_validator("payment_intent_events", "send_backfill_events", mode="before")
    @classmethod
    def _check_flag(cls, value: Any) -> Any:
        value = empty_to_none(value)
        return False if value is None else _flag(value)

    @field_validator("customer_deleted", mode="before")
    @classmethod
    def _check_deleted(cls, value: Any) -> Any:
        value = empty_to_none(value)
        if value is None:
            return "attribute"
        text = value.strip().lower() if isinstance(value, str) else value
        if text not in _DELETED_MODES:
            raise ValueError("must be attribute, delete or suppress")
        return text

    def event_name(self, stripe_type: str) -> str | None:
        """The Customer.io name of a mapped Stripe event type; None when it is disabled."""
        if stripe_type in self.disabled:
            return None
        return self.event_names.get(stripe_type) or DEFAULT_EVENT_NAMES.get(stripe_type)


def lifecycle_settings_from_env(env: Mapping[str, str] | None = None) -> LifecycleSettings:
    """Lifecycle settings from the STRIPE_CIO_* variables in LIFECYCLE_ENV_NAMES."""
    env = os.environ if env is None else env
    return LifecycleSettings.load(section_env(env, "lifecycle"), EnvSource())
