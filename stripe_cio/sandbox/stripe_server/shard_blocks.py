"""ShardBlocks: a shard's bodies of one resource, filed into blocks as the store files them.

The same layout as BodyTable's (see bodies): open blocks by `created` day, least recently
written sealed first, a block full at BLOCK_BODIES bodies or BLOCK_BYTES. But a shard never
reads a body back, so a sealed block leaves at once, joined by b"\\n" (ready to compress).
An open block holds its bodies in a list: appending is a pointer and joining is one C loop.
Blocks are numbered in the store's numbering: shard k of n has k, k + n, k + 2n...
"""

from __future__ import annotations

from collections.abc import Callable

from .bodies import BLOCK_BYTES

_DAY = 86_400


class OpenBlock:
    """Bodies waiting for their block to fill, and the bytes they take."""

    __slots__ = ("bodies", "number", "size")

    def __init__(self, number: int) -> None:
        self.number = number
        self.bodies: list[bytes] = []
        self.size = 0

    def body_bytes(self) -> int:
        """The bytes of the bodies themselves (without the newlines that join them)."""
        return self.size

    def joined(self) -> bytes:
        """The bodies joined by newlines, as a sealed block holds them."""
        return b"\n".join(self.bodies)


class ShardBlocks:
    """Appends one resource's bodies to blocks; hands each full one to `seal`."""

    __slots__ = (
        "_block_bodies",
        "_last_day",
        "_next",
        "_open",
        "_open_blocks",
        "_seal",
        "_step",
    )

    def __init__(
        self,
        *,
        first: int,
        step: int,
        block_bodies: int,
        open_blocks: int,
        seal: Callable[[OpenBlock], None],
    ) -> None:
        self._next = first
        self._step = step
        self._block_bodies = block_bodies
        self._open_blocks = open_blocks
        self._seal = seal
        self._open: dict[int, OpenBlock] = {}  # by day, least recently written first
        self._last_day = -1

    def append(self, body: bytes, created: int) -> int:
        """File `body`; its location, `(block << 8) | index`, as the store's."""
        day = created // _DAY
        opened = self._open.get(day)
        if opened is None:
            opened = self._open_block(day)
        elif day != self._last_day:
            del self._open[day]  # put back last: the dict stays in least-recent-write order
            self._open[day] = opened
        self._last_day = day
        bodies = opened.bodies
        location = opened.number << 8 | len(bodies)
        bodies.append(body)
        opened.size += len(body)
        if len(bodies) >= self._block_bodies or opened.size >= BLOCK_BYTES:
            del self._open[day]
            self._seal(opened)
        return location

    def seal_all(self) -> None:
        """Seal every open block (the run is over: the store must have every body)."""
        for opened in self._open.values():
            self._seal(opened)
        self._open.clear()

    def _open_block(self, day: int) -> OpenBlock:
        if len(self._open) >= self._open_blocks:  # bounds the bodies held
            self._seal(self._open.pop(next(iter(self._open))))
        opened = self._open[day] = OpenBlock(self._next)
        self._next += self._step
        return opened
