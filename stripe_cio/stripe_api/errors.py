"""Map a Stripe HTTP response to our exception types, and say whether retrying may help."""

from __future__ import annotations

from typing import Any

import httpx

from ..exceptions import (
    StripeAPIError,
    StripeAuthError,
    StripeRequestError,
    StripeUnavailableError,
)


def is_retryable(response: httpx.Response) -> bool:
    """Whether a failed response is worth retrying.

    Stripe may say so itself in `Stripe-Should-Retry` ("false" when a retry would be a no-op,
    "true" e.g. after a lock timeout), which wins; otherwise 409 conflicts, 429 rate limits and
    5xx are transient. Source: https://docs.stripe.com/error-low-level#idempotency and the
    retry rules of Stripe's own SDKs (stripe-python `_should_retry`).
    """
    advice = response.headers.get("stripe-should-retry")
    if advice == "false":
        return False
    if advice == "true":
        return True
    status = response.status_code
    return status in (409, 429) or status >= 500


def error_for(
    response: httpx.Response, body: Any, method: str, path: str, origin: str = "the settings given"
) -> StripeAPIError:
    """The exception that describes a response which is not a usable 200; one line, no secret.

    `origin` says where the key came from ("the StripeCredentials block 'prod'"), so that a
    refusal names what to fix."""
    status = response.status_code
    where = f"{method} {path}"
    if status == 200:
        return StripeAPIError(
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
    kwargs: dict[str, Any] = {"status_code": status, "method": method, "path": path, "code": code}
    if status == 401:
        return StripeAuthError(
            f"Stripe rejected the API key from {origin} on {where} (HTTP 401): {message}; "
            "check the key there",
            **kwargs,
        )
    if status == 403 and code == "account_invalid":
        # A Stripe-Account header naming an account not connected to the platform, or whose
        # access was revoked (https://docs.stripe.com/error-codes, `account_invalid`).
        return StripeAuthError(
            f"Stripe refused to act for the connected account on {where} (HTTP 403): {message}; "
            "it is not connected to the platform of the key from "
            f"{origin}, or its access was revoked",
            **kwargs,
        )
    if status == 403:
        return StripeAuthError(
            f"the Stripe key from {origin} may not read {path} (HTTP 403): {message}; "
            "a restricted key needs read permission on this resource",
            **kwargs,
        )
    if status in (409, 429) or status >= 500:
        return StripeUnavailableError(
            f"Stripe answered {where} with HTTP {status}: {message}", **kwargs
        )
    param = error.get("param")
    detail = f" (param {param})" if param else ""
    return StripeRequestError(
        f"Stripe refused {where} with HTTP {status}{detail}: {message}", **kwargs
    )
