"""Stored object bodies: orjson bytes appended to per-resource blocks, each compressed whole.

A large account (100,000 customers, millions of objects of a few KB) does not fit the memory
budget as plain JSON. Compressing each body on its own is slow (setting up the compressor
dominates); compressing `BLOCK_BODIES` consecutive bodies at once shrinks them far more,
because neighbours of one resource share most of their text. Zstandard at level 1 compresses
and decompresses these blocks several times faster than zlib level 1, at a better ratio, so a
full walk of a large account costs seconds of decompression (figures in docs/sandbox.md,
Scale). So bodies are appended to an open block of their
resource and `created` day; a full block is compressed on a worker thread (zstandard releases
the GIL, so it runs on another core while the generator goes on) and swapped in when done.

A body's location is `(block << 8) | index`. A block is either a list of plain bodies (an open
block, one being compressed, or every block when compression is off) or the compressed bytes of its
bodies joined by b"\\n": compact JSON never holds a raw newline, so a split restores them. Bodies
are never overwritten, so a compressed block never changes: a new version of an object goes to a
new location and the old one is garbage (blanked if still plain, counted in `stats()`).
Reads inflate whole blocks through a small LRU cache; blocks follow `created` closely, so a walk
over a list inflates each block about once.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from queue import SimpleQueue
from typing import Any

import zstandard

BLOCK_BODIES = 64
BLOCK_BYTES = 128 * 1024
CACHE_BLOCKS = 256  # ~32 MB of inflated blocks: several walkers, each with late blocks
OPEN_BLOCKS = 64  # per resource
_MAX_IN_FLIGHT = 16  # blocks queued before appending waits: bounds the plain bytes held

_Job = tuple["BodyTable", int, bytes] | None
Packed = tuple[bytes, int]  # compressed block, and its plain size: inflating needs no regrowth
Block = list[bytes] | Packed  # a sealed block as it travels: plain bodies, or compressed


def _compress_forever(
    jobs: SimpleQueue[_Job], done: SimpleQueue[tuple[BodyTable, int, Packed]], level: int
) -> None:
    compressor = zstandard.ZstdCompressor(level=level)
    while (job := jobs.get()) is not None:
        table, number, plain = job
        done.put((table, number, (compressor.compress(plain), len(plain))))


class BodyCodec:
    """What one store's tables share: the compressing worker and the cache of inflated blocks."""

    def __init__(
        self,
        *,
        compress: bool = False,
        level: int = 1,
        block_bodies: int = BLOCK_BODIES,
        cache_blocks: int = CACHE_BLOCKS,
        open_blocks: int = OPEN_BLOCKS,
    ) -> None:
        self.compress = compress
        self.open_blocks = open_blocks
        self.level = level
        self.block_bodies = min(block_bodies, 256)  # the index has 8 bits of a location
        self.cache_blocks = cache_blocks
        self.inflated = 0  # cache misses, for stats
        self._decompressor = zstandard.ZstdDecompressor()
        self._cache: OrderedDict[tuple[int, int], list[bytes]] = OrderedDict()
        self._jobs: SimpleQueue[_Job] = SimpleQueue()
        self._done: SimpleQueue[tuple[BodyTable, int, Packed]] = SimpleQueue()
        self._in_flight = 0
        self._worker: threading.Thread | None = None
        self._tables = 0

    def table(self) -> BodyTable:
        self._tables += 1
        return BodyTable(self, self._tables)

    def seal(self, table: BodyTable, number: int, bodies: list[bytes]) -> None:
        """Deflate a full block later; until then reads use its plain list."""
        if not self.compress:
            return
        if self._worker is None:
            self._worker = threading.Thread(
                target=_compress_forever,
                args=(self._jobs, self._done, self.level),
                name="stripe-sandbox-compress",
                daemon=True,
            )
            self._worker.start()
            weakref.finalize(self, self._jobs.put, None)  # the worker ends with the store
        self._jobs.put((table, number, b"\n".join(bodies)))
        self._in_flight += 1
        self.reap()

    def reap(self, *, wait: bool = False) -> None:
        """Swap in the blocks compressed so far (all of them with `wait`)."""
        while self._in_flight:
            blocking = wait or self._in_flight > _MAX_IN_FLIGHT
            if not blocking and self._done.empty():
                return
            table, number, packed = self._done.get()
            self._in_flight -= 1
            table.packed(number, packed)

    def inflate(self, table: BodyTable, number: int, packed: Packed) -> list[bytes]:
        key = (table.key, number)
        cache = self._cache
        bodies = cache.get(key)
        if bodies is not None:
            cache.move_to_end(key)
            return bodies
        plain = self._decompressor.decompress(packed[0], max_output_size=packed[1])
        bodies = cache[key] = plain.split(b"\n")
        self.inflated += 1
        if len(cache) > self.cache_blocks:
            cache.popitem(last=False)
        return bodies


class _Open:
    __slots__ = ("bodies", "full", "number", "size")

    def __init__(self, number: int) -> None:
        self.number = number
        self.bodies: list[bytes] = []
        self.size = 0
        self.full = False


class BodyTable:
    """One resource's bodies: append returns a location, get reads it back."""

    __slots__ = (
        "_blocks",
        "_codec",
        "_last_day",
        "_open",
        "garbage",
        "key",
        "packed_bytes",
        "plain_bytes",
    )

    def __init__(self, codec: BodyCodec, key: int) -> None:
        self._codec = codec
        self.key = key
        # Open blocks by `created` day, least recently written first. The generator writes in
        # time order but puts some objects days late (once they stop changing); a block of
        # their own day keeps them next to their neighbours in list order, so a page touches
        # a few blocks instead of one per late object.
        self._open: dict[int, _Open] = {}
        # None: a block of a shard's that has not arrived yet (see `fill`).
        self._blocks: list[list[bytes] | Packed | None] = []
        self._last_day = -1
        self.plain_bytes = 0  # of every body appended, garbage included
        self.packed_bytes = 0  # of the compressed blocks
        self.garbage = 0

    def append(self, body: bytes, created: int) -> int:
        """Store `body` (of exactly its own size: it waits in an open block for a while)."""
        day = created // 86_400
        opened = self._open.get(day)
        if opened is None or opened.full:
            opened = self._open_block(day, opened)
        elif day != self._last_day:
            del self._open[day]  # put back last: the dict stays in least-recent-write order
            self._open[day] = opened
        self._last_day = day
        bodies = opened.bodies
        location = opened.number << 8 | len(bodies)
        bodies.append(body)
        size = len(body)
        opened.size += size
        self.plain_bytes += size
        opened.full = len(bodies) >= self._codec.block_bodies or opened.size >= BLOCK_BYTES
        return location

    def _open_block(self, day: int, full: _Open | None) -> _Open:
        """A new open block for `day`, sealing the day's full one or the least recent one."""
        codec = self._codec
        if full is not None:
            del self._open[day]
            codec.seal(self, full.number, full.bodies)
        elif len(self._open) >= codec.open_blocks:  # bounds the plain bytes held
            stale = self._open.pop(next(iter(self._open)))
            codec.seal(self, stale.number, stale.bodies)
        opened = self._open[day] = _Open(len(self._blocks))
        self._blocks.append(opened.bodies)
        return opened

    def fill(self, number: int, block: Block, plain_bytes: int) -> None:
        """Block `number`, sealed in another process: plain, or compressed. The bodies of a
        table filled this way are only ever appended elsewhere (see shard_worker), so their
        records may name the block before it arrives."""
        blocks = self._blocks
        if number >= len(blocks):
            blocks.extend([None] * (number + 1 - len(blocks)))
        blocks[number] = block
        self.plain_bytes += plain_bytes
        if type(block) is tuple:
            self.packed_bytes += len(block[0])

    def discard(self, location: int) -> None:
        """The body at `location` was replaced: it is garbage from now on."""
        self.garbage += 1
        number = location >> 8
        block = self._blocks[number] if number < len(self._blocks) else None  # not yet filled
        if type(block) is list:
            block[location & 255] = b""  # a block being compressed already holds its own copy

    def get(self, location: int) -> bytes:
        block = self._blocks[location >> 8]
        if type(block) is list:
            return block[location & 255]
        return self._codec.inflate(self, location >> 8, block)[location & 255]  # type: ignore[arg-type]

    def packed(self, number: int, packed: Packed) -> None:
        self._blocks[number] = packed
        self.packed_bytes += len(packed[0])

    def stats(self) -> dict[str, Any]:
        plain = sum(len(b) for block in self._blocks if type(block) is list for b in block)
        return {
            "blocks": len(self._blocks),
            "plain_bytes": self.plain_bytes,
            "stored_bytes": self.packed_bytes + plain,
            "garbage": self.garbage,
        }
