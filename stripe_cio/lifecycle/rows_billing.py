"""Rows of subscription, checkout and invoice events: their `data` keys (docs/events.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .changes import classify, states
from .fields import (
    FieldProblem,
    SkipEvent,
    currency,
    nested,
    opt_currency,
    opt_int,
    opt_str,
    req_int,
    req_str,
)
from .model import Source
from .money import (
    in_major,
    major,
    monthly_amount,
    mrr_contribution,
    plan_name,
    subscription_lines,
)

MAX_INVOICE_LINES = 20


def subscription_created(src: Source) -> dict[str, Any]:
    obj = src.obj
    code = currency(obj)
    lines = subscription_lines(obj, src.lookup)
    return {
        "subscription_id": req_str(obj, "id"),
        "plan": plan_name(lines),
        "status": opt_str(obj, "status"),
        "interval": lines[0].interval if lines else None,
        "monthly_amount": in_major(monthly_amount(lines, code), code),
        "currency": code,
        "trial_end": opt_int(obj, "trial_end"),
    }


def subscription_changed(src: Source) -> dict[str, Any]:
    """The update's change, plans, statuses and MRR before and after."""
    obj = src.obj
    code = currency(obj)
    subscription_id = req_str(obj, "id")
    before, after = states(obj, src.previous, code, src.lookup)
    change = classify(before, after)
    if change is None:
        raise SkipEvent("no_change")  # a renewal, metadata, ...
    return {
        "subscription_id": subscription_id,
        "change": change,
        "from_plan": plan_name(before.lines),
        "to_plan": plan_name(after.lines),
        "previous_status": before.status,
        "status": after.status,
        "mrr_before": in_major(mrr_contribution(before.monthly, before.status), code),
        "mrr_after": in_major(mrr_contribution(after.monthly, after.status), code),
        "currency": code,
    }


def subscription_canceled(src: Source) -> dict[str, Any]:
    obj = src.obj
    details = nested(obj, "cancellation_details")
    return {
        "subscription_id": req_str(obj, "id"),
        "plan": plan_name(subscription_lines(obj, src.lookup)),
        "canceled_at": opt_int(obj, "canceled_at"),
        "ended_at": opt_int(obj, "ended_at"),
        "cancellation_reason": opt_str(details, "reason"),
        "cancellation_feedback": opt_str(details, "feedback"),
    }


def trial_will_end(src: Source) -> dict[str, Any]:
    obj = src.obj
    return {
        "subscription_id": req_str(obj, "id"),
        "plan": plan_name(subscription_lines(obj, src.lookup)),
        "trial_end": opt_int(obj, "trial_end"),
    }


def checkout_completed(src: Source) -> dict[str, Any]:
    obj = src.obj
    code = opt_currency(obj)
    total = opt_int(obj, "amount_total")
    if total is not None and code is None:
        raise FieldProblem("missing_field:currency")
    return {
        "session_id": req_str(obj, "id"),
        "mode": opt_str(obj, "mode"),
        "amount_total": major(total, code) if total is not None and code else None,
        "currency": code,
        "payment_status": opt_str(obj, "payment_status"),
    }


def _line(line: Any, code: str) -> dict[str, Any]:
    if not isinstance(line, Mapping):
        raise FieldProblem("invalid_field:lines")
    return {
        "description": opt_str(line, "description"),
        "quantity": opt_int(line, "quantity"),
        # `amount` is the line's total, not a unit price ("The amount, in cents":
        # https://docs.stripe.com/api/invoice-line-item/object).
        "amount": major(req_int(line, "amount"), opt_currency(line) or code),
    }


def invoice_paid(src: Source) -> dict[str, Any]:
    """The receipt: amounts, links, and at most the first 20 lines."""
    obj = src.obj
    code = currency(obj)
    lines = obj.get("lines")
    data = lines.get("data") if isinstance(lines, Mapping) else lines
    if data is not None and not isinstance(data, list):
        raise FieldProblem("invalid_field:lines")
    return {
        "invoice_id": req_str(obj, "id"),
        "number": opt_str(obj, "number"),
        "amount_paid": major(req_int(obj, "amount_paid"), code),
        "currency": code,
        "hosted_invoice_url": opt_str(obj, "hosted_invoice_url"),
        "invoice_pdf": opt_str(obj, "invoice_pdf"),
        "lines": None if data is None else [_line(x, code) for x in data[:MAX_INVOICE_LINES]],
    }


def invoice_payment_failed(src: Source) -> dict[str, Any]:
    obj = src.obj
    code = currency(obj)
    return {
        "invoice_id": req_str(obj, "id"),
        "amount_due": major(req_int(obj, "amount_due"), code),
        "currency": code,
        "attempt_count": opt_int(obj, "attempt_count"),
        "next_payment_attempt": opt_int(obj, "next_payment_attempt"),
        "hosted_invoice_url": opt_str(obj, "hosted_invoice_url"),
    }
