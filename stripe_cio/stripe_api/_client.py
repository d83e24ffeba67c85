"""An async Stripe API client over httpx that checks every status code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from .._exceptions import (
    StripeAPIError,
    StripeAuthError,
    StripeRequestError,
    StripeUnavailableError,
)
from .._http import USER_AGENT, AsyncAPIClient, json_body
from .._settings import StripeSettings

__all__ = ["STRIPE_API_VERSION", "StripeClient"]

# Pinned so object shapes cannot change under us. Versions from 2025-03-31.basil on no longer book
# the released remainder of a partial capture (or an expired authorisation) as refunded, which the
# attribute contract relies on. Source: https://docs.stripe.com/changelog/basil
STRIPE_API_VERSION = "2026-10-28.endive"

ParamValue = str | int | float | bool | None
Params = Mapping[str, ParamValue | list[str]]


class StripeClient(AsyncAPIClient):
    """Reads from one Stripe account; use as ``async with StripeClient(settings) as stripe``."""

    def __init__(
        self,
        settings: StripeSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.settings = settings
        headers = {
            "Authorization": f"Bearer {settings.api_key.get_secret_value()}",
            "Stripe-Version": STRIPE_API_VERSION,
            "User-Agent": USER_AGENT,
        }
        if settings.account:
            headers["Stripe-Account"] = settings.account
        self._http = httpx.AsyncClient(
            base_url=settings.api_base,
            headers=headers,
            timeout=timeout,
            transport=transport,
        )

    def __repr__(self) -> str:
        mode = "live" if self.settings.livemode else "test"
        return f"StripeClient(api_base={self.settings.api_base!r}, mode={mode!r})"

    async def get(self, path: str, params: Params | None = None) -> dict[str, Any]:
        """GET a Stripe path such as ``/v1/customers`` and return the decoded JSON object."""
        try:
            response = await self._http.get(path, params=_encode(params or {}))
        except httpx.TransportError as exc:
            raise StripeUnavailableError(
                f"could not reach Stripe at {self.settings.api_base} for GET {path}: "
                f"{type(exc).__name__}",
                method="GET",
                path=path,
            ) from None
        return self._checked(response, "GET", path)

    def _checked(self, response: httpx.Response, method: str, path: str) -> dict[str, Any]:
        body = json_body(response)
        status = response.status_code
        if status == 200 and isinstance(body, dict):
            return body
        where = f"{method} {path}"
        if status == 200:
            raise StripeAPIError(
                f"Stripe answered {where} with HTTP 200 but no JSON object "
                f"(content-type {response.headers.get('content-type', 'none')})",
                status_code=status,
                method=method,
                path=path,
            )
        error = body.get("error", {}) if isinstance(body, dict) else {}
        error = error if isinstance(error, dict) else {}
        message = str(error.get("message") or response.reason_phrase or "no message")
        code = error.get("code")
        kwargs: dict[str, Any] = {
            "status_code": status,
            "method": method,
            "path": path,
            "code": code,
        }
        if status == 401:
            raise StripeAuthError(
                f"Stripe rejected the API key on {where} (HTTP 401): {message}", **kwargs
            )
        if status == 403:
            raise StripeAuthError(
                f"the Stripe key may not read {path} (HTTP 403): {message}; "
                "a restricted key needs read permission on this resource",
                **kwargs,
            )
        if status == 429 or status >= 500:
            raise StripeUnavailableError(
                f"Stripe answered {where} with HTTP {status}: {message}", **kwargs
            )
        param = error.get("param")
        detail = f" (param {param})" if param else ""
        raise StripeRequestError(
            f"Stripe refused {where} with HTTP {status}{detail}: {message}", **kwargs
        )


def _encode(params: Params) -> list[tuple[str, str | int | float | bool | None]]:
    """Encode params the way Stripe's form encoding expects (booleans as true/false)."""
    pairs: list[tuple[str, str | int | float | bool | None]] = []
    for key, value in params.items():
        if value is None:
            continue
        values = value if isinstance(value, list) else [value]
        for item in values:
            text = ("true" if item else "false") if isinstance(item, bool) else str(item)
            pairs.append((key, text))
    return pairs
