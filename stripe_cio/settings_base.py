"""What every settings section shares: where a setting comes from, common checks, loading.

A section is loaded only through :meth:`SettingsSection.load`, which turns pydantic's validation
errors into a one-line :class:`ConfigError` naming the setting as its user sets it.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from .exceptions import ConfigError

# --- where a setting comes from, so an error can say how to fix it -------------------------


class SettingSource:
    """Names a setting the way its user sets it; the base class names model fields."""

    def setting_name(self, section: str, field: str) -> str:
        return f"{section}.{field}"

    def how_to_set(self, section: str, field: str) -> str:
        return f"set {section}.{field}"

    def origin(self, section: str) -> str:
        """Where settings of `section` came from, as an error names it ("the ... block 'prod'")."""
        return f"the {section} settings given"


@dataclass(frozen=True)
class EnvSource(SettingSource):
    """Settings read from environment variables."""

    def setting_name(self, section: str, field: str) -> str:
        return ENV_NAMES[(section, field)]

    def how_to_set(self, section: str, field: str) -> str:
        return f"set the environment variable {ENV_NAMES[(section, field)]}"

    def origin(self, section: str) -> str:
        names = [
            ENV_NAMES[(section, field)]
            for field in ("site_id", "api_key", "region")
            if (section, field) in ENV_NAMES
        ]
        return f"the environment ({', '.join(names)})"


ENV_NAMES: Mapping[tuple[str, str], str] = {
    ("stripe", "api_key"): "STRIPE_API_KEY",
    ("stripe", "api_base"): "STRIPE_API_BASE",
    ("stripe", "account"): "STRIPE_ACCOUNT",
    ("stripe", "requests_per_second"): "STRIPE_REQUESTS_PER_SECOND",
    # The webhook endpoint's signing secrets (whsec_...), comma-separated while one is rolled.
    ("stripe", "webhook_secrets"): "STRIPE_WEBHOOK_SECRET",
    ("customerio", "site_id"): "CUSTOMERIO_SITE_ID",
    ("customerio", "api_key"): "CUSTOMERIO_API_KEY",
    ("customerio", "region"): "CUSTOMERIO_REGION",
    ("customerio", "track_url"): "CUSTOMERIO_TRACK_URL",
    ("customerio", "requests_per_second"): "CUSTOMERIO_REQUESTS_PER_SECOND",
    # One variable for both APIs: the clients share a transport, and a proxy inspecting TLS
    # does so for every host.
    ("stripe", "ca_bundle"): "STRIPE_CIO_CA_BUNDLE",
    ("customerio", "ca_bundle"): "STRIPE_CIO_CA_BUNDLE",
    ("ledger", "database_url"): "STRIPE_CIO_DATABASE_URL",
    ("ledger", "data_dir"): "STRIPE_CIO_DATA_DIR",
    # Where an enrich run in partitions and its child flow runs exchange files (jobs/partitions).
    ("partitions", "directory"): "STRIPE_CIO_PARTITION_DIR",
    ("runs", "max_reject_rate"): "STRIPE_CIO_MAX_REJECT_RATE",
    ("attributes", "prefix"): "STRIPE_CIO_ATTRIBUTE_PREFIX",
    ("attributes", "identifier"): "STRIPE_CIO_IDENTIFIER",
    ("lifecycle", "event_names"): "STRIPE_CIO_EVENT_NAMES",
    ("lifecycle", "disabled"): "STRIPE_CIO_EVENTS_DISABLED",
    ("lifecycle", "payment_intent_events"): "STRIPE_CIO_PAYMENT_INTENT_EVENTS",
    ("lifecycle", "send_backfill_events"): "STRIPE_CIO_SEND_BACKFILL_EVENTS",
    ("lifecycle", "customer_deleted"): "STRIPE_CIO_CUSTOMER_DELETED",
    # Read by the Prefect side's failure hook (tasks/notify.py); declared here with the rest so
    # that every variable stripe-cio reads has one name, in one place.
    ("notify", "block"): "STRIPE_CIO_NOTIFY_BLOCK",
}


def section_env_names(section: str) -> dict[str, str]:
    """Field -> environment variable, for the fields of `section` in ENV_NAMES."""
    return {field: name for (sec, field), name in ENV_NAMES.items() if sec == section}


def section_env(env: Mapping[str, str], section: str) -> dict[str, str]:
    """Field -> value, for the fields of `section` whose variable is set in `env`."""
    return {field: env[name] for field, name in section_env_names(section).items() if name in env}


# --- shared validation ------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def validate_base_url(value: str) -> str:
    """Accept an https URL, or plain http on loopback only (the sandbox)."""
    value = value.strip().rstrip("/")
    if not value:
        raise ValueError("is empty")
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL:
        raise ValueError("is not a URL") from None
    if url.scheme not in {"http", "https"} or not url.host:
        raise ValueError("must be an http(s) URL such as https://api.example.com")
    if url.scheme == "http" and not _is_loopback(url.host):
        raise ValueError("must use https (plain http is allowed only on loopback, for the sandbox)")
    return value


def validate_rate(value: float | None) -> float | None:
    if value is not None and not 0 < value <= 10_000:
        raise ValueError("must be a number of requests per second between 0 and 10000")
    return value


CA_BUNDLE = ENV_NAMES[("stripe", "ca_bundle")]
_PEM_HOW = (
    "point it at a PEM file (-----BEGIN CERTIFICATE-----) of the authorities to trust on top of "
    "the public ones, such as a TLS-inspecting proxy's CA"
)


def validate_ca_bundle(value: Any) -> Path | None:
    """The path of a readable PEM file holding at least one certificate; None when unset.

    Loaded once here into a context of its own, so a file OpenSSL cannot use fails at load time
    with a ValueError worded for a ConfigError, not at the first TLS handshake.
    """
    value = empty_to_none(value)
    if value is None:
        return None
    path = Path(str(value).strip()).expanduser()
    if not path.exists():
        raise ValueError(f"names {path}, which does not exist; {_PEM_HOW}")
    if not path.is_file():
        raise ValueError(f"names {path}, which is not a file; {_PEM_HOW}")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cafile=path)
    except OSError as exc:  # unreadable; ssl.SSLError (an OSError) for what is not PEM
        why = exc.strerror if not isinstance(exc, ssl.SSLError) else "it holds no PEM certificate"
        raise ValueError(f"cannot use {path} ({why}); {_PEM_HOW}") from None
    if not context.cert_store_stats()["x509"]:  # a file of CRLs alone loads without error
        raise ValueError(f"cannot use {path} (it holds no PEM certificate); {_PEM_HOW}")
    return path


def load_ca_bundle(context: ssl.SSLContext, path: Path) -> None:
    """Add the certificates of `path` to `context`'s trusted roots, or raise a ConfigError."""
    try:
        context.load_verify_locations(cafile=path)
    except OSError as exc:  # changed or removed since the settings validated it
        raise ConfigError(
            CA_BUNDLE, f"cannot use {path} ({exc.strerror or exc}); {_PEM_HOW}", f"fix {CA_BUNDLE}"
        ) from None


def empty_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def secret_text(value: Any) -> str:
    """The stripped text of a secret given as str or SecretStr; ValueError when it is empty."""
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not isinstance(text, str) or not text.strip():
        raise ValueError("is empty")
    return text.strip()


_WRITABLE_PLACE = "create it yourself, or point the setting at a folder you can write"


def make_private_folder(folder: Path) -> None:
    """Create `folder` and its missing parents, `folder` itself owner-only (0700), or say why not.

    A folder that already exists keeps the permissions its owner gave it. Raises ValueError, worded
    for a ConfigError, when the folder cannot be created or written.
    """
    try:
        if not folder.is_dir():  # may raise too: a parent we may not search
            # The mode applies to `folder` alone (missing parents get the usual umask) and a umask
            # can only narrow it: what stripe-cio keeps there, the ledger, stays the owner's.
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(
            f"cannot create the folder {folder} ({_why_not(folder, exc)}); {_WRITABLE_PLACE}"
        ) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"names the folder {folder}, which is not writable; {_WRITABLE_PLACE}")


def _why_not(folder: Path, exc: OSError) -> str:
    # Name the obstacle the way a person would fix it: the nearest existing path is usually it.
    try:
        existing = folder
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if existing.exists() and not existing.is_dir():
            return f"{existing} is a file, not a folder"
    except OSError:
        pass  # not even that can be looked at: the error itself says enough
    return exc.strerror or type(exc).__name__


class SettingsSection(BaseModel):
    """A settings section: frozen, no unknown keys, built only through :meth:`load`."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    section: str = ""

    @classmethod
    def load(cls, values: Mapping[str, Any], source: SettingSource | None = None) -> Self:
        """Validate `values` into settings, or raise a one-line ConfigError."""
        source = source or SettingSource()
        section = cls.model_fields["section"].default
        try:
            settings = cls(**values)
        except ValidationError as exc:
            error = exc.errors(include_input=False, include_url=False, include_context=False)[0]
            field = str(error["loc"][0]) if error["loc"] else "?"
            problem = error["msg"].removeprefix("Value error, ")
            if error["type"] == "missing":
                problem = "is not set"
            elif error["type"] == "extra_forbidden":
                problem = "is not a known setting"
            raise ConfigError(
                source.setting_name(section, field), problem, source.how_to_set(section, field)
            ) from None
        settings.loaded_from(source)
        return settings

    def loaded_from(self, source: SettingSource) -> None:
        """Called by `load` with the source the settings came from; sections may keep it."""
