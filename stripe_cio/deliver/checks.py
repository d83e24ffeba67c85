"""Customer.io's size limits: pre-send checks refuse an item that can never be accepted, and
the packer fills `/api/v2/batch` bodies up to the batch limit.

Pure; the limits and their sources are in `stripe_cio.cio_api.limits`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import orjson

from ..cio_api import (
    MAX_ATTRIBUTE_NAME_BYTES,
    MAX_ATTRIBUTE_VALUE_BYTES,
    MAX_ATTRIBUTES,
    MAX_BATCH_BYTES,
    MAX_EVENT_DATA_BYTES,
    MAX_EVENT_NAME_BYTES,
    MAX_IDENTIFIER_BYTES,
    MAX_ITEM_BYTES,
    batch_body_size,
)
from .model import Outgoing, Refusal

IDENTIFIER_KINDS = ("id", "email", "cio_id")
# A UTF-8 character takes at most 4 bytes: strings this short need no encoding to be measured.
_SAFE_VALUE_CHARS = MAX_ATTRIBUTE_VALUE_BYTES // 4
_SCALARS = (int, float, bool)
_SAFE_ID = MAX_IDENTIFIER_BYTES // 4
_MAX_SECONDS = 2**48 // 1000  # a ULID holds 48 bits of milliseconds


def person_key(kind: str, value: str) -> str:
    """The ledger's key of a person: emails fold case, as Customer.io matches them."""
    return f"{kind}:{value.lower() if kind == 'email' else value}"


def check_identifiers(identifiers: Any) -> tuple[str, str] | Refusal:
    """(kind, value) of a person reference holding exactly one of id, email, cio_id."""
    if identifiers.__class__ is dict and len(identifiers) == 1:
        # The common case, without the general checks below: one short string identifier.
        ((kind, value),) = identifiers.items()
        if (
            kind in IDENTIFIER_KINDS
            and value.__class__ is str
            and 0 < len(value) <= _SAFE_ID
            and not value[0].isspace()
        ):
            return kind, value
    if not isinstance(identifiers, Mapping) or len(identifiers) != 1:
        return Refusal(
            "invalid_identifier", "identifiers", "identifiers must hold exactly one of id, "
            "email, cio_id",
        )  # fmt: skip
    ((kind, value),) = identifiers.items()
    if kind not in IDENTIFIER_KINDS:
        return Refusal("invalid_identifier", "identifiers", f"unknown identifier {kind!r}")
    if not isinstance(value, str) or not value.strip():
        return Refusal(
            "invalid_identifier", f"identifiers.{kind}", f"{kind} must be a non-empty string"
        )
    if len(value) > MAX_IDENTIFIER_BYTES // 4 and len(value.encode()) > MAX_IDENTIFIER_BYTES:
        return Refusal(
            "identifier_too_long",
            f"identifiers.{kind}",
            f"{kind} is longer than {MAX_IDENTIFIER_BYTES} bytes",
        )
    return kind, value


class NameCheck:
    """Checks attribute names, remembering the good ones: a sync sends the same few again."""

    def __init__(self) -> None:
        self._good: set[str] = set()

    def __call__(self, names: Mapping[str, Any]) -> Refusal | None:
        if len(names) > MAX_ATTRIBUTES:
            return Refusal(
                "too_many_attributes",
                "attributes",
                f"{len(names)} attributes in one update; Customer.io takes at most "
                f"{MAX_ATTRIBUTES}",
            )
        if self._good.issuperset(names):
            return None
        for name in names:
            if not name:
                return Refusal("invalid_attribute_name", "attributes", "empty attribute name")
            if len(name.encode()) > MAX_ATTRIBUTE_NAME_BYTES:
                return Refusal(
                    "attribute_name_too_long",
                    f"attributes.{name[:40]}",
                    f"attribute name is longer than {MAX_ATTRIBUTE_NAME_BYTES} bytes",
                )
        if len(self._good) < 100_000:  # bounded, whatever the input
            self._good.update(names)
        return None


def _value_bytes(value: Any) -> int:
    if value.__class__ is str:
        return len(value) if len(value) <= _SAFE_VALUE_CHARS else len(value.encode())
    if value is None or value.__class__ in _SCALARS:
        return 0
    return len(orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY))


def check_attribute_values(attributes: Mapping[str, Any], encoded_size: int) -> Refusal | None:
    """Every value within 1000 bytes (strings as UTF-8, other values as compact JSON)."""
    # No value can be longer than the JSON of the whole object holding it.
    if encoded_size <= MAX_ATTRIBUTE_VALUE_BYTES:
        return None
    for name, value in attributes.items():
        size = _value_bytes(value)
        if size > MAX_ATTRIBUTE_VALUE_BYTES:
            return Refusal(
                "attribute_value_too_long",
                f"attributes.{name}",
                f"value of {name!r} is {size} bytes; Customer.io takes at most "
                f"{MAX_ATTRIBUTE_VALUE_BYTES}",
            )
    return None


def check_event_fields(name: Any, stripe_event_id: Any, created: Any) -> Refusal | None:
    """A non-empty name within 100 bytes, a Stripe event id, and a Unix time in seconds."""
    if not isinstance(name, str) or not name.strip():
        return Refusal("invalid_event_name", "name", "event name must be a non-empty string")
    if len(name.encode()) > MAX_EVENT_NAME_BYTES:
        return Refusal(
            "event_name_too_long", "name", f"event name is longer than {MAX_EVENT_NAME_BYTES} bytes"
        )
    if not isinstance(stripe_event_id, str) or not stripe_event_id:
        return Refusal("invalid_stripe_event_id", "id", "the Stripe event id is missing")
    # A ULID holds 48 bits of milliseconds.
    if (
        not isinstance(created, int)
        or isinstance(created, bool)
        or not 0 <= created < 2**48 // 1000
    ):
        return Refusal("invalid_timestamp", "timestamp", "created must be Unix seconds")
    return None


def check_event_data_size(size: int) -> Refusal | None:
    """Event data within 100,000 bytes of JSON."""
    if size > MAX_EVENT_DATA_BYTES:
        return Refusal(
            "event_data_too_large",
            "attributes",
            f"event data is {size} bytes; Customer.io takes at most {MAX_EVENT_DATA_BYTES}",
        )
    return None


def check_item_size(body: bytes) -> Refusal | None:
    """The whole item within the batch item limit."""
    if len(body) > MAX_ITEM_BYTES:
        return Refusal(
            "item_too_large",
            "",
            f"the item is {len(body)} bytes; a batch item may be at most {MAX_ITEM_BYTES}",
        )
    return None


class BatchPacker:
    """Fills one batch in input order until the next item would not fit, then starts another.

    Every item given is at most the item limit (32,000 bytes), far below the batch limit, so
    each batch holds at least one item and every body is at most `max_bytes`.
    """

    def __init__(self, max_bytes: int = MAX_BATCH_BYTES) -> None:
        self.max_bytes = max_bytes
        self._room = max_bytes - batch_body_size(0, 0)  # for the items and commas between them
        self._items: list[Outgoing] = []
        self._size = 0  # the items and the commas between them

    def add(self, item: Outgoing) -> list[Outgoing] | None:
        """Add an item; the batch it closed, if it did not fit into the open one."""
        full = None
        grown = self._size + 1 + len(item.body) if self._items else len(item.body)
        if grown > self._room and self._items:
            full, self._items = self._items, []
            grown = len(item.body)
        self._items.append(item)
        self._size = grown
        return full

    def flush(self) -> list[Outgoing] | None:
        """The open batch, if it holds anything; a new one is started."""
        if not self._items:
            return None
        batch, self._items, self._size = self._items, [], 0
        return batch


def pack(items: Iterable[Outgoing], max_bytes: int = MAX_BATCH_BYTES) -> Iterator[list[Outgoing]]:
    """Every batch of `items`, packed greedily in order."""
    packer = BatchPacker(max_bytes)
    for item in items:
        full = packer.add(item)
        if full is not None:
            yield full
    last = packer.flush()
    if last is not None:
        yield last
