"""Stripe's webhook signatures: checking the `Stripe-Signature` header of a delivery, and making
one (the sandbox signs what it sends, as Stripe does).

The scheme, as Stripe documents it (https://docs.stripe.com/webhooks#verify-manually): the
header is comma-separated `key=value` elements; `t` is the Unix time of signing and each `v1` a
signature, the hex HMAC-SHA256 under the endpoint's signing secret of `"{t}.{raw body}"`. Other
schemes (`v0`, a test scheme) are ignored. Several `v1` come when the secret is being rolled
(both secrets sign for a while), and a receiver may hold several secrets: any secret matching
any `v1` verifies. Signatures are compared in constant time. A timestamp older than the
tolerance (Stripe's libraries default to 5 minutes) is a replay and is refused; like those
libraries, a timestamp ahead of the clock is not refused (an attacker gains nothing by it).

Only the raw bytes are verified, before anything parses them.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

# Stripe's libraries' default tolerance (stripe-python: Webhook.DEFAULT_TOLERANCE = 300).
TOLERANCE_SECONDS = 300
SCHEME = "v1"

# Why a delivery was refused: the counted reasons, each one line for the operator (never the
# detail, which the sender does not get either).
REJECT_REASONS: dict[str, str] = {
    "too_large": "the body is larger than the receiver accepts",
    "missing_header": "no Stripe-Signature header",
    "malformed_header": "a Stripe-Signature header without a timestamp or a v1 signature",
    "bad_signature": "no v1 signature matches any configured secret",
    "too_old": "signed more than the tolerance ago (a replay, or a clock far behind)",
    "invalid_json": "the signed body is not a JSON event object",
}


class SignatureRejected(Exception):
    """A delivery whose signature does not verify; `reason` is one of REJECT_REASONS."""

    def __init__(self, reason: str) -> None:
        assert reason in REJECT_REASONS
        super().__init__(REJECT_REASONS[reason])
        self.reason = reason


def v1_signature(payload: bytes, secret: str, timestamp: int) -> str:
    """The hex `v1` signature of `payload` signed at `timestamp` under `secret`."""
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(payload: bytes, secrets: Sequence[str], timestamp: int) -> str:
    """The `Stripe-Signature` header Stripe sends for `payload`: one `v1` per secret (two
    while a secret is being rolled)."""
    return ",".join(
        [
            f"t={timestamp}",
            *(f"{SCHEME}={v1_signature(payload, secret, timestamp)}" for secret in secrets),
        ]
    )


def _parsed(header: str) -> tuple[int, list[str]]:
    """The timestamp and the `v1` signatures of a header (SignatureRejected if either is
    missing or malformed)."""
    timestamps: list[str] = []
    signatures: list[str] = []
    for element in header.split(","):
        key, sep, value = element.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            timestamps.append(value)
        elif key == SCHEME:
            signatures.append(value)
    if len(timestamps) != 1 or not timestamps[0].isascii() or not timestamps[0].isdigit():
        raise SignatureRejected("malformed_header")
    if not signatures:
        raise SignatureRejected("malformed_header")
    return int(timestamps[0]), signatures


def verify(
    payload: bytes,
    header: str | None,
    secrets: Sequence[str],
    *,
    now: float,
    tolerance: int = TOLERANCE_SECONDS,
) -> int:
    """Check a delivery's signature against every configured secret; its timestamp if it
    verifies, else SignatureRejected with the reason."""
    if not secrets:
        raise ValueError("no webhook signing secret is configured")
    if header is None or not header.strip():
        raise SignatureRejected("missing_header")
    timestamp, given = _parsed(header)
    expected = [v1_signature(payload, secret, timestamp) for secret in secrets]
    # Every pair is compared, each in constant time: how far a guess matched stays hidden.
    matched = False
    for candidate in given:
        for wanted in expected:
            matched |= hmac.compare_digest(candidate.encode(), wanted.encode())
    if not matched:
        raise SignatureRejected("bad_signature")
    if timestamp < now - tolerance:
        raise SignatureRejected("too_old")
    return timestamp
