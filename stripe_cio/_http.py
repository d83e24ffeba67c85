"""Small helpers shared by the Stripe and Customer.io clients."""

from __future__ import annotations

import ssl
from types import TracebackType
from typing import Any, Self

import httpx
import orjson

from . import __version__
from ._redact import mask_url

__all__ = [
    "USER_AGENT",
    "AsyncAPIClient",
    "certificate_failure",
    "certificate_problem",
    "failure_name",
    "json_body",
]

USER_AGENT = f"stripe-cio/{__version__} httpx/{httpx.__version__}"


def json_body(response: httpx.Response) -> Any | None:
    """The response's JSON, or None when the body is empty or not JSON (an HTML error page)."""
    if not response.content:
        return None
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None


def certificate_problem(error: httpx.TransportError) -> str | None:
    """Why the server's TLS certificate was refused, when that is what failed the request.

    Unlike a dropped connection this never heals by retrying, and the request was not sent:
    the clients report it at once, so an intercepting proxy or a wrong host is named plainly.
    """
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return str(cause.verify_message or cause.reason or cause)
        cause = cause.__cause__ or cause.__context__
    return None


def certificate_failure(base_url: str, problem: str) -> str:
    """The one-line message for a certificate refused at `base_url`, with the usual remedy.

    Behind a proxy that inspects TLS, every certificate is signed by the proxy's own authority;
    trusting that authority through STRIPE_CIO_CA_BUNDLE is the fix, never switching checks off.
    """
    return (
        f"the TLS certificate of {mask_url(base_url)} could not be verified ({problem}); "
        "stripe-cio always verifies TLS and sent nothing; behind a proxy that inspects TLS, set "
        "STRIPE_CIO_CA_BUNDLE to a PEM file of its CA certificate"
    )


def failure_name(error: httpx.TransportError) -> str:
    """How a transport failure is named in a client's "last failure": its type, and for a proxy
    error its message too, which names the proxy (password masked) and what it did."""
    if isinstance(error, httpx.ProxyError):
        return f"{type(error).__name__}: {error}"
    return type(error).__name__


class AsyncAPIClient:
    """Owns an httpx.AsyncClient: use as ``async with`` or call aclose() when done."""

    _http: httpx.AsyncClient

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()
