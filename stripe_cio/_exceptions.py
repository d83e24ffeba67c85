"""Every error stripe-cio raises on purpose, in one hierarchy.

    StripeCioError
    ├── ConfigError              a setting is missing or malformed (raised at load time)
    └── APIError                 an upstream API answered with an error we do not retry away
        ├── StripeAPIError
        │   ├── StripeAuthError          401, or 403 for a restricted key without the permission
        │   ├── StripeRequestError       400 / 404 and other 4xx
        │   ├── StripeCertificateError   the server's TLS certificate could not be verified
        │   └── StripeUnavailableError   429 / 5xx / connection failure after retries
        └── CustomerIOAPIError
            ├── CustomerIOAuthError      401 / 403
            ├── CustomerIORequestError   400 and other 4xx
            ├── CustomerIOCertificateError
            └── CustomerIOUnavailableError

Messages are single lines written for an operator, and never contain a secret: they are
built from what we know (method, path, status, the API's own error message), never from
request headers.
"""

from __future__ import annotations

__all__ = [
    "APIError",
    "ConfigError",
    "CustomerIOAPIError",
    "CustomerIOAuthError",
    "CustomerIOCertificateError",
    "CustomerIORequestError",
    "CustomerIOUnavailableError",
    "StripeAPIError",
    "StripeAuthError",
    "StripeCertificateError",
    "StripeCioError",
    "StripeRequestError",
    "StripeUnavailableError",
]


class StripeCioError(Exception):
    """Base class of every error raised by stripe-cio."""


class ConfigError(StripeCioError):
    """A setting is missing or malformed; the message names it and how to set it."""

    def __init__(self, setting: str, problem: str, how_to_set: str) -> None:
        self.setting = setting
        self.problem = problem
        self.how_to_set = how_to_set
        super().__init__(f"{setting}: {problem}; {how_to_set}")


class APIError(StripeCioError):
    """An upstream API answered with an error that retrying will not fix."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        method: str | None = None,
        path: str | None = None,
        code: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.method = method
        self.path = path
        self.code = code
        super().__init__(message)


class StripeAPIError(APIError):
    """Stripe answered with an error."""


class StripeAuthError(StripeAPIError):
    """Stripe refused the key: wrong, revoked, or a restricted key lacking a permission."""


class StripeRequestError(StripeAPIError):
    """Stripe rejected the request itself (bad parameter, unknown id)."""


class StripeCertificateError(StripeAPIError):
    """The server's TLS certificate could not be verified: nothing was sent, nothing retried."""


class StripeUnavailableError(StripeAPIError):
    """Stripe stayed rate-limited, failing or unreachable after the client's retries."""


class CustomerIOAPIError(APIError):
    """Customer.io answered with an error."""


class CustomerIOAuthError(CustomerIOAPIError):
    """Customer.io refused the site id and API key (often: the wrong region)."""


class CustomerIORequestError(CustomerIOAPIError):
    """Customer.io rejected the request as invalid."""


class CustomerIOCertificateError(CustomerIOAPIError):
    """The server's TLS certificate could not be verified: nothing was sent, nothing retried."""


class CustomerIOUnavailableError(CustomerIOAPIError):
    """Customer.io stayed rate-limited, failing or unreachable after the client's retries."""
