"""Greedy packing of encoded items into `/api/v2/batch` bodies under the size limit."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ..cio_api import MAX_BATCH_BYTES, batch_body_size
from .model import Outgoing


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
