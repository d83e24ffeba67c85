"""Track API v1 handlers: identify, delete, person events and anonymous events.

Shapes from the Track API OpenAPI (https://docs.customer.io/files/journeys-track.json): identify is
`PUT /api/v1/customers/{identifier}` with attributes as the body; events are
`POST /api/v1/customers/{identifier}/events` and `POST /api/v1/events` with `name`, `data`, `id`,
`timestamp` (and `anonymous_id` on the latter). A refused v1 call answers 400 with
`{"meta": {"error": "..."}}` (https://docs.customer.io/journeys/invalid-api-requests); the sandbox
adds `"errors": [...]` beside it so clients that read either key find the message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from .limits import Problem, Refused, check_event, check_identifier, inspect_attributes
from .state import IdKind, Store, classify_identifier

Response = tuple[int, Any]
OK: Response = (200, {})


def bad_request(problem: Problem) -> Response:
    """Customer.io's v1 error body for a refused call."""
    message = problem[2]
    return 400, {"meta": {"error": message, "errors": [message]}}


def parse_object(body: bytes, *, empty_ok: bool = True) -> dict[str, Any] | Problem:
    """The JSON object in a request body, or the problem with it."""
    if not body.strip():
        if empty_ok:
            return {}
        return ("required", "body", "request body must not be empty")
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ("invalid", "body", "request body is not valid JSON")
    if not isinstance(parsed, dict):
        return ("invalid", "body", "request body must be a JSON object")
    return parsed


def _path_identifier(raw: str) -> tuple[IdKind, str]:
    kind, value = classify_identifier(raw)
    problem = check_identifier(value, "identifier")
    if problem is not None:
        raise Refused(problem)
    return kind, value


def person_route(
    handler: Callable[[Store, IdKind, str, bytes], Response], raw_identifier: str
) -> Callable[[Store, bytes], Response]:
    """A `/api/v1/customers/{identifier}/...` handler whose path identifier is checked first."""

    def handle(store: Store, body: bytes) -> Response:
        try:
            kind, value = _path_identifier(raw_identifier)
        except Refused as refused:
            return bad_request(refused.problem)
        return handler(store, kind, value, body)

    return handle


def _identifier_attributes(attributes: dict[str, Any]) -> Problem | None:
    """`id` and `email` in an identify body set identifiers and must be non-empty strings."""
    for key in ("id", "email"):
        if key in attributes and attributes[key] is not None:
            problem = check_identifier(attributes[key], f"{key} attribute")
            if problem is not None:
                return problem
    return None


def identify(store: Store, kind: IdKind, value: str, body: bytes) -> Response:
    """`PUT /api/v1/customers/{identifier}`: create or update; `_update: true` never creates."""
    attributes = parse_object(body)
    if isinstance(attributes, tuple):
        return bad_request(attributes)
    problem, may_clear = inspect_attributes(attributes, "attributes")
    problem = problem or _identifier_attributes(attributes)
    if problem is not None:
        return bad_request(problem)
    update_only = attributes.get("_update") is True
    problem = store.identify(kind, value, attributes, None, update_only, may_clear)
    return bad_request(problem) if problem is not None else OK


def remove(store: Store, kind: IdKind, value: str, body: bytes) -> Response:
    """`DELETE /api/v1/customers/{identifier}`: deleting someone unknown is not an error."""
    store.delete(kind, value)
    return OK


def _event_fields(payload: dict[str, Any]) -> Problem | None:
    return check_event(
        payload.get("name"),
        payload.get("data"),
        payload.get("id"),
        payload.get("timestamp"),
        "data",
    )


def track(store: Store, kind: IdKind, value: str, body: bytes) -> Response:
    """`POST /api/v1/customers/{identifier}/events`: one event, de-duplicated by its ULID `id`."""
    payload = parse_object(body, empty_ok=False)
    if isinstance(payload, tuple):
        return bad_request(payload)
    problem = _event_fields(payload)
    if problem is not None:
        return bad_request(problem)
    event_type = str(payload["type"]) if payload.get("type") in ("page", "screen") else "event"
    store.track(
        kind,
        value,
        payload["name"],
        payload.get("data") or {},
        payload.get("id"),
        payload.get("timestamp"),
        event_type,
    )
    return OK


def track_anonymous(store: Store, body: bytes) -> Response:
    """`POST /api/v1/events`: an event for nobody yet, optionally carrying an `anonymous_id`."""
    payload = parse_object(body, empty_ok=False)
    if isinstance(payload, tuple):
        return bad_request(payload)
    problem = _event_fields(payload)
    anonymous_id = payload.get("anonymous_id")
    if problem is None and anonymous_id is not None:
        problem = check_identifier(anonymous_id, "anonymous_id")
    if problem is not None:
        return bad_request(problem)
    store.track(
        None,
        anonymous_id or "",
        payload["name"],
        payload.get("data") or {},
        payload.get("id"),
        payload.get("timestamp"),
    )
    return OK


def suppress(store: Store, kind: IdKind, value: str, body: bytes) -> Response:
    """`POST /api/v1/customers/{identifier}/suppress`: delete and refuse the identifiers."""
    store.suppress(kind, value)
    return OK


def unsuppress(store: Store, kind: IdKind, value: str, body: bytes) -> Response:
    """`POST /api/v1/customers/{identifier}/unsuppress`: accept the identifiers again."""
    store.unsuppress(kind, value)
    return OK


def _reference(payload: dict[str, Any], side: str) -> tuple[IdKind, str]:
    reference = payload.get(side)
    if not isinstance(reference, dict) or len(reference) != 1:
        raise Refused(("invalid", side, f"{side} must hold exactly one of id, email, cio_id"))
    ((kind, value),) = reference.items()
    if kind not in ("id", "email", "cio_id"):
        raise Refused(("invalid", side, f"{side} must hold exactly one of id, email, cio_id"))
    problem = check_identifier(value, f"{side}.{kind}")
    if problem is not None:
        raise Refused(problem)
    return kind, value


def merge_customers(store: Store, body: bytes) -> Response:
    """`POST /api/v1/merge_customers`: fold `secondary` into `primary` (which must exist)."""
    payload = parse_object(body, empty_ok=False)
    if isinstance(payload, tuple):
        return bad_request(payload)
    try:
        primary, secondary = _reference(payload, "primary"), _reference(payload, "secondary")
    except Refused as refused:
        return bad_request(refused.problem)
    problem = store.merge(primary, secondary)
    return bad_request(problem) if problem is not None else OK
