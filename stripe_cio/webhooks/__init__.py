"""Stripe webhooks: verified deliveries of Stripe events, written to the ledger before they are
acknowledged, then delivered to Customer.io by the same job code as the events poll
(docs/webhooks.md)."""

from .signature import (
    REJECT_REASONS,
    SCHEME,
    TOLERANCE_SECONDS,
    SignatureRejected,
    signature_header,
    v1_signature,
    verify,
)

__all__ = [
    "REJECT_REASONS",
    "SCHEME",
    "TOLERANCE_SECONDS",
    "SignatureRejected",
    "signature_header",
    "v1_signature",
    "verify",
]
