"""Credential blocks for Stripe and Customer.io: secrets in SecretStr, clients from get_client(),
and a run's settings from a named block when one is given, else from the environment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self, TypeVar
from uuid import UUID

from prefect.blocks.core import Block
from prefect.exceptions import ObjectNotFound
from pydantic import Field, SecretStr, model_validator

from stripe_cio import (
    ConfigError,
    CustomerIOSettings,
    SettingSource,
    StripeSettings,
    ca_bundle_from_env,
    customerio_settings_from_env,
    stripe_settings_from_env,
)
from stripe_cio.cio_api import CustomerIOClient
from stripe_cio.stripe_api import StripeClient

from .prefect_api import missing_block, prefect_api_errors


@dataclass(frozen=True)
class BlockSource(SettingSource):
    """Names a setting as a field of a saved block, so errors say which block to edit."""

    block_type: str
    block_name: str | None

    def setting_name(self, section: str, field: str) -> str:
        return f"{self.block_type}.{field}"

    def origin(self, section: str) -> str:
        if self.block_name:
            return f"the {self.block_type} block '{self.block_name}'"
        return f"an unsaved {self.block_type} block"

    def how_to_set(self, section: str, field: str) -> str:
        name = f"'{self.block_name}' " if self.block_name else ""
        return (
            f"edit the {name}{self.block_type} block's {field} in the Prefect UI (Blocks), "
            f"or save it again with {self.block_type}(...).save(name, overwrite=True)"
        )


class _CredentialsBlock(Block):
    """Shared behaviour: a block that fails to validate names itself in the error."""

    @classmethod
    def _from_block_document(cls, block_document: Any) -> Self:
        # Validation runs before Prefect sets the block's name on it, so a document that was
        # edited into a bad state is re-reported here with the name of the block to fix.
        try:
            return super()._from_block_document(block_document)
        except ConfigError as exc:
            field = exc.setting.rpartition(".")[2]
            source = BlockSource(cls.__name__, block_document.name)
            raise ConfigError(exc.setting, exc.problem, source.how_to_set("", field)) from None

    @classmethod
    def from_settings(cls, settings: Any) -> Self:
        """A block holding `settings`' value of each of its fields (their names are the same; a
        list of secrets, such as the webhook's, is held comma-separated)."""
        values = {name: getattr(settings, name) for name in cls.model_fields}
        for name, value in values.items():
            if isinstance(value, tuple):
                joined = ",".join(item.get_secret_value() for item in value)
                values[name] = SecretStr(joined) if joined else None
        return cls(**values)

    @classmethod
    def load_sync(cls, name: str) -> Self:
        """Load the saved block `name`, synchronously even inside an event loop's thread."""
        block = cls.load(name, _sync=True)  # type: ignore[call-arg]
        if not isinstance(block, cls):
            raise TypeError(f"block {name!r} is not a {cls.__name__}")
        return block

    def save_sync(self, name: str, *, overwrite: bool = False) -> UUID:
        """Save this block as `name`, synchronously."""
        block_id = self.save(name, overwrite=overwrite, _sync=True)  # type: ignore[call-arg]
        if not isinstance(block_id, UUID):
            raise TypeError(f"saving block {name!r} returned {type(block_id).__name__}")
        return block_id

    def _source(self) -> BlockSource:
        return BlockSource(type(self).__name__, self._block_document_name)


class StripeCredentials(_CredentialsBlock):
    """Credentials and limits for reading one Stripe account."""

    _block_type_name = "Stripe Credentials"
    _logo_url = "https://images.ctfassets.net/fzn2n1nzq965/HTTOloNPhisV9P4hlMPNA/cacf1bb88b9fc492dfad34378d844280/Stripe_icon_-_square.svg"  # type: ignore[assignment]
    _documentation_url = "https://docs.stripe.com/keys"  # type: ignore[assignment]
    _description = "A Stripe secret (sk_) or restricted (rk_) key, for stripe-cio."

    api_key: SecretStr = Field(
        description="Secret key (sk_live_/sk_test_) or restricted key with read access (rk_)."
    )
    api_base: str = Field(default="https://api.stripe.com", description="Stripe API base URL.")
    account: str | None = Field(
        default=None, description="Connect: the connected account id (acct_...) to read."
    )
    requests_per_second: float | None = Field(
        default=None,
        description="Client-side rate limit. Default: 25 for test keys, 100 for live keys.",
    )
    webhook_secrets: SecretStr | None = Field(
        default=None,
        description=(
            "Signing secret of the webhook endpoint (whsec_...), for `stripe-cio webhooks serve`;"
            " several, comma-separated, while one is rolled."
        ),
    )

    @model_validator(mode="after")
    def _valid_settings(self) -> Self:
        self._settings(None)  # raises a one-line ConfigError naming the field
        return self

    def to_settings(self) -> StripeSettings:
        """Validate the block's fields into engine settings, STRIPE_CIO_CA_BUNDLE added.

        The CA bundle comes from the environment: which authorities to trust is a property of
        the machine running the flow (its network's proxy), not of the Stripe account.
        """
        return self._settings(ca_bundle_from_env())

    def _settings(self, ca_bundle: Path | None) -> StripeSettings:
        return StripeSettings.load(
            {
                "api_key": self.api_key,
                "api_base": self.api_base,
                "account": self.account,
                "requests_per_second": self.requests_per_second,
                "webhook_secrets": self.webhook_secrets,
                "ca_bundle": ca_bundle,
            },
            self._source(),
        )

    def get_client(self) -> StripeClient:
        """An async Stripe client for this account; close it with ``async with`` or aclose()."""
        return StripeClient(self.to_settings())


class CustomerIOCredentials(_CredentialsBlock):
    """Credentials and limits for one Customer.io workspace's Track API."""

    _block_type_name = "Customer.io Credentials"
    _logo_url = "https://customer.io/favicon.ico"  # type: ignore[assignment]
    _documentation_url = "https://docs.customer.io/integrations/api/track/"  # type: ignore[assignment]
    _description = "Customer.io Track API site id and API key, for stripe-cio."

    site_id: str = Field(description="Track API site id (Settings > API Credentials).")
    api_key: SecretStr = Field(description="Track API key.")
    region: str = Field(default="us", description="Data center of the workspace: us or eu.")
    track_url: str | None = Field(
        default=None, description="Override of the region's Track API URL (for the sandbox)."
    )
    requests_per_second: float = Field(
        default=100.0, description="Client-side rate limit (Customer.io's fair use: 100/s)."
    )

    @model_validator(mode="after")
    def _valid_settings(self) -> Self:
        self._settings(None)
        return self

    def to_settings(self) -> CustomerIOSettings:
        """Validate the block's fields into engine settings, STRIPE_CIO_CA_BUNDLE added (from
        the environment, as for StripeCredentials)."""
        return self._settings(ca_bundle_from_env())

    def _settings(self, ca_bundle: Path | None) -> CustomerIOSettings:
        return CustomerIOSettings.load(
            {
                "site_id": self.site_id,
                "api_key": self.api_key,
                "region": self.region,
                "track_url": self.track_url,
                "requests_per_second": self.requests_per_second,
                "ca_bundle": ca_bundle,
            },
            self._source(),
        )

    def get_client(self) -> CustomerIOClient:
        """An async Track API client for this workspace."""
        return CustomerIOClient(self.to_settings())


B = TypeVar("B", StripeCredentials, CustomerIOCredentials)


def _load(block_type: type[B], name: str, parameter: str) -> B:
    with prefect_api_errors(f"loading the {block_type.__name__} block {name!r}"):
        try:
            return block_type.load_sync(name)
        except (ValueError, ObjectNotFound) as exc:
            # Prefect says "Unable to find block document named ..." as a ValueError.
            if "unable to find" not in str(exc).lower() and not isinstance(exc, ObjectNotFound):
                raise
            raise missing_block(block_type.__name__, name, parameter) from None


def stripe_settings(block: StripeCredentials | str | None = None) -> StripeSettings:
    """Stripe settings from a StripeCredentials block (or the name of a saved one), else from
    the STRIPE_* variables."""
    if isinstance(block, str):
        block = _load(StripeCredentials, block, "--stripe-block")
    return block.to_settings() if block is not None else stripe_settings_from_env()


def customerio_settings(block: CustomerIOCredentials | str | None = None) -> CustomerIOSettings:
    """Customer.io settings from a CustomerIOCredentials block (or the name of a saved one),
    else from the CUSTOMERIO_* variables."""
    if isinstance(block, str):
        block = _load(CustomerIOCredentials, block, "--customerio-block")
    return block.to_settings() if block is not None else customerio_settings_from_env()
