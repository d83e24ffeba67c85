"""An async Customer.io Track API client over httpx that checks every status code."""

from __future__ import annotations

from typing import Any

import httpx

from .._exceptions import (
    CustomerIOAPIError,
    CustomerIOAuthError,
    CustomerIORequestError,
    CustomerIOUnavailableError,
)
from .._http import USER_AGENT, AsyncAPIClient, json_body
from .._settings import CustomerIOSettings

__all__ = ["CustomerIOClient"]


class CustomerIOClient(AsyncAPIClient):
    """Talks to one Customer.io workspace: ``async with CustomerIOClient(settings) as cio``."""

    def __init__(
        self,
        settings: CustomerIOSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.settings = settings
        # The Track API authenticates with HTTP basic auth, site id as user, API key as password.
        # Source: https://docs.customer.io/integrations/api/track/#section/Authentication
        self._http = httpx.AsyncClient(
            base_url=settings.base_url,
            auth=httpx.BasicAuth(settings.site_id, settings.api_key.get_secret_value()),
            headers={"User-Agent": USER_AGENT},
            timeout=timeout,
            transport=transport,
        )

    def __repr__(self) -> str:
        settings = self.settings
        return f"CustomerIOClient(base_url={settings.base_url!r}, site_id={settings.site_id!r})"

    async def request(self, method: str, path: str, json: Any | None = None) -> Any:
        """Send one request and return the decoded JSON body (None when empty)."""
        try:
            response = await self._http.request(method, path, json=json)
        except httpx.TransportError as exc:
            raise CustomerIOUnavailableError(
                f"could not reach Customer.io at {self.settings.base_url} for {method} {path}: "
                f"{type(exc).__name__}",
                method=method,
                path=path,
            ) from None
        return self._checked(response, method, path)

    async def region(self) -> dict[str, Any]:
        """Ask Customer.io which region the workspace lives in; doubles as a credentials check."""
        body = await self.request("GET", "/api/v1/accounts/region")
        if not isinstance(body, dict):
            raise CustomerIOAPIError(
                "Customer.io answered GET /api/v1/accounts/region without a JSON object",
                method="GET",
                path="/api/v1/accounts/region",
            )
        return body

    def _checked(self, response: httpx.Response, method: str, path: str) -> Any:
        status = response.status_code
        body = json_body(response)
        if 200 <= status < 300:
            return body
        where = f"{method} {path}"
        kwargs: dict[str, Any] = {"status_code": status, "method": method, "path": path}
        if status in (401, 403):
            raise CustomerIOAuthError(
                f"Customer.io refused site id {self.settings.site_id!r} in region "
                f"{self.settings.region!r} on {where} (HTTP {status}); check the site id and "
                "API key (CUSTOMERIO_SITE_ID and CUSTOMERIO_API_KEY, or the CustomerIOCredentials "
                "block) and that the region matches the workspace's data center",
                **kwargs,
            )
        message = _error_message(body) or response.reason_phrase or "no message"
        if status == 429 or status >= 500:
            raise CustomerIOUnavailableError(
                f"Customer.io answered {where} with HTTP {status}: {message}", **kwargs
            )
        raise CustomerIORequestError(
            f"Customer.io refused {where} with HTTP {status}: {message}", **kwargs
        )


def _error_message(body: Any) -> str | None:
    """Pull the first error message out of Customer.io's `{"meta": {"errors": [...]}}` body."""
    if not isinstance(body, dict):
        return None
    errors = body.get("meta", {}).get("errors") if isinstance(body.get("meta"), dict) else None
    if isinstance(errors, list) and errors:
        first = errors[0]
        return str(first.get("message", first) if isinstance(first, dict) else first)
    return None
