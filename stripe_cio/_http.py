"""Small helpers shared by the Stripe and Customer.io clients."""

from __future__ import annotations

import ssl
from types import TracebackType
from typing import Any, Self

import httpx
import orjson

from . import __version__

__all__ = ["USER_AGENT", "AsyncAPIClient", "certificate_problem", "json_body"]

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
