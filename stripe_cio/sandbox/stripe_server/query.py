"""Parse and validate a list request's query string into what the store needs for one page."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from urllib.parse import parse_qsl

from .errors import StripeError, resource_missing
from .records import Probe
from .resources import DEFAULT_VIEW, SUBSCRIPTION_STATUSES, ResourceSpec
from .store import StripeStore

# Events are listable and retrievable for 30 days. Source: https://docs.stripe.com/api/events
EVENT_WINDOW_SECONDS = 30 * 24 * 3600
MAX_TYPES = 20  # Source: https://docs.stripe.com/api/events/list (parameter `types`)
_FAR_FUTURE = 1 << 62
_ARRAY = re.compile(r"^(expand|types)(?:\[\d*\])?$")  # `types[]`, `types[0]` or `types`
_CREATED = re.compile(r"^created(?:\[(gt|gte|lt|lte)\])?$")


@dataclass
class ListQuery:
    """One page to read: the (created, id) span, page size, direction and index filters."""

    low: Probe = (0, "")
    high: Probe = (_FAR_FUTURE, "")
    limit: int = 10
    ascending: bool = False
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _unknown(name: str) -> StripeError:
    return StripeError(400, f"Received unknown parameter: {name}", param=name)


def _integer(name: str, text: str) -> int:
    if not re.fullmatch(r"-?\d{1,18}", text):
        raise StripeError(400, f"Invalid integer: {text}", param=name)
    return int(text)


def _non_empty(name: str, value: str) -> str:
    if value == "":
        # Stripe reads an empty value as an attempt to unset the parameter.
        raise StripeError(
            400,
            f"You passed an empty string for '{name}'. We assume empty values are an attempt "
            f"to unset a parameter; however '{name}' cannot be unset. You should remove "
            f"'{name}' from your request or supply a non-empty value.",
            param=name,
        )
    return value


def reject_params(query: bytes) -> None:
    """A retrieve takes no parameters but `expand`; anything else is refused as on Stripe."""
    for name, _ in parse_qsl(query.decode("utf-8", "replace"), keep_blank_values=True):
        if not _ARRAY.match(name) or name.startswith("types"):
            raise _unknown(name)


def parse_list_query(spec: ResourceSpec, query: bytes, store: StripeStore, now: int) -> ListQuery:
    """Validate every parameter as Stripe would and translate it; raises StripeError."""
    result = ListQuery()
    cursors: dict[str, str] = {}
    scalars: dict[str, str] = {}
    types: list[str] = []
    low, high = result.low, result.high
    for name, value in parse_qsl(query.decode("utf-8", "replace"), keep_blank_values=True):
        array = _ARRAY.match(name)
        created = _CREATED.match(name)
        if array and array.group(1) == "expand":
            continue  # accepted and ignored: the sandbox never expands
        if array and spec.name == "events":
            types.append(_non_empty("types", value))
        elif created:
            bound = _integer(name, value)
            op = created.group(1)
            if op in (None, "gte", "gt"):
                low = max(low, (bound + (op == "gt"), ""))
            if op in (None, "lte", "lt"):
                high = min(high, (bound + (op != "lt"), ""))
        elif name == "limit":
            result.limit = _integer(name, value)
            if not 1 <= result.limit <= 100:
                # Source: https://docs.stripe.com/api/pagination ("between 1 and 100")
                raise StripeError(400, "Invalid limit: must be between 1 and 100", param=name)
        elif name in ("starting_after", "ending_before"):
            cursors[name] = _non_empty(name, value)
        elif name in spec.filters:
            scalars[name] = _non_empty(name, value)
        else:
            raise _unknown(name)
    if len(cursors) == 2:
        raise StripeError(
            400,
            "You may only specify one of these parameters: ending_before, starting_after.",
            param="ending_before",
        )
    for name, object_id in cursors.items():
        created_at = store.created(spec.name, object_id)
        if created_at is None:
            raise resource_missing(spec.object_name, object_id, param=name)
        if name == "starting_after":
            high = min(high, (created_at, object_id))
        else:
            low = max(low, (created_at, object_id + "\x00"))  # just after the cursor
            result.ascending = True
    if spec.name == "events":
        low = max(low, (now - EVENT_WINDOW_SECONDS, ""))
        _event_types(scalars, types, store, result)
    if spec.name == "subscriptions":
        status = scalars.pop("status", DEFAULT_VIEW)
        if status not in SUBSCRIPTION_STATUSES and status != DEFAULT_VIEW:
            raise StripeError(
                400,
                "Invalid status: must be one of " + ", ".join(SUBSCRIPTION_STATUSES),
                param="status",
            )
        if status == "ended":  # Stripe: canceled or incomplete_expired
            result.filters["status"] = ("canceled", "incomplete_expired")
        elif status != "all":
            result.filters["status"] = (status,)
    for name, value in scalars.items():
        result.filters[name] = (value,)
    result.low, result.high = low, high
    return result


def _event_types(
    scalars: dict[str, str], types: list[str], store: StripeStore, result: ListQuery
) -> None:
    """`type` (with `*` wildcards) or `types[]` (exact names, at most 20), never both."""
    pattern = scalars.pop("type", None)
    if pattern is not None and types:
        raise StripeError(
            400, "You may only specify one of these parameters: type, types.", param="types"
        )
    if len(types) > MAX_TYPES:
        raise StripeError(
            400, f"Invalid array: types must contain at most {MAX_TYPES} elements", param="types"
        )
    if pattern is not None:
        known = store.values("events", "type")
        result.filters["type"] = tuple(t for t in known if fnmatchcase(t, pattern))
    elif types:
        result.filters["type"] = tuple(dict.fromkeys(types))


@dataclass
class PageParams:
    """The pagination parameters of a list without filters: page size, cursors, `created`."""

    limit: int = 10
    low: Probe = (0, "")
    high: Probe = (_FAR_FUTURE, "")
    cursors: dict[str, str] = field(default_factory=dict)


def parse_page_params(query: bytes) -> PageParams:
    """`limit`, `starting_after` or `ending_before`, `created` and `expand[]`, validated as for
    every other list; the caller resolves the cursors (it knows its objects)."""
    result = PageParams()
    for name, value in parse_qsl(query.decode("utf-8", "replace"), keep_blank_values=True):
        array = _ARRAY.match(name)
        created = _CREATED.match(name)
        if array and array.group(1) == "expand":
            continue
        if created:
            bound = _integer(name, value)
            op = created.group(1)
            if op in (None, "gte", "gt"):
                result.low = max(result.low, (bound + (op == "gt"), ""))
            if op in (None, "lte", "lt"):
                result.high = min(result.high, (bound + (op != "lt"), ""))
        elif name == "limit":
            result.limit = _integer(name, value)
            if not 1 <= result.limit <= 100:
                raise StripeError(400, "Invalid limit: must be between 1 and 100", param=name)
        elif name in ("starting_after", "ending_before"):
            result.cursors[name] = _non_empty(name, value)
        else:
            raise _unknown(name)
    if len(result.cursors) == 2:
        raise StripeError(
            400,
            "You may only specify one of these parameters: ending_before, starting_after.",
            param="ending_before",
        )
    return result
