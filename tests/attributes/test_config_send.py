"""Attribute settings (validation, environment) and the dicts sent per person."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from stripe_cio import ConfigError
from stripe_cio.attributes import (
    AttributeSettings,
    attribute_dict,
    attribute_dicts,
    attribute_settings_from_env,
)

Kit = Any  # the `kit` fixture's class (tests/attributes/conftest.py)


def test_defaults() -> None:
    settings = AttributeSettings.load({})
    assert settings.prefix == "stripe_"
    assert settings.identifier == "email"
    assert settings.identifier_kind == "email"
    assert settings.metadata_key is None
    assert settings.name("mrr") == "stripe_mrr"


def test_identifier_strategies() -> None:
    assert AttributeSettings.load({"identifier": " stripe_id "}).identifier_kind == "stripe_id"
    meta = AttributeSettings.load({"identifier": "metadata:user_id"})
    assert (meta.identifier_kind, meta.metadata_key) == ("metadata", "user_id")
    assert AttributeSettings.load({"prefix": ""}).name("mrr") == "mrr"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"identifier": "phone"}, "identifier: must be email, stripe_id or metadata:<key>"),
        ({"identifier": "metadata:"}, "identifier: needs a Stripe metadata key"),
        ({"identifier": "metadata:a[b]"}, "identifier: needs a Stripe metadata key"),
        ({"identifier": "metadata:" + "k" * 41}, "identifier: needs a Stripe metadata key"),
        ({"prefix": "stripe-"}, "prefix: may contain only letters, digits and underscores"),
        ({"prefix": "p" * 127}, "prefix: is too long"),
        ({"prefix": 5}, "prefix: must be text"),
        ({"colour": "red"}, "colour: is not a known setting"),
    ],
)
def test_bad_settings_fail_in_one_line(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        AttributeSettings.load(values)
    assert str(caught.value).startswith(f"attributes.{message}")
    assert "\n" not in str(caught.value)


def test_settings_from_the_environment() -> None:
    env = {"STRIPE_CIO_ATTRIBUTE_PREFIX": "pay_", "STRIPE_CIO_IDENTIFIER": "metadata:uid"}
    settings = attribute_settings_from_env(env)
    assert (settings.prefix, settings.metadata_key) == ("pay_", "uid")
    blank = attribute_settings_from_env(
        {"STRIPE_CIO_ATTRIBUTE_PREFIX": " ", "STRIPE_CIO_IDENTIFIER": ""}
    )
    assert (blank.prefix, blank.identifier) == ("stripe_", "email")
    with pytest.raises(ConfigError, match=r"^STRIPE_CIO_IDENTIFIER: .*; set the environment"):
        attribute_settings_from_env({"STRIPE_CIO_IDENTIFIER": "nope"})


def test_attribute_dict_leaves_out_absent_values_and_gives_plain_types() -> None:
    row = pd.Series(
        {
            "a": np.int64(3),
            "b": np.float64(2.5),
            "c": np.nan,
            "d": pd.NA,
            "e": None,
            "f": np.bool_(True),
            "g": ["cus_1", "cus_2"],
            "h": {"usd": 1.5},
            "i": "text",
        },
        dtype=object,
    )
    sent = attribute_dict(row)
    assert sent == {
        "a": 3,
        "b": 2.5,
        "f": True,
        "g": ["cus_1", "cus_2"],
        "h": {"usd": 1.5},
        "i": "text",
    }
    assert [type(sent[k]) for k in ("a", "b", "f")] == [int, float, bool]


def test_attribute_dicts_cover_every_person_in_order(kit: Kit) -> None:
    computed = kit.compute(
        customers=[kit.customer("cus_1", "b@example.com"), kit.customer("cus_2", "a@example.com")],
        charges=[kit.charge("ch_1", "cus_1", amount=250)],
    )
    rows = list(attribute_dicts(computed.frame))
    assert [person for person, _ in rows] == ["a@example.com", "b@example.com"]
    b = rows[1][1]
    assert b["stripe_total_spent"] == 2.5
    assert type(b["stripe_purchase_count"]) is int
    assert type(b["stripe_first_purchase_at"]) is int
    assert "stripe_rfm_segment" in b
    assert "stripe_average_order_value" not in rows[0][1]
