"""Customer.io Track API limits and the checks that enforce them, shared by v1 and v2.

Every number here is Customer.io's published limit, written here independently of the client's
own (`stripe_cio.cio_api.limits`): the sandbox checks the client, so a wrong figure in one shows
up against the other instead of hiding in a shared constant.

- identifiers ≤ 150 bytes ("Maximum length of Customer ID: 150 bytes", Track API overview,
  https://docs.customer.io/api/track/ — also quoted by Amplitude's Customer.io destination docs);
- ≤ 300 attributes per call, attribute names ≤ 150 bytes, values ≤ 1000 bytes, event names
  ≤ 100 bytes, event data ≤ 100000 bytes and a hash — the error list of
  https://docs.customer.io/journeys/invalid-api-requests ("cannot identify more than 300
  attributes in one request", "attribute name cannot be longer than 150 bytes", "value for
  attribute '…' cannot be longer than 1000 bytes", "event name cannot be longer than 100 bytes",
  "event data must be a hash", "event data cannot be longer than 100000 bytes");
- `/api/v2/entity` "must be smaller than 32kb"; `/api/v2/batch` "must be smaller than 500kb" and
  each item "32kb or smaller" (Track API OpenAPI, https://docs.customer.io/files/journeys-track.json,
  operations `entity` and `batch`). The sandbox reads kb as 1024 bytes and accepts a body of
  exactly the limit, so a client that packs "≤ limit" is never refused;
- event `id` "a valid ULID used to deduplicate events" and `timestamp` "the Unix timestamp when the
  event happened", an integer (same OpenAPI, schema `person_event`).
"""

from __future__ import annotations

from typing import Any

import orjson

from ...ulid import ULID_PATTERN

MAX_IDENTIFIER_BYTES = 150
MAX_ATTRIBUTES = 300
MAX_ATTRIBUTE_NAME_BYTES = 150
MAX_ATTRIBUTE_VALUE_BYTES = 1000
MAX_EVENT_NAME_BYTES = 100
MAX_EVENT_DATA_BYTES = 100_000
MAX_ENTITY_BYTES = 32 * 1024
MAX_ITEM_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024

# (reason, field, message): the three strings of a Customer.io v2 error object.
Problem = tuple[str, str, str]


class Refused(Exception):
    """Raised by a check deep in a handler to refuse the call (or batch item) with `problem`."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem[2])
        self.problem = problem


_ULID = ULID_PATTERN
# A UTF-8 character takes at most 4 bytes, so shorter strings need no encoding to be measured.
_NAME_SAFE_CHARS = MAX_ATTRIBUTE_NAME_BYTES // 4
_VALUE_SAFE_CHARS = MAX_ATTRIBUTE_VALUE_BYTES // 4
_SCALARS = (int, float, bool)
# Attribute names already found within the limit (bounded, so odd clients cannot grow it).
_GOOD_NAMES: set[str] = set()
_GOOD_NAMES_CAP = 100_000


def check_identifier(value: Any, field: str) -> Problem | None:
    """A person identifier (`id`, `email` or `cio_id`) must be a non-empty string ≤ 150 bytes."""
    if not isinstance(value, str) or isinstance(value, bool):
        return ("invalid", field, f"{field} must be a string value")
    if not value:
        return ("required", field, f"{field} cannot be an empty string")
    if len(value) > _NAME_SAFE_CHARS and len(value.encode()) > MAX_IDENTIFIER_BYTES:
        return ("too_long", field, f"{field} cannot be longer than {MAX_IDENTIFIER_BYTES} bytes")
    return None


def _value_too_long(value: Any) -> bool:
    cls = value.__class__
    if cls is str:
        return len(value) > _VALUE_SAFE_CHARS and len(value.encode()) > MAX_ATTRIBUTE_VALUE_BYTES
    if value is None or cls in _SCALARS:
        return False
    return len(orjson.dumps(value)) > MAX_ATTRIBUTE_VALUE_BYTES


def check_attributes(attributes: Any, field: str) -> Problem | None:
    """Enforce the attribute count, name and value sizes."""
    return inspect_attributes(attributes, field)[0]


def inspect_attributes(
    attributes: Any, field: str, enclosing: bytes | None = None
) -> tuple[Problem | None, bool]:
    """(problem, whether some value may be null or empty); the hot path of every identify.

    `enclosing` is the compact JSON of the item holding the attributes, when the caller has
    it already: every value's JSON is a part of it, so a short one proves every value short.
    """
    if not isinstance(attributes, dict):
        return ("invalid", field, f"{field} must be an object"), False
    if not attributes:
        return None, False
    if len(attributes) - ("_update" in attributes) > MAX_ATTRIBUTES:
        message = f"cannot identify more than {MAX_ATTRIBUTES} attributes in one request"
        return ("too_many", field, message), False
    if not _GOOD_NAMES.issuperset(attributes):
        # Integrations send the same few dozen names again and again: check each name once.
        for name in attributes:
            if not name:
                return ("invalid", field, "attribute name cannot be empty"), False
            if len(name.encode()) > MAX_ATTRIBUTE_NAME_BYTES:
                message = f"attribute name cannot be longer than {MAX_ATTRIBUTE_NAME_BYTES} bytes"
                return ("too_long", field, message), False
        if len(_GOOD_NAMES) < _GOOD_NAMES_CAP:
            _GOOD_NAMES.update(attributes)
    # A value's bytes never exceed its JSON text, so when JSON holding the whole object is
    # within the value limit no single value can be over it: one C call, no Python loop.
    encoded = enclosing
    if encoded is None or len(encoded) > MAX_ATTRIBUTE_VALUE_BYTES:
        encoded = orjson.dumps(attributes)
    if len(encoded) > MAX_ATTRIBUTE_VALUE_BYTES:
        for name, value in attributes.items():
            if _value_too_long(value):
                message = (
                    f"value for attribute '{name}' cannot be longer than "
                    f"{MAX_ATTRIBUTE_VALUE_BYTES} bytes"
                )
                return ("too_long", f"{field}.{name}", message), False
    # A null or "" value is written `null` or `""`: without either in the JSON, none can be
    # there (a match elsewhere only costs the caller a look at the values). Scanning bytes
    # is far cheaper than comparing every value with None and "".
    return None, b"null" in encoded or b'""' in encoded


def check_timestamp(value: Any, field: str = "timestamp") -> Problem | None:
    """Timestamps are integer Unix seconds (None means "now")."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        return ("invalid", field, f"{field} must be an integer Unix timestamp in seconds")
    return None


def check_event(
    name: Any,
    data: Any,
    event_id: Any,
    timestamp: Any,
    data_field: str,
    enclosing_size: int | None = None,
) -> Problem | None:
    """An event needs a name ≤ 100 bytes, data that is an object ≤ 100000 bytes, a ULID id.

    `enclosing_size` is the size of the compact JSON of the item holding the data, when known:
    a batch item is measured against its 32 KB limit anyway, which bounds the data's size.
    """
    if not isinstance(name, str) or not name:
        return ("required", "name", "event name must not be blank")
    if len(name) > MAX_EVENT_NAME_BYTES // 4 and len(name.encode()) > MAX_EVENT_NAME_BYTES:
        return (
            "too_long",
            "name",
            f"event name cannot be longer than {MAX_EVENT_NAME_BYTES} bytes",
        )
    if data is not None:
        if not isinstance(data, dict):
            return ("invalid", data_field, "event data must be a hash")
        bounded = enclosing_size is not None and enclosing_size <= MAX_EVENT_DATA_BYTES
        if not bounded and len(orjson.dumps(data)) > MAX_EVENT_DATA_BYTES:
            return (
                "too_large",
                data_field,
                f"event data cannot be longer than {MAX_EVENT_DATA_BYTES} bytes",
            )
    if event_id is not None and (not isinstance(event_id, str) or not _ULID.fullmatch(event_id)):
        return ("invalid", "id", "event id must be a valid ULID (26 characters, Crockford base32)")
    return check_timestamp(timestamp)
