"""What a batch call returns, and what the client counted while making it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

_HEAD = b'{"batch":['
_TAIL = b"]}"


@dataclass(frozen=True)
class ItemError:
    """Customer.io refused one item of a batch (or the client did, before sending it)."""

    index: int  # position in the items given to CustomerIOClient.batch()
    reason: str
    field: str
    message: str


@dataclass(frozen=True)
class BatchResult:
    """The outcome of one `batch()` call: every item not in `errors` was accepted."""

    items: int
    errors: tuple[ItemError, ...] = ()

    @property
    def accepted(self) -> int:
        return self.items - len(self.errors)


@dataclass
class CustomerIOClientStats:
    """What one client did: requests, retries and why, and batch outcomes."""

    requests: int = 0
    bytes_sent: int = 0
    retries: int = 0
    rate_limited: int = 0  # 429s received; with our own limiter these should stay at zero
    server_errors: int = 0
    transport_errors: int = 0
    batches: int = 0  # batch() calls
    split_batches: int = 0  # batches refused whole (400) and resent in halves
    items_sent: int = 0
    items_rejected: int = 0
    by_status: dict[int, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        values = dict(self.__dict__)
        values["by_status"] = {str(k): v for k, v in sorted(self.by_status.items())}
        return values


def batch_body(items: Sequence[bytes]) -> bytes:
    """`{"batch": [items]}` from items already encoded as compact JSON."""
    return _HEAD + b",".join(items) + _TAIL


def batch_body_size(item_sizes: int, count: int) -> int:
    """The size of `batch_body` for `count` items of `item_sizes` bytes in all."""
    return len(_HEAD) + item_sizes + max(0, count - 1) + len(_TAIL)


def item_errors_207(body: Any, indices: Sequence[int]) -> list[ItemError]:
    """Map a 207's `errors[].batch_index` to our item indices.

    Customer.io answers 207 `{"errors": [{"batch_index", "reason", "field", "message"}]}`
    and accepts every other item (https://docs.customer.io/api/track/, operation `batch`). When
    an error cannot be mapped, nobody knows which items failed: all of them are reported, so
    nothing is silently lost (resending an accepted item is harmless: identifies carry the same
    values, events the same de-duplicating id).
    """
    errors = body.get("errors") if isinstance(body, dict) else None
    mapped: dict[int, ItemError] = {}
    usable = isinstance(errors, list) and bool(errors)
    for error in errors if isinstance(errors, list) else ():
        position = error.get("batch_index") if isinstance(error, dict) else None
        if not isinstance(position, int) or not 0 <= position < len(indices):
            usable = False
            break
        index = indices[position]
        mapped[index] = ItemError(
            index,
            str(error.get("reason") or "invalid"),
            str(error.get("field") or ""),
            str(error.get("message") or "refused"),
        )
    if usable:
        return list(mapped.values())
    message = "Customer.io answered 207 without a usable batch_index; outcome unknown"
    return [ItemError(index, "unknown_outcome", "", message) for index in indices]
