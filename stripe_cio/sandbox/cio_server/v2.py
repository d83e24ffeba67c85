"""Track API v2 handlers: `POST /api/v2/entity` (one item) and `POST /api/v2/batch` (many).

Item shapes from the Track API OpenAPI (https://docs.customer.io/files/journeys-track.json,
tag `track_v2`): `{"type": "person", "identifiers": {...}, "action": ..., ...}` where person
`identifiers` hold exactly one of `id`, `email`, `cio_id` ("You cannot pass multiple
identifiers"); `identify` carries `attributes` (with `_update`) and an optional integer
`timestamp` that orders attribute updates; `event`/`screen`/`page` carry `name`, `id` (ULID),
`timestamp` and `attributes` (the event data — v1 calls it `data`). A batch answers 200 `{}`
when every item applied and 207 `{"errors": [{"batch_index", "reason", "field", "message"}]}`
when some were refused ("all other requests are accepted"); an unusable request answers 400
`{"errors": [{"reason", "field", "message"}]}` (plus `meta.errors`, as v1 clients expect).
"""

from __future__ import annotations

from typing import Any

import orjson

from .limits import (
    MAX_BATCH_BYTES,
    MAX_ENTITY_BYTES,
    MAX_IDENTIFIER_BYTES,
    MAX_ITEM_BYTES,
    Problem,
    Refused,
    check_attributes,
    check_event,
    check_identifier,
    check_timestamp,
    inspect_attributes,
)
from .state import IdKind, Store
from .v1 import Response, parse_object

OK: Response = (200, {})
_PERSON_KEYS: tuple[IdKind, ...] = ("id", "email", "cio_id")
# A UTF-8 character takes at most 4 bytes: strings this short are within the 150-byte limit.
_SAFE_ID_CHARS = MAX_IDENTIFIER_BYTES // 4
_EVENT_ACTIONS = frozenset({"event", "screen", "page"})
# Accepted and checked for their required key, but not modelled: nothing here reads them back.
_UNMODELLED = {
    "add_relationships": "cio_relationships",
    "delete_relationships": "cio_relationships",
    "add_device": "device",
    "delete_device": "device",
}


def invalid_request(problems: list[Problem]) -> Response:
    """400 for a request that cannot be applied at all."""
    return 400, {
        "errors": [{"reason": r, "field": f, "message": m} for r, f, m in problems],
        "meta": {"errors": [m for _, _, m in problems]},
    }


def _person_identifier(identifiers: Any, field: str) -> tuple[IdKind, str]:
    """The one identifier of a person reference, or Refused."""
    if identifiers.__class__ is dict and len(identifiers) == 1:
        # The common case, one short string identifier, without the general checks below.
        ((kind, value),) = identifiers.items()
        if kind in _PERSON_KEYS and value.__class__ is str and 0 < len(value) <= _SAFE_ID_CHARS:
            return kind, value
    if not isinstance(identifiers, dict):
        raise Refused(
            ("required", field, f"{field} must be an object with one of id, email, cio_id")
        )
    given = [key for key in _PERSON_KEYS if identifiers.get(key) is not None]
    if "phone" in identifiers:
        raise Refused(("invalid", f"{field}.phone", "phone is not enabled as an identifier"))
    if len(given) != 1:
        raise Refused(("invalid", field, f"{field} must hold exactly one of id, email, cio_id"))
    kind = given[0]
    value = identifiers[kind]
    if kind == "id" and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    problem = check_identifier(value, f"{field}.{kind}")
    if problem is not None:
        raise Refused(problem)
    return kind, value


def _identify(
    store: Store, kind: IdKind, value: str, item: dict[str, Any], encoded: bytes
) -> Problem | None:
    attributes = item.get("attributes")
    if attributes is None:
        attributes = {}
    problem, may_clear = inspect_attributes(attributes, "attributes", encoded)
    timestamp = item.get("timestamp")
    if timestamp is not None:
        problem = problem or check_timestamp(timestamp)
    if problem is not None:
        return problem
    if "id" in attributes or "email" in attributes:
        for key in ("id", "email"):
            if attributes.get(key) is not None:
                problem = check_identifier(attributes[key], f"attributes.{key}")
                if problem is not None:
                    return problem
    update_only = attributes.get("_update") is True or item.get("_update") is True
    return store.identify(kind, value, attributes, timestamp, update_only, may_clear)


def _person(store: Store, item: dict[str, Any], action: Any, encoded: bytes) -> Problem | None:
    if action == "merge":
        primary = _person_identifier(item.get("primary"), "primary")
        secondary = _person_identifier(item.get("secondary"), "secondary")
        return store.merge(primary, secondary)
    kind, value = _person_identifier(item.get("identifiers"), "identifiers")
    if action == "identify":
        return _identify(store, kind, value, item, encoded)
    if action in _EVENT_ACTIONS:
        data = item.get("attributes")
        problem = check_event(
            item.get("name"), data, item.get("id"), item.get("timestamp"), "attributes",
            len(encoded),
        )  # fmt: skip
        if problem is not None:
            return problem
        store.track(
            kind, value, item["name"], data or {}, item.get("id"), item.get("timestamp"), action
        )
        return None
    if action == "delete":
        store.delete(kind, value)
        return None
    if action == "suppress":
        store.suppress(kind, value)
        return None
    if action == "unsuppress":
        store.unsuppress(kind, value)
        return None
    if action in _UNMODELLED:
        required = _UNMODELLED[action]
        if item.get(required) is None:
            return ("required", required, f"{required} is required for {action}")
        return None
    return ("invalid", "action", f"unknown person action {action!r}")


def _object(store: Store, item: dict[str, Any], action: Any) -> Problem | None:
    identifiers = item.get("identifiers")
    if not isinstance(identifiers, dict):
        return ("required", "identifiers", "identifiers must be an object")
    if identifiers.get("cio_object_id") is not None:
        key = ("cio", str(identifiers["cio_object_id"]))
    elif identifiers.get("object_type_id") is not None and identifiers.get("object_id"):
        key = (str(identifiers["object_type_id"]), str(identifiers["object_id"]))
    else:
        return ("required", "identifiers", "object_type_id and object_id are required")
    if action in ("identify", "identify_anonymous"):
        attributes = item.get("attributes") or {}
        problem = check_attributes(attributes, "attributes")
        if problem is not None:
            return problem
        current = store.objects.setdefault(key, {})
        for name, value in attributes.items():
            if value is None or value == "":
                current.pop(name, None)
            else:
                current[name] = value
        return None
    if action == "delete":
        store.objects.pop(key, None)
        return None
    if action in ("add_relationships", "delete_relationships"):
        return None
    return ("invalid", "action", f"unknown object action {action!r}")


def apply_item(store: Store, item: Any, encoded: bytes) -> Problem | None:
    """Validate and apply one v2 item (`encoded`: its compact JSON); the problem, if refused."""
    if item.__class__ is not dict:
        return ("invalid", "", "each operation must be a JSON object")
    kind = item.get("type")
    action = item.get("action")
    if kind == "person":
        try:
            return _person(store, item, action, encoded)
        except Refused as refused:
            return refused.problem
    if kind == "object":
        return _object(store, item, action)
    if kind == "delivery":
        if action != "event" or not item.get("name"):
            return ("invalid", "action", "a delivery item needs action 'event' and a name")
        return None
    return ("invalid", "type", "type must be one of person, object, delivery")


def _body_object(body: bytes, limit: int) -> dict[str, Any] | Response:
    """The request's JSON object, or the 400 refusing a body over `limit` bytes or not one."""
    if len(body) > limit:
        return invalid_request(
            [("too_large", "body", f"request body is larger than {limit} bytes")]
        )
    parsed = parse_object(body, empty_ok=False)
    return invalid_request([parsed]) if isinstance(parsed, tuple) else parsed


def entity(store: Store, body: bytes) -> Response:
    """`POST /api/v2/entity`: one item, "smaller than 32kb"; any problem refuses it with 400."""
    item = _body_object(body, MAX_ENTITY_BYTES)
    if isinstance(item, tuple):
        return item
    problem = apply_item(store, item, orjson.dumps(item))
    return invalid_request([problem]) if problem is not None else OK


def batch(store: Store, body: bytes) -> Response:
    """`POST /api/v2/batch`: apply the valid items, report the others by `batch_index` (207)."""
    payload = _body_object(body, MAX_BATCH_BYTES)
    if isinstance(payload, tuple):
        return payload
    items = payload.get("batch")
    if not isinstance(items, list) or not items:
        return invalid_request([("required", "batch", "batch must be a non-empty array")])
    errors: list[dict[str, Any]] = []
    dumps = orjson.dumps
    for index, item in enumerate(items):
        # Each item is measured once, as compact JSON; the checks of its parts reuse that.
        encoded = dumps(item)
        if len(encoded) > MAX_ITEM_BYTES:
            problem: Problem | None = (
                "too_large",
                "",
                f"each operation must be {MAX_ITEM_BYTES} bytes or smaller",
            )
        else:
            problem = apply_item(store, item, encoded)
        if problem is not None:
            reason, field, message = problem
            errors.append(
                {"batch_index": index, "reason": reason, "field": field, "message": message}
            )
    store.batch_requests += 1
    store.batch_items += len(items)
    store.batch_items_rejected += len(errors)
    return (207, {"errors": errors}) if errors else OK
