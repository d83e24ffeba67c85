"""Map a Customer.io HTTP response to our exception types, and read its per-item problems."""

from __future__ import annotations

from typing import Any

import httpx

from ..exceptions import (
    CustomerIOAPIError,
    CustomerIOAuthError,
    CustomerIORequestError,
    CustomerIOUnavailableError,
)
from ..redaction import mask_url
from ..settings import CustomerIOSettings


def is_retryable(status: int) -> bool:
    """Whether a status is transient: 429 (rate limited), 408 and 5xx."""
    return status in (408, 429) or status >= 500


def error_message(body: Any) -> str | None:
    """The first message of a v2 `{"errors": [...]}` or v1 `{"meta": {"errors": [...]}}` body."""
    if not isinstance(body, dict):
        return None
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        message = errors[0].get("message")
        if message:
            return str(message)
    meta = body.get("meta")
    if isinstance(meta, dict):
        errors = meta.get("errors")
        if isinstance(errors, list) and errors:
            first = errors[0]
            return str(first.get("message", first) if isinstance(first, dict) else first)
        if meta.get("error"):
            return str(meta["error"])
    return None


def first_problem(body: Any, status: int) -> tuple[str, str, str]:
    """(reason, field, message) of a refused single item, from whichever body shape came back."""
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            return (
                str(first.get("reason") or "invalid"),
                str(first.get("field") or ""),
                str(first.get("message") or f"HTTP {status}"),
            )
    return "invalid", "", error_message(body) or f"HTTP {status}"


def error_for(
    settings: CustomerIOSettings, response: httpx.Response, body: Any, method: str, path: str
) -> CustomerIOAPIError:
    """The exception describing a response we cannot use; one line, never a secret."""
    status = response.status_code
    where = f"{method} {path}"
    kwargs: dict[str, Any] = {"status_code": status, "method": method, "path": path}
    if status in (401, 403):
        # A US workspace's key is refused by the EU host (and the other way round), so a wrong
        # region looks exactly like a wrong key. Source: https://docs.customer.io/api/track/
        # ("if your account is based in the US data center and you send requests to the EU
        # region, your requests will fail").
        return CustomerIOAuthError(
            f"Customer.io refused the key or region from {settings.origin} on {where} (HTTP "
            f"{status}: site id {settings.site_id!r}, region {settings.region!r}, "
            f"{mask_url(settings.base_url)}); check the site id and API key there, and that the "
            "region is the workspace's data center",
            **kwargs,
        )
    if 300 <= status < 400:
        location = response.headers.get("location", "elsewhere")
        return CustomerIORequestError(
            f"Customer.io redirected {where} to {location} (HTTP {status}); set the region "
            f"(CUSTOMERIO_REGION, now {settings.region!r}) or CUSTOMERIO_TRACK_URL to the host "
            "of the workspace's data center",
            **kwargs,
        )
    message = error_message(body) or response.reason_phrase or "no message"
    if is_retryable(status):
        return CustomerIOUnavailableError(
            f"Customer.io answered {where} with HTTP {status}: {message}", **kwargs
        )
    return CustomerIORequestError(
        f"Customer.io refused {where} with HTTP {status}: {message}", **kwargs
    )
