"""Stripe-shaped error responses and the masking of API keys in their messages."""

from __future__ import annotations

import re
from typing import Any

import orjson

# Stripe's error object: type, code, message, param, doc_url (and request_log_url).
# Source: https://docs.stripe.com/api/errors
_DOCS = "https://stripe.com/docs/error-codes"


class StripeError(Exception):
    """An error answer: HTTP status plus the body's `error` object."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",  # Stripe's field name
        code: str | None = None,
        param: str | None = None,
        should_retry: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error: dict[str, Any] = {"type": type, "code": code, "message": message}
        self.error["param"] = param
        if code:
            self.error["doc_url"] = f"{_DOCS}/{code.replace('_', '-')}"
        self.should_retry = should_retry

    def body(self, request_id: str) -> bytes:
        error = {
            **self.error,
            "request_log_url": f"https://dashboard.stripe.com/test/logs/{request_id}",
        }
        return orjson.dumps({"error": error})


_KEY_PREFIX = re.compile(r"^(?:sk|rk|pk)_(?:test|live)_")


def mask_key(key: str) -> str:
    """`sk_test_****abcd` as Stripe shows a refused key: prefix, stars, last four; never more."""
    prefix_match = _KEY_PREFIX.match(key)
    prefix = prefix_match.group(0) if prefix_match else ""
    secret = key[len(prefix) :]
    if len(secret) < 12:  # too short to reveal any of it safely
        return prefix + "*" * len(secret)
    return prefix + "*" * (len(secret) - 4) + secret[-4:]


def missing_key() -> StripeError:
    # Wording of Stripe's answer to a request without credentials.
    # Source: https://docs.stripe.com/api/authentication
    return StripeError(
        401,
        "You did not provide an API key. You need to provide your API key in the Authorization "
        "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
        "https://stripe.com/docs/api#authentication for details, or we can help at "
        "https://support.stripe.com/.",
    )


def invalid_key(key: str) -> StripeError:
    return StripeError(401, f"Invalid API Key provided: {mask_key(key)}")


def resource_missing(object_name: str, object_id: str, param: str = "id") -> StripeError:
    return StripeError(
        404, f"No such {object_name}: '{object_id}'", code="resource_missing", param=param
    )


def rate_limited() -> StripeError:
    # Stripe answers its rate limiter with 429, type invalid_request_error, code rate_limit
    # (seen raw in https://github.com/codecombat/codecombat/issues/2588; wording per
    # https://docs.stripe.com/rate-limits). No Stripe-Should-Retry here: Stripe's SDKs honour
    # that header, yet by design do not retry rate-limit 429s
    # (https://github.com/stripe/stripe-node/issues/1110), so Stripe does not send `true`.
    return StripeError(
        429,
        "Request rate limit exceeded. You can learn more about rate limits here "
        "https://stripe.com/docs/rate-limits.",
        code="rate_limit",
    )


def api_error() -> StripeError:
    # A 500 that is safe to retry; Stripe marks such answers with `Stripe-Should-Retry: true`,
    # which its SDKs obey (stripe-python `_http_client.HTTPClient._should_retry`).
    return StripeError(
        500,
        "An unknown error occurred (sandbox fault injection).",
        type="api_error",
        should_retry=True,
    )


def account_invalid(key: str, account: str) -> StripeError:
    # A `Stripe-Account` the key cannot act for: unknown, not connected to this platform, or
    # whose access was revoked; Stripe's code `account_invalid` says "The account ID provided
    # as a value for the Stripe-Account header is invalid" (https://docs.stripe.com/error-codes),
    # answered 403 (stripe-python raises PermissionError) with the key masked, in the wording
    # Stripe's own SDKs test against (stripe-php `testRaisesPermissionErrorOn403`).
    return StripeError(
        403,
        f"The provided key '{mask_key(key)}' does not have access to account '{account}' (or "
        "that account does not exist). Application access may have been revoked.",
        code="account_invalid",
    )


def not_a_platform() -> StripeError:
    # What Stripe answers an account that is not a Connect platform asking for other accounts
    # (seen raw in https://github.com/stripe/stripe-apps/issues/505).
    return StripeError(
        403,
        "Only Stripe Connect platforms can work with other accounts. If you specified a "
        "client_id parameter, make sure it's correct. If you need to setup a Stripe Connect "
        "platform, you can do so at https://dashboard.stripe.com/account/applications/settings.",
    )
