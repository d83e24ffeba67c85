"""What each reason a run summary counts means: the rows, events and items a run skipped or
rejected, in one line each (the summary table's third column; docs/attributes.md, events.md,
ledger.md and delivery.md explain the same codes at length, and a test keeps them in step)."""

from __future__ import annotations

from collections.abc import Mapping

# A reason's code is its text up to the first ":" (`missing_field:amount` is `missing_field`).
REASONS: Mapping[str, str] = {
    # Rows left out of every person's attributes (docs/attributes.md).
    "deleted": "a deleted customer, with its charges, subscriptions and disputes",
    "no_identifier": "no identifier: a customer without the email (or metadata value) persons "
    "are keyed by, its rows, or a guest charge without a billing email",
    "invalid_email": "an email that is not one valid address: the person cannot be keyed by it",
    "unknown_customer": "refers to a customer the ledger does not hold (yet)",
    "unknown_charge": "refers to a charge the ledger does not hold (yet)",
    "history incomplete": "a person whose Stripe history the ledger has not finished reading; "
    "sent once a backfill or sync has read it",
    # Stripe events that make no Customer.io event (docs/events.md).
    "unmapped_type": "an event type stripe-cio does not turn into a Customer.io event",
    "payment_intent_events_off": "a payment_intent event while payments come from charge events "
    "(STRIPE_CIO_PAYMENT_INTENT_EVENTS=false)",
    "charge_events_off": "a charge event while payments come from payment_intent events "
    "(STRIPE_CIO_PAYMENT_INTENT_EVENTS=true)",
    "disabled": "an event type turned off in STRIPE_CIO_EVENTS_DISABLED",
    "backfill": "an event a backfill read: history, not news, so no campaign starts from it",
    "no_change": "a subscription update that changes nothing stripe-cio sends",
    "no_refund": "a charge.refunded event (before API version basil) that refunded nothing",
    "no_customer": "an event with neither a customer nor a guest email to send it to",
    "malformed_event": "an event without an id, type, created time or object",
    # Objects the ledger rejected (docs/ledger.md); a lifecycle event skipped for the same cause.
    "not_an_object": "Stripe sent something that is not a JSON object",
    "wrong_object_type": "an object of another type than the resource's",
    "missing_field": "a field the ledger needs is missing or null",
    "invalid_field": "a field holds a value of the wrong type",
    "negative_amount": "an amount below zero",
    "amount_out_of_range": "an amount larger than any Stripe amount (over 12 digits)",
    "nul_character": "a text field holding a NUL character, which PostgreSQL cannot store",
    "unknown_currency": "a currency Stripe does not support",
    "unparsable": "an object that cannot be stored as JSON",
    "amount_refunded_over_captured": "a charge that refunded more than it captured",
    "refund_over_charge": "a refund larger than its charge",
    "email is not a valid address": "a customer's or guest's email that is not one valid "
    "address; the object is kept, its email unused",
    "unreadable slice": "a part of a backfill Stripe would not serve; resume the backfill",
    "unreadable_page": "an events page Stripe would not serve; the next sync reads it again",
    "history_unreadable": "a customer's history Stripe would not serve; the next run reads it",
    # Items our pre-send checks or Customer.io refused, kept as dead letters (docs/delivery.md).
    "invalid_identifier": "a person identifier Customer.io does not accept (empty or unknown kind)",
    "identifier_too_long": "an identifier over Customer.io's 150 bytes",
    "too_many_attributes": "more attributes than Customer.io takes in one call (300)",
    "invalid_attribute_name": "an empty attribute name",
    "attribute_name_too_long": "an attribute name over Customer.io's 150 bytes",
    "attribute_value_too_long": "an attribute value over Customer.io's 1,000 bytes",
    "invalid_event_name": "an empty event name",
    "event_name_too_long": "an event name over Customer.io's 100 bytes",
    "event_data_too_large": "event data over Customer.io's 100,000 bytes",
    "invalid_event_data": "event data that is not a JSON object",
    "invalid_stripe_event_id": "an event without its Stripe event id",
    "invalid_timestamp": "an event time that is not Unix seconds",
    "item_too_large": "an item over Customer.io's 32 KB batch-item limit",
    "unserializable_attributes": "attributes that cannot be written as JSON",
    "unserializable_event_data": "event data that cannot be written as JSON",
    "not_replayable": "a dead letter that can never be accepted as it stands",
    "invalid": "Customer.io refused the item as invalid (its message is in the dead letter)",
    "required": "Customer.io found a required field missing (see the dead letter)",
    "too_large": "Customer.io found the item too large",
}


def reason_code(reason: str) -> str:
    """The code of a summary's reason: "Stripe charges: missing_field:amount" is
    "missing_field", "lifecycle: no_change" is "no_change"."""
    parts = reason.split(": ")
    for start in range(len(parts)):  # the prefixes name where: "Stripe charges", "lifecycle"
        rest = ": ".join(parts[start:])
        for candidate in (rest, rest.partition(":")[0]):
            if candidate in REASONS:
                return candidate
    return reason


def explain(reason: str) -> str:
    """The one line saying what `reason` means; empty for a reason stripe-cio does not know
    (an API's own, shown as it came)."""
    return REASONS.get(reason_code(reason), "")
