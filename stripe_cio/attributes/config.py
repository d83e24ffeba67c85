"""Attribute settings: the attribute name prefix and how a person is identified."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import field_validator

from ..cio_api import MAX_ATTRIBUTE_NAME_BYTES
from ..settings_base import (
    EnvSource,
    SettingsSection,
    empty_to_none,
    section_env,
    section_env_names,
)

IdentifierKind = Literal["email", "stripe_id", "metadata"]

# The longest attribute name without its prefix ("failed_payment_count_90d").
_LONGEST_NAME = 24
_PREFIX = re.compile(r"^[A-Za-z0-9_]*$")
# Stripe metadata keys: at most 40 characters, no square brackets.
# Source: https://docs.stripe.com/api/metadata
_METADATA_KEY_MAX = 40

# Field -> environment variable; the names are declared with every other setting's (ENV_NAMES).
ATTRIBUTE_ENV_NAMES: Mapping[str, str] = section_env_names("attributes")


class AttributeSettings(SettingsSection):
    """How attributes are named and which Customer.io person a Stripe customer is.

    `identifier` is `email` (trimmed, lower-cased; the default), `stripe_id` (the Stripe
    customer id is the person's id) or `metadata:<key>` (the value of that customer metadata
    key is the person's id).
    """

    section: Literal["attributes"] = "attributes"
    prefix: str = "stripe_"
    identifier: str = "email"

    @field_validator("prefix", mode="before")
    @classmethod
    def _check_prefix(cls, value: Any) -> Any:
        if value is None:
            return "stripe_"
        if not isinstance(value, str):
            raise ValueError("must be text such as stripe_")
        value = value.strip()
        if not _PREFIX.match(value):
            raise ValueError("may contain only letters, digits and underscores, such as stripe_")
        if len(value) + _LONGEST_NAME > MAX_ATTRIBUTE_NAME_BYTES:
            raise ValueError(
                f"is too long: Customer.io attribute names are at most "
                f"{MAX_ATTRIBUTE_NAME_BYTES} bytes"
            )
        return value

    @field_validator("identifier", mode="before")
    @classmethod
    def _check_identifier(cls, value: Any) -> Any:
        value = empty_to_none(value)
        if value is None:
            return "email"
        if not isinstance(value, str):
            raise ValueError("must be email, stripe_id or metadata:<key>")
        value = value.strip()
        if value in ("email", "stripe_id"):
            return value
        kind, colon, key = value.partition(":")
        if kind != "metadata" or not colon:
            raise ValueError("must be email, stripe_id or metadata:<key>")
        if not key or len(key) > _METADATA_KEY_MAX or "[" in key or "]" in key:
            raise ValueError(
                "needs a Stripe metadata key after 'metadata:' "
                "(1 to 40 characters, no square brackets), such as metadata:user_id"
            )
        return value

    @property
    def identifier_kind(self) -> IdentifierKind:
        """`email`, `stripe_id` or `metadata`."""
        if self.identifier in ("email", "stripe_id"):
            return "email" if self.identifier == "email" else "stripe_id"
        return "metadata"

    @property
    def metadata_key(self) -> str | None:
        """The customer metadata key holding the person's id, under `metadata:<key>`."""
        return self.identifier.partition(":")[2] if self.identifier_kind == "metadata" else None

    def name(self, attribute: str) -> str:
        """The attribute's name as sent: the prefix, then the attribute."""
        return self.prefix + attribute


def attribute_settings_from_env(env: Mapping[str, str] | None = None) -> AttributeSettings:
    """Attribute settings from STRIPE_CIO_ATTRIBUTE_PREFIX and STRIPE_CIO_IDENTIFIER."""
    env = os.environ if env is None else env
    values = section_env(env, "attributes")
    # An unset or blank prefix variable means the default; an empty prefix is set in code.
    if not values.get("prefix", "").strip():
        values.pop("prefix", None)
    return AttributeSettings.load(values, EnvSource())
