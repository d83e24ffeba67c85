"""Typed settings for Stripe, Customer.io and the ledger, loaded from a mapping or the environment.

Every loader fails at load time with a one-line :class:`ConfigError` that names the setting and
says how to set it; the offending value is never echoed, since it may be a secret.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, PrivateAttr, SecretStr, field_validator

from .exceptions import ConfigError
from .redaction import register_secret
from .settings_base import (
    CA_BUNDLE,
    ENV_NAMES,
    EnvSource,
    SettingSource,
    SettingsSection,
    empty_to_none,
    make_private_folder,
    secret_text,
    section_env,
    validate_base_url,
    validate_ca_bundle,
    validate_rate,
)

# Stripe's basic rate limiter: 100 requests/s in live mode, 25 in test mode (sandboxes).
# Source: https://docs.stripe.com/rate-limits
STRIPE_LIVE_REQUESTS_PER_SECOND = 100.0
STRIPE_TEST_REQUESTS_PER_SECOND = 25.0
# Customer.io's Track API fair-use limit is 100 requests/s per workspace, v1 and v2 alike.
# Source: https://docs.customer.io/integrations/api/track/
CUSTOMERIO_REQUESTS_PER_SECOND = 100.0
# Source: https://docs.customer.io/integrations/api/track/ ("Regions": US and EU hosts).
CUSTOMERIO_TRACK_URLS: Mapping[str, str] = {
    "us": "https://track.customer.io",
    "eu": "https://track-eu.customer.io",
}

_STRIPE_KEY = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9]+$")
_STRIPE_ACCOUNT = re.compile(r"^acct_[A-Za-z0-9]+$")


class _APISettings(SettingsSection):
    """What reaching either API takes besides its credentials: the certificates it trusts, and
    where the credentials came from, which an error refusing them names."""

    ca_bundle: Path | None = None  # PEM roots trusted on top of certifi's
    _origin: str = PrivateAttr(default="the settings given")

    def loaded_from(self, source: SettingSource) -> None:
        self._origin = source.origin(self.section)

    @property
    def origin(self) -> str:
        """Where the credentials came from: "the environment (...)", "the ... block 'prod'"."""
        return self._origin

    @field_validator("ca_bundle", mode="before")
    @classmethod
    def _check_ca_bundle(cls, value: Any) -> Path | None:
        return validate_ca_bundle(value)


# --- Stripe -----------------------------------------------------------------------------------


class StripeSettings(_APISettings):
    """How to reach one Stripe account."""

    section: Literal["stripe"] = "stripe"
    api_key: SecretStr
    api_base: str = "https://api.stripe.com"
    account: str | None = None
    requests_per_second: float | None = None
    # Signing secrets of the webhook endpoint: several while one is being rolled.
    webhook_secrets: tuple[SecretStr, ...] = ()

    @field_validator("webhook_secrets", mode="before")
    @classmethod
    def _check_webhook_secrets(cls, value: Any) -> Any:
        if value is None:
            return ()
        items = value.split(",") if isinstance(value, str) else list(value)
        secrets = []
        for item in items:
            text = item.get_secret_value() if isinstance(item, SecretStr) else str(item)
            text = text.strip()
            if not text:
                continue
            # Stripe's endpoint signing secrets start with whsec_ (https://docs.stripe.com/webhooks#verify-events).
            if not text.startswith("whsec_"):
                raise ValueError(
                    "is not a webhook signing secret (expected whsec_..., comma-separated)"
                )
            register_secret(text)
            secrets.append(SecretStr(text))
        return tuple(secrets)

    @field_validator("api_key", mode="before")
    @classmethod
    def _check_api_key(cls, value: Any) -> Any:
        key = secret_text(value)
        if key.startswith("pk_"):
            raise ValueError(
                "is a publishable key (pk_...), which cannot read Stripe data; "
                "use a secret key (sk_...) or a restricted key (rk_...) with read access"
            )
        if not _STRIPE_KEY.match(key):
            raise ValueError(
                "is not a Stripe secret or restricted key "
                "(expected sk_test_..., sk_live_..., rk_test_... or rk_live_...)"
            )
        register_secret(key)
        return SecretStr(key)

    @field_validator("api_base")
    @classmethod
    def _check_api_base(cls, value: str) -> str:
        return validate_base_url(value)

    @field_validator("account", mode="before")
    @classmethod
    def _check_account(cls, value: Any) -> Any:
        value = empty_to_none(value)
        if value is not None and not _STRIPE_ACCOUNT.match(str(value).strip()):
            raise ValueError("must be a connected account id such as acct_1Abc...")
        return value.strip() if isinstance(value, str) else value

    @field_validator("requests_per_second", mode="before")
    @classmethod
    def _blank_rate(cls, value: Any) -> Any:
        return empty_to_none(value)

    @field_validator("requests_per_second")
    @classmethod
    def _check_rate(cls, value: float | None) -> float | None:
        return validate_rate(value)

    @property
    def livemode(self) -> bool:
        """Whether the key reaches live data (``sk_live_``/``rk_live_``)."""
        return self.api_key.get_secret_value()[3:8] == "live_"

    @property
    def effective_requests_per_second(self) -> float:
        """The configured rate, else Stripe's own limit for the key's mode."""
        if self.requests_per_second is not None:
            return self.requests_per_second
        return STRIPE_LIVE_REQUESTS_PER_SECOND if self.livemode else STRIPE_TEST_REQUESTS_PER_SECOND


# --- Customer.io ------------------------------------------------------------------------------


class CustomerIOSettings(_APISettings):
    """How to reach one Customer.io workspace through the Track API."""

    section: Literal["customerio"] = "customerio"
    site_id: str
    api_key: SecretStr
    region: Literal["us", "eu"] = "us"
    track_url: str | None = None
    requests_per_second: float = CUSTOMERIO_REQUESTS_PER_SECOND

    @field_validator("site_id")
    @classmethod
    def _check_site_id(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("is empty")
        if ":" in value or any(ch.isspace() for ch in value):
            raise ValueError(
                "must not contain ':' or spaces (copy it from Settings > API Credentials)"
            )
        return value

    @field_validator("api_key", mode="before")
    @classmethod
    def _check_api_key(cls, value: Any) -> Any:
        key = secret_text(value)
        register_secret(key)
        return SecretStr(key)

    @field_validator("region", mode="before")
    @classmethod
    def _check_region(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return "us"
        region = str(value).strip().lower()
        if region not in CUSTOMERIO_TRACK_URLS:
            raise ValueError("must be 'us' or 'eu' (the data center of your workspace)")
        return region

    @field_validator("track_url", mode="before")
    @classmethod
    def _check_track_url(cls, value: Any) -> Any:
        value = empty_to_none(value)
        return None if value is None else validate_base_url(str(value))

    @field_validator("requests_per_second", mode="before")
    @classmethod
    def _default_rate(cls, value: Any) -> Any:
        value = empty_to_none(value)
        return CUSTOMERIO_REQUESTS_PER_SECOND if value is None else value

    @field_validator("requests_per_second")
    @classmethod
    def _check_rate(cls, value: float) -> float:
        validate_rate(value)
        return value

    @property
    def base_url(self) -> str:
        """The Track API base URL: the override when set, else the region's host."""
        return self.track_url or CUSTOMERIO_TRACK_URLS[self.region]


# --- ledger -----------------------------------------------------------------------------------


def default_data_dir(env: Mapping[str, str]) -> Path:
    """Where stripe-cio keeps local state when STRIPE_CIO_DATA_DIR is not set."""
    base = env.get("XDG_DATA_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".local/share")
    return Path(base) / "stripe-cio"


def make_sqlite_folder(url: str) -> None:
    """Create the folder of a SQLite database file (0700) when missing; other URLs pass untouched.

    `url` is normalised (LedgerSettings). Raises ValueError, worded for a ConfigError, when the
    folder cannot be created; SQLite itself would only say "unable to open database file".
    """
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or database in (None, "", ":memory:"):
        return
    if parsed.query.get("uri"):
        return  # a "file:" URI names its file its own way (and may be in memory)
    # As SQLite will open it: relative to the working directory, "~" not expanded.
    make_private_folder(Path(database).parent)


class LedgerSettings(SettingsSection):
    """Where the local ledger lives: any SQLAlchemy URL; SQLite by default.

    Validation creates the folder a SQLite file goes in (owner-only) when it is missing, so a
    location that cannot be created fails here, naming the setting, and not at the first write.
    """

    section: Literal["ledger"] = "ledger"
    # The data directory the default SQLite file was placed in (STRIPE_CIO_DATA_DIR or its
    # default); None when the database URL was given. Declared before the URL so that a data
    # directory that cannot be created is the error reported, naming STRIPE_CIO_DATA_DIR.
    data_dir: Path | None = None
    database_url: SecretStr  # may hold a database password

    @field_validator("data_dir")
    @classmethod
    def _make_data_dir(cls, value: Path | None) -> Path | None:
        if value is not None:
            make_private_folder(value)
        return value

    @field_validator("database_url", mode="before")
    @classmethod
    def _check_url(cls, value: Any) -> Any:
        from .database_url import normalise_database_url

        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not isinstance(raw, str) or not raw.strip():
            raise ValueError("is empty")
        url = normalise_database_url(raw.strip())
        make_sqlite_folder(url)
        return SecretStr(url)

    @property
    def display_url(self) -> str:
        """The URL with any password masked, safe for logs and tables."""
        from .database_url import display_database_url

        return display_database_url(self.database_url.get_secret_value())


# --- runs -------------------------------------------------------------------------------------


class RunSettings(SettingsSection):
    """How much bad input a pipeline run tolerates before it fails and notifies."""

    section: Literal["runs"] = "runs"
    # Rejected items per input record above which a run fails (0.05: 5%).
    max_reject_rate: float = 0.05

    @field_validator("max_reject_rate", mode="before")
    @classmethod
    def _default_rate(cls, value: Any) -> Any:
        value = empty_to_none(value)
        return 0.05 if value is None else value

    @field_validator("max_reject_rate")
    @classmethod
    def _check_rate(cls, value: float) -> float:
        if not 0 <= value <= 1:
            raise ValueError("must be a fraction between 0 and 1, such as 0.05 for 5%")
        return value


def run_settings_from_env(env: Mapping[str, str] | None = None) -> RunSettings:
    """The run settings from STRIPE_CIO_MAX_REJECT_RATE."""
    env = os.environ if env is None else env
    return RunSettings.load(section_env(env, "runs"), EnvSource())


# --- everything -------------------------------------------------------------------------------


class Settings(BaseModel):
    """All of stripe-cio's settings: each API section is present only when it was asked for."""

    model_config = ConfigDict(frozen=True)
    ledger: LedgerSettings
    stripe: StripeSettings | None = None
    customerio: CustomerIOSettings | None = None

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        stripe: bool = True,
        customerio: bool = True,
    ) -> Settings:
        """Load settings from environment variables; `stripe`/`customerio` say which are needed."""
        env = os.environ if env is None else env
        return cls(
            ledger=ledger_settings_from_env(env),
            stripe=stripe_settings_from_env(env) if stripe else None,
            customerio=customerio_settings_from_env(env) if customerio else None,
        )


def ca_bundle_from_env(env: Mapping[str, str] | None = None) -> Path | None:
    """STRIPE_CIO_CA_BUNDLE, checked (a ConfigError naming it), for settings built elsewhere."""
    env = os.environ if env is None else env
    try:
        return validate_ca_bundle(env.get(CA_BUNDLE))
    except ValueError as exc:
        how = EnvSource().how_to_set("stripe", "ca_bundle")
        raise ConfigError(CA_BUNDLE, str(exc), how) from None


def stripe_settings_from_env(env: Mapping[str, str] | None = None) -> StripeSettings:
    """The Stripe settings from STRIPE_API_KEY, STRIPE_API_BASE, STRIPE_ACCOUNT, ..."""
    env = os.environ if env is None else env
    return StripeSettings.load(section_env(env, "stripe"), EnvSource())


def customerio_settings_from_env(env: Mapping[str, str] | None = None) -> CustomerIOSettings:
    """The Customer.io settings from the CUSTOMERIO_* variables."""
    env = os.environ if env is None else env
    return CustomerIOSettings.load(section_env(env, "customerio"), EnvSource())


def ledger_settings_from_env(env: Mapping[str, str] | None = None) -> LedgerSettings:
    """The ledger settings from STRIPE_CIO_DATABASE_URL, else a SQLite file in the data dir.

    The data directory, or a SQLite URL's folder, is created (0700) when missing; one that
    cannot be created raises a ConfigError naming whichever of the two settings decided it.
    """
    env = os.environ if env is None else env
    url = env.get(ENV_NAMES[("ledger", "database_url")], "").strip()
    if url:
        return LedgerSettings.load({"database_url": url}, EnvSource())
    given = env.get(ENV_NAMES[("ledger", "data_dir")], "").strip()
    data_dir = Path(given).expanduser() if given else default_data_dir(env)
    return LedgerSettings.load(
        {"data_dir": data_dir, "database_url": f"sqlite:///{data_dir / 'ledger.db'}"}, EnvSource()
    )
