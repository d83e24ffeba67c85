"""Small helpers shared by the Stripe and Customer.io clients."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import httpx
import orjson

from . import __version__

__all__ = ["USER_AGENT", "AsyncAPIClient", "json_body"]

USER_AGENT = f"stripe-cio/{__version__} httpx/{httpx.__version__}"


def json_body(response: httpx.Response) -> Any | None:
    """The response's JSON, or None when the body is empty or not JSON (an HTML error page)."""
    if not response.content:
        return None
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
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
