"""Per-resource object templates, derived from Stripe's published fixtures and shipped as JSON.

`templates.json` (next to this module) is generated from Stripe's OpenAPI fixtures
(`../shared/stripe/fixtures3.json`, MIT) by `python -m stripe_cio.sandbox.synthetic.templates`:
each template keeps exactly the fixture's top-level keys, with the fixture's placeholder values
(a discount on every customer, an ACH source on every charge...) replaced by what an ordinary
card-paying account shows. The package only reads the shipped file, so it works without
`../shared`; a test checks that the file still matches the fixtures.
"""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

TEMPLATE_FILE = Path(__file__).with_name("templates.json")
# synthetic/ → sandbox/ → stripe_cio/ → repository root; the shared folder sits next to it.
FIXTURES_FILE = Path(__file__).resolve().parents[3].parent / "shared" / "stripe" / "fixtures3.json"

# Our resource names (the server's URL segments) → the fixture's resource names.
FIXTURE_NAMES: dict[str, str] = {
    "customers": "customer",
    "charges": "charge",
    "payment_intents": "payment_intent",
    "invoices": "invoice",
    "subscriptions": "subscription",
    "refunds": "refund",
    "disputes": "dispute",
    "checkout_sessions": "checkout.session",
    "events": "event",
    "prices": "price",
    "products": "product",
    "deleted_customer": "deleted_customer",
}

_ADDRESS = {
    "city": None,
    "country": None,
    "line1": None,
    "line2": None,
    "postal_code": None,
    "state": None,
}

# Values that differ from the fixture's placeholders. Only keys the fixture has are allowed.
_OVERRIDES: dict[str, dict[str, Any]] = {
    "customer": {"address": None, "discount": None, "shipping": None, "email": None},
    "charge": {
        "balance_transaction": None,
        "calculated_statement_descriptor": "SANDBOX SHOP",
        "description": None,
        "outcome": None,
        "payment_method": None,
        "payment_method_details": None,
        "receipt_url": None,
        "refunds": None,
        "shipping": None,
        "source": None,
        "transfer_data": None,
        "captured": True,
    },
    "payment_intent": {
        "amount_details": {"tip": {}},
        "canceled_at": None,
        "last_payment_error": None,
        "next_action": None,
        "payment_method_configuration_details": None,
        "processing": None,
        "shipping": None,
        "transfer_data": None,
        "managed_payments": None,
        "client_secret": None,
    },
    "invoice": {
        "account_name": "Sandbox Shop",
        "amount_overpaid": 0,
        "auto_advance": True,
        "billing_reason": "subscription_cycle",
        "customer_address": None,
        "customer_shipping": None,
        "due_date": None,
        "ending_balance": 0,
        "from_invoice": None,
        "last_finalization_error": None,
        "lines": None,
        "parent": None,
        "shipping_cost": None,
        "shipping_details": None,
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
    },
    "subscription": {
        "billing_cycle_anchor_config": None,
        "billing_mode": {"type": "classic", "flexible": None},
        "billing_schedules": [],
        "billing_thresholds": None,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "ended_at": None,
        "items": None,
        "managed_payments": None,
        "next_pending_invoice_item_invoice": None,
        "pause_collection": None,
        "pending_invoice_item_interval": None,
        "pending_update": None,
        "transfer_data": None,
        "trial_end": None,
        "trial_start": None,
    },
    "subscription_item": {"billing_thresholds": None, "plan": None, "price": None},
    "invoice_line_item": {
        "parent": None,
        "pretax_credit_amounts": [],
        "taxes": [],
        "discountable": True,
    },
    "refund": {"reason": None},
    "dispute": {
        "enhanced_eligibility_types": [],
        "is_charge_refundable": False,
        "status": "needs_response",
    },
    "checkout.session": {
        "after_expiration": None,
        "adaptive_pricing": {"enabled": False},
        "collected_information": None,
        "consent": None,
        "consent_collection": None,
        "currency_conversion": None,
        "custom_text": {
            "after_submit": None,
            "shipping_address": None,
            "submit": None,
            "terms_of_service_acceptance": None,
        },
        "invoice_creation": None,
        "managed_payments": None,
        "payment_method_configuration_details": None,
        "permissions": None,
        "saved_payment_method_options": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "url": None,
        "wallet_options": None,
    },
    "event": {"api_version": "2026-10-28.endive", "data": None, "type": None},
    "price": {"custom_unit_amount": None, "transform_quantity": None},
    "product": {
        "default_price": None,
        "description": None,
        "package_dimensions": None,
        "type": "service",
    },
    "deleted_customer": {},
}


def _apply(name: str, fixture: dict[str, Any]) -> dict[str, Any]:
    overrides = _OVERRIDES[name]
    unknown = sorted(set(overrides) - set(fixture))
    if unknown:
        raise KeyError(f"overrides for {name} name keys the fixture lacks: {unknown}")
    return {key: overrides.get(key, value) for key, value in sorted(fixture.items())}


def build_templates(fixtures: dict[str, Any]) -> dict[str, Any]:
    """Derive the shipped templates from the parsed fixtures3.json."""
    resources = fixtures["resources"]
    templates: dict[str, Any] = {
        ours: _apply(theirs, resources[theirs]) for ours, theirs in FIXTURE_NAMES.items()
    }
    # Nested shapes the generator builds many of: a subscription item and an invoice line.
    templates["subscription_item"] = _apply(
        "subscription_item", resources["subscription"]["items"]["data"][0]
    )
    templates["invoice_line_item"] = _apply(
        "invoice_line_item", resources["invoice"]["lines"]["data"][0]
    )
    templates["charge_outcome"] = {key: None for key in resources["charge"]["outcome"]}
    templates["card_details"] = dict(resources["charge"]["payment_method_details"]["card"])
    templates["address"] = dict(_ADDRESS)
    return templates


@cache
def load_templates() -> dict[str, Any]:
    """The shipped templates (read once; callers must treat them as immutable)."""
    loaded: dict[str, Any] = json.loads(TEMPLATE_FILE.read_text(encoding="utf-8"))
    return loaded


def main() -> None:
    """Regenerate templates.json from the shared fixtures."""
    fixtures = json.loads(FIXTURES_FILE.read_text(encoding="utf-8"))
    text = json.dumps(build_templates(fixtures), indent=1, sort_keys=True) + "\n"
    TEMPLATE_FILE.write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote {TEMPLATE_FILE}\n")


if __name__ == "__main__":
    main()
