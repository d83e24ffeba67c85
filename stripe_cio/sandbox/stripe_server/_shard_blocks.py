"""ShardBlocks: a shard's bodies of one resource, filed into blocks as the store files them.

The same layout as BodyTable's (see _bodies): open blocks by `created` day, least recently
written sealed first, a block full at BLOCK_BODIES bodies or BLOCK_BYTES. But a shard never
reads a body back, so an open block is one buffer of bodies each followed by b"\\n" (its
sealed block is that buffer but for the last newline, ready to compress), and a sealed block
leaves at once. A buffer grows by doubling and is reused once its block is sealed: grown a
body at a time (bytearray's own growth is 1/8), each block cost ~8 copies of itself.
Blocks are numbered in the store's numbering: shard k of n has k, k + n, k + 2n...
"""

from __future__ import annotations

from collections.abc import Callable

from ._bodies import BLOCK_BYTES

__all__ = ["OpenBlock", "ShardBlocks"]

_DAY = 86_400


_FIRST_BUFFER = 16_384
_SPARE_BUFFERS = 4  # per resource: enough for the blocks sealed between two new ones


class OpenBlock:
    """Bodies waiting for their block to fill: `count` of them, each newline-ended, in the
    first `size` bytes of `buffer` (the rest is room to grow)."""

    __slots__ = ("buffer", "count", "number", "size")

    def __init__(self, number: int, buffer: bytearray) -> None:
        self.number = number
        self.buffer = buffer
        self.count = 0
        self.size = 0

    def body_bytes(self) -> int:
        """The bytes of the bodies themselves (without their newlines)."""
        return self.size - self.count

    def joined(self) -> memoryview:
        """The bodies joined by newlines (a view: release it before the buffer is reused)."""
        return memoryview(self.buffer)[: self.size - 1]


class ShardBlocks:
    """Appends one resource's bodies to blocks; hands each full one to `seal`."""

    __slots__ = (
        "_block_bodies",
        "_last_day",
        "_next",
        "_open",
        "_open_blocks",
        "_seal",
        "_spare",
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
        self._spare: list[bytearray] = []  # buffers of sealed blocks, for the next ones

    def append(self, body: bytes, created: int) -> int:
        """File `body` (copied); its location, `(block << 8) | index`, as the store's."""
        day = created // _DAY
        opened = self._open.get(day)
        if opened is None:
            opened = self._open_block(day)
        elif day != self._last_day:
            del self._open[day]  # put back last: the dict stays in least-recent-write order
            self._open[day] = opened
        self._last_day = day
        location = opened.number << 8 | opened.count
        buffer = opened.buffer
        start = opened.size
        end = start + len(body)
        if end >= len(buffer):
            buffer += bytes(max(len(buffer), end + 1 - len(buffer)))  # doubles, at least
        # A copy, of exactly the body (orjson's own allocation is far larger): a slice of the
        # same length is overwritten in place, so the buffer is never resized here.
        buffer[start:end] = body
        buffer[end] = 10  # b"\n"
        opened.size = end + 1
        opened.count += 1
        if opened.count >= self._block_bodies or end + 1 >= BLOCK_BYTES:
            del self._open[day]
            self._retire(opened)
        return location

    def seal_all(self) -> None:
        """Seal every open block (the run is over: the store must have every body)."""
        for opened in self._open.values():
            self._retire(opened)
        self._open.clear()

    def _retire(self, opened: OpenBlock) -> None:
        self._seal(opened)
        if len(self._spare) < _SPARE_BUFFERS:
            self._spare.append(opened.buffer)

    def _open_block(self, day: int) -> OpenBlock:
        if len(self._open) >= self._open_blocks:  # bounds the plain bytes held
            self._retire(self._open.pop(next(iter(self._open))))
        buffer = self._spare.pop() if self._spare else bytearray(_FIRST_BUFFER)
        opened = self._open[day] = OpenBlock(self._next, buffer)
        self._next += self._step
        return opened
