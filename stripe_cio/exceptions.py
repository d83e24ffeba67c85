"""Every error stripe-cio raises on purpose, in one hierarchy, each with its exit code.

                                    exit  retried
    StripeCioError
    ├── ConfigError                    2  no   a setting or argument is missing or malformed
    ├── APIError                       3  no   an upstream API refused what we asked
    │   ├── StripeAPIError
    │   │   ├── StripeAuthError        3  no   401, or 403: a restricted key lacks a permission
    │   │   ├── StripeRequestError     3  no   400 / 404 and other 4xx
    │   │   ├── StripeCertificateError 3  no   the TLS certificate could not be verified
    │   │   └── StripeUnavailableError 69 yes  429 / 5xx / no connection, after retries
    │   └── CustomerIOAPIError
    │       ├── CustomerIOAuthError    3  no   401 / 403 (often: the wrong region)
    │       ├── CustomerIORequestError 3  no   400 and other 4xx, a region mismatch
    │       ├── CustomerIOCertificateError 3 no
    │       └── CustomerIOUnavailableError 69 yes
    ├── LedgerError                    4  no   the ledger database cannot be used
    │   ├── LedgerUnavailableError     69 yes  its server did not answer, a lock wait timed out
    │   ├── LedgerAccessError          4  no   login refused, no database, read-only, disk full
    │   ├── LedgerDamagedError         4  no   not a database, or its integrity check failed
    │   └── LedgerVersionError         4  no   written by a newer stripe-cio
    └── PrefectAPIError                5  no   the Prefect API refused a request
        └── PrefectUnavailableError    69 yes  the Prefect API did not answer

`runs/errors.py` adds the outcomes of a run (RunFailedError: 1, RunInProgressError: 75). The
exit code is what the `stripe-cio` command exits with (docs/reliability.md lists them, and what
each tells the user to do); `transient` says whether trying again later may help, which is the
only failure a Prefect task retries (tasks/steps.py).

Messages are single lines written for an operator, and never contain a secret: they are
built from what we know (method, path, status, the API's own error message, URLs with their
secrets masked), never from request headers.
"""

from __future__ import annotations

from typing import ClassVar

# What the CLI exits with when the user interrupts it (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130


class StripeCioError(Exception):
    """Base class of every error raised by stripe-cio."""

    exit_code: ClassVar[int] = 2
    transient: ClassVar[bool] = False
    # What the CLI's one line on this failure starts with ("unavailable" when transient).
    label: ClassVar[str] = "error"


class ConfigError(StripeCioError):
    """A setting is missing or malformed; the message names it and how to set it."""

    label = "configuration error"

    def __init__(self, setting: str, problem: str, how_to_set: str) -> None:
        self.setting = setting
        self.problem = problem
        self.how_to_set = how_to_set
        super().__init__(f"{setting}: {problem}; {how_to_set}")


class APIError(StripeCioError):
    """An upstream API answered with an error that retrying will not fix."""

    exit_code = 3

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

    exit_code = 69
    transient = True


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

    exit_code = 69
    transient = True


class LedgerError(StripeCioError):
    """The ledger database could not be used; the message names it (masked) and the remedy."""

    exit_code = 4


class LedgerUnavailableError(LedgerError):
    """The ledger's server did not answer, or a lock wait timed out: trying later may work."""

    exit_code = 69
    transient = True


class LedgerAccessError(LedgerError):
    """The database refused us: login, missing database, permissions, read-only or full disk."""


class LedgerDamagedError(LedgerError):
    """The ledger is not a database, or failed its integrity check: it must be rebuilt."""


class LedgerVersionError(LedgerError):
    """The ledger was written by a newer stripe-cio than this one."""


class PrefectAPIError(StripeCioError):
    """The Prefect API refused a request (a missing block, a bad URL, a refused key)."""

    exit_code = 5


class PrefectUnavailableError(PrefectAPIError):
    """The Prefect API did not answer (PREFECT_API_URL names no running server)."""

    exit_code = 69
    transient = True
