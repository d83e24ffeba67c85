"""stripe-cio: keep Customer.io in step with Stripe.

The engine package. It never imports Prefect: flows and tasks wrap it, blocks configure it.
"""

__version__ = "0.1.0"

from ._exceptions import (
    APIError,
    ConfigError,
    CustomerIOAPIError,
    CustomerIOAuthError,
    CustomerIOCertificateError,
    CustomerIORequestError,
    CustomerIOUnavailableError,
    StripeAPIError,
    StripeAuthError,
    StripeCertificateError,
    StripeCioError,
    StripeRequestError,
    StripeUnavailableError,
)
from ._redact import install_log_redaction, redact, register_secret
from ._settings import (
    CustomerIOSettings,
    EnvSource,
    LedgerSettings,
    RunSettings,
    Settings,
    SettingSource,
    StripeSettings,
    customerio_settings_from_env,
    ledger_settings_from_env,
    run_settings_from_env,
    stripe_settings_from_env,
)
from ._ulid import ULID_PATTERN, encode_ulid

__all__ = [
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
    "LedgerSettings",
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
    "customerio_settings_from_env",
    "encode_ulid",
    "install_log_redaction",
    "ledger_settings_from_env",
    "redact",
    "register_secret",
    "run_settings_from_env",
    "stripe_settings_from_env",
]
