"""Small helpers shared by the Stripe and Customer.io clients."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from . import __version__

__all__ = ["USER_AGENT", "json_body"]

USER_AGENT = f"stripe-cio/{__version__} httpx/{httpx.__version__}"


def json_body(response: httpx.Response) -> Any | None:
    """The response's JSON, or None when the body is empty or not JSON (an HTML error page)."""
    if not response.content:
        return None
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
