"""stripe-cio: keep Customer.io in step with Stripe.

The engine package. It never imports Prefect: flows and tasks wrap it, blocks configure it.
"""

__version__ = "0.1.0"

from .exceptions import (
    APIError,
    ConfigError,
    CustomerIOAPIError,
    CustomerIOAuthError,
    CustomerIOCertificateError,
    CustomerIORequestError,
    CustomerIOUnavailableError,
    LedgerAccessError,
    LedgerDamagedError,
    LedgerError,
    LedgerUnavailableError,
    LedgerVersionError,
    PrefectAPIError,
    PrefectUnavailableError,
    StripeAPIError,
    StripeAuthError,
    StripeCertificateError,
    StripeCioError,
    StripeRequestError,
    StripeUnavailableError,
)
from .redaction import install_log_redaction, mask_url, redact, register_secret
from .settings import (
    CustomerIOSettings,
    LedgerSettings,
    RunSettings,
    Settings,
    StripeSettings,
    ca_bundle_from_env,
    customerio_settings_from_env,
    ledger_settings_from_env,
    run_settings_from_env,
    stripe_settings_from_env,
)
from .settings_base import ENV_NAMES, EnvSource, SettingSource
from .ulid import ULID_PATTERN, encode_ulid

__all__ = [
    "ENV_NAMES",
    "ULID_PATTERN",
    "APIError",
    "ConfigError",
    "CustomerIOAPIError",
    "CustomerIOAuthError",
    "CustomerIOCertificateError",
    "CustomerIORequestError",
    "CustomerIOSettings",
    "CustomerIOUnavailableError",
    "EnvSource",
    "LedgerAccessError",
    "LedgerDamagedError",
    "LedgerError",
    "LedgerSettings",
    "LedgerUnavailableError",
    "LedgerVersionError",
    "PrefectAPIError",
    "PrefectUnavailableError",
    "RunSettings",
    "SettingSource",
    "Settings",
    "StripeAPIError",
    "StripeAuthError",
    "StripeCertificateError",
    "StripeCioError",
    "StripeRequestError",
    "StripeSettings",
    "StripeUnavailableError",
    "__version__",
    "ca_bundle_from_env",
    "customerio_settings_from_env",
    "encode_ulid",
    "install_log_redaction",
    "ledger_settings_from_env",
    "mask_url",
    "redact",
    "register_secret",
    "run_settings_from_env",
    "stripe_settings_from_env",
]
