"""Lifecycle settings: defaults, the environment, and one-line errors for bad values."""

from __future__ import annotations

from typing import Any

import pytest

from stripe_cio import ConfigError
from stripe_cio.lifecycle import (
    DEFAULT_EVENT_NAMES,
    LifecycleSettings,
    lifecycle_settings_from_env,
)


def test_defaults() -> None:
    settings = lifecycle_settings_from_env({})
    assert settings == LifecycleSettings.load({})
    assert not settings.payment_intent_events
    assert not settings.send_backfill_events
    assert settings.customer_deleted == "attribute"
    for stripe_type, name in DEFAULT_EVENT_NAMES.items():
        assert settings.event_name(stripe_type) == name
    assert settings.event_name("customer.updated") is None


def test_everything_from_the_environment() -> None:
    settings = lifecycle_settings_from_env(
        {
            "STRIPE_CIO_EVENT_NAMES": " invoice.paid=receipt ,charge.failed=card_failed,",
            "STRIPE_CIO_EVENTS_DISABLED": "customer.created, customer.deleted",
            "STRIPE_CIO_PAYMENT_INTENT_EVENTS": "yes",
            "STRIPE_CIO_SEND_BACKFILL_EVENTS": " TRUE ",
            "STRIPE_CIO_CUSTOMER_DELETED": "Suppress",
        }
    )
    assert settings.event_names == {"invoice.paid": "receipt", "charge.failed": "card_failed"}
    assert settings.event_name("invoice.paid") == "receipt"
    assert settings.disabled == {"customer.created", "customer.deleted"}
    assert settings.event_name("customer.created") is None
    assert settings.payment_intent_events
    assert settings.send_backfill_events
    assert settings.customer_deleted == "suppress"


def test_blank_variables_mean_the_defaults() -> None:
    env = {name: " " for name in ("STRIPE_CIO_EVENT_NAMES", "STRIPE_CIO_EVENTS_DISABLED",
                                  "STRIPE_CIO_PAYMENT_INTENT_EVENTS",
                                  "STRIPE_CIO_SEND_BACKFILL_EVENTS",
                                  "STRIPE_CIO_CUSTOMER_DELETED")}  # fmt: skip
    assert lifecycle_settings_from_env(env) == LifecycleSettings.load({})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"STRIPE_CIO_EVENT_NAMES": "charge.foo=x"},
            "STRIPE_CIO_EVENT_NAMES: 'charge.foo' is not a Stripe event type that stripe-cio "
            "maps; set the environment variable STRIPE_CIO_EVENT_NAMES",
        ),
        (
            {"STRIPE_CIO_EVENT_NAMES": "invoice.paid"},
            "STRIPE_CIO_EVENT_NAMES: 'invoice.paid' is not a pair such as "
            "charge.failed=payment_failed; set the environment variable STRIPE_CIO_EVENT_NAMES",
        ),
        (
            {"STRIPE_CIO_EVENT_NAMES": "invoice.paid= "},
            "STRIPE_CIO_EVENT_NAMES: gives invoice.paid an empty name; disable it instead; "
            "set the environment variable STRIPE_CIO_EVENT_NAMES",
        ),
        (
            {"STRIPE_CIO_EVENT_NAMES": "invoice.paid=" + "x" * 101},
            "STRIPE_CIO_EVENT_NAMES: gives invoice.paid a name longer than Customer.io's 100 "
            "bytes; set the environment variable STRIPE_CIO_EVENT_NAMES",
        ),
        (
            {"STRIPE_CIO_EVENT_NAMES": "customer.deleted=gone"},
            "STRIPE_CIO_EVENT_NAMES: customer.deleted sends no event, so it has no name to "
            "change; set the environment variable STRIPE_CIO_EVENT_NAMES",
        ),
        (
            {"STRIPE_CIO_EVENTS_DISABLED": "charge.succeeded,customer.updated"},
            "STRIPE_CIO_EVENTS_DISABLED: 'customer.updated' is not a Stripe event type that "
            "stripe-cio maps; set the environment variable STRIPE_CIO_EVENTS_DISABLED",
        ),
        (
            {"STRIPE_CIO_PAYMENT_INTENT_EVENTS": "maybe"},
            "STRIPE_CIO_PAYMENT_INTENT_EVENTS: must be true or false; set the environment "
            "variable STRIPE_CIO_PAYMENT_INTENT_EVENTS",
        ),
        (
            {"STRIPE_CIO_SEND_BACKFILL_EVENTS": "2"},
            "STRIPE_CIO_SEND_BACKFILL_EVENTS: must be true or false; set the environment "
            "variable STRIPE_CIO_SEND_BACKFILL_EVENTS",
        ),
        (
            {"STRIPE_CIO_CUSTOMER_DELETED": "erase"},
            "STRIPE_CIO_CUSTOMER_DELETED: must be attribute, delete or suppress; set the "
            "environment variable STRIPE_CIO_CUSTOMER_DELETED",
        ),
    ],
)
def test_bad_values_stop_with_one_line(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        lifecycle_settings_from_env(env)
    assert str(raised.value) == message
    assert "\n" not in str(raised.value)


def test_settings_in_code_take_mappings_and_lists() -> None:
    settings = LifecycleSettings.load(
        {"event_names": {"invoice.paid": "receipt"}, "disabled": ["charge.refunded"]}
    )
    assert settings.event_name("invoice.paid") == "receipt"
    assert settings.event_name("charge.refunded") is None
    with pytest.raises(ConfigError, match=r"^lifecycle\.colour: is not a known setting"):
        LifecycleSettings.load({"colour": "blue"})


def test_settings_are_frozen() -> None:
    settings: Any = LifecycleSettings.load({})
    with pytest.raises(ValueError, match="frozen"):
        settings.customer_deleted = "delete"
