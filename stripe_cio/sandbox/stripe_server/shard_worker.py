"""One shard of a sharded synthetic account, run in its own interpreter by _shards (main()).

It simulates its share of the customers, prepares every object for the store, blocks and
compresses the bodies itself, and ships them in batches to the server process; then it waits
for `advance` requests until the pipe closes.
"""

from __future__ import annotations

import resource
import sys
from typing import Any

import orjson
import zstandard

from .bodies import Block
from .pipes import Duplex
from .records import filter_text
from .resources import SPEC_BY_NAME
from .shard_blocks import OpenBlock, ShardBlocks
from .store import Located

_BATCH = 2000  # objects per message: large enough that pickling is cheap per object
_PLAIN = frozenset({str, type(None)})  # filter values that need no conversion

# (resource, the store's block number, the block, bytes of its bodies)
Sealed = tuple[str, int, Block, int]


class _Table:
    """One resource's share of a batch: its blocks and the columns put since the last batch."""

    __slots__ = ("append", "blocks", "created", "filters", "ids", "locations", "values")

    def __init__(self, blocks: ShardBlocks, resource: str) -> None:
        self.blocks = blocks
        self.append = blocks.append
        self.filters = SPEC_BY_NAME[resource].filters
        self.ids: list[str]
        self.created: list[int | None]
        self.values: list[tuple[str | None, ...] | None]
        self.locations: list[int]
        self.restart()

    def restart(self) -> None:
        """Start the next batch's columns."""
        self.ids, self.created, self.values, self.locations = [], [], [], []

    def columns(self) -> Located:
        """The columns of the objects put since the batch started."""
        return self.ids, self.created, self.values, self.locations


class _PipeSink:
    """The sink a shard's generator writes into: files bodies into blocks, ships in batches.

    A batch is `(located, sealed)`: `located` maps each resource to the columns of its objects
    in the order they were put (see `Located`), with each body's location in the store's
    numbering (see shard_blocks), and `sealed` holds the blocks sealed since the last batch,
    compressed here if the store compresses. So bodies cross the pipe once, compressed, and
    the server files records without looking at bodies (`StripeStore.put_located`).
    """

    def __init__(
        self,
        conn: Duplex,
        *,
        shard: int = 0,
        shards: int = 1,
        compress: bool,
        level: int,
        block_bodies: int,
        open_blocks: int,
    ) -> None:
        self._conn = conn
        self._compressor = zstandard.ZstdCompressor(level=level) if compress else None
        self._blocking = {
            "first": shard,
            "step": shards,
            "block_bodies": min(block_bodies, 256),  # a location has 8 bits for the index
            "open_blocks": open_blocks,
        }
        self._tables: dict[str, _Table] = {}
        self._count = 0
        self._sealed: list[Sealed] = []

    def put(self, resource: str, obj: dict[str, Any]) -> None:
        # StripeStore.prepare and the filing inlined: this runs once for every object.
        table = self._tables.get(resource)
        if table is None:
            table = self._tables[resource] = _Table(self._blocks(resource), resource)
        get = obj.get
        created = get("created")
        if type(created) is not int:
            created = None
        table.ids.append(obj["id"])
        table.created.append(created)
        if get("deleted") is True:
            table.values.append(None)
        else:
            values = tuple(map(get, table.filters))
            if not _PLAIN.issuperset(map(type, values)):  # expanded objects, booleans...
                values = tuple(map(filter_text, values))
            table.values.append(values)
        # A copy of exactly the body: orjson's bytes sit in an allocation several times their
        # length, and the open blocks hold thousands of bodies (a shard's peak RSS with and
        # without the copies: docs/sandbox.md). Freed at once, orjson's buffer is reused warm.
        body = memoryview(orjson.dumps(obj)).tobytes()
        table.locations.append(table.append(body, created or 0))
        self._count += 1
        if self._count >= _BATCH:
            self.flush()

    def flush(self, *, seal: bool = False) -> None:
        """Ship the batch so far; with `seal`, every open block too (the run is over)."""
        if seal:
            for table in self._tables.values():
                table.blocks.seal_all()
        if self._count or self._sealed:
            batch = {name: table.columns() for name, table in self._tables.items() if table.ids}
            self._conn.send((batch, self._sealed))
            for table in self._tables.values():
                table.restart()
            self._count = 0
            self._sealed = []

    def _blocks(self, resource: str) -> ShardBlocks:
        compressor = self._compressor

        def seal(opened: OpenBlock) -> None:
            block: Block
            if compressor is None:
                block = opened.bodies
            else:
                joined = opened.joined()
                block = (compressor.compress(joined), len(joined))
            # self._sealed, not a captured list: each flush starts a new one.
            self._sealed.append((resource, opened.number, block, opened.body_bytes()))

        return ShardBlocks(seal=seal, **self._blocking)


def main(argv: list[str]) -> None:
    """Generate, report `("done", now, peak RSS, CPU seconds)`, then advance on request."""
    from ..synthetic import SyntheticAccount  # the server process never runs the simulation

    read_fd, write_fd, seed, customers, months, now, shard, shards, *blocks = map(int, argv)
    compress, level, block_bodies, open_blocks = blocks
    conn = Duplex(write_fd=write_fd, read_fd=read_fd)
    sink = _PipeSink(
        conn,
        shard=shard,
        shards=shards,
        compress=bool(compress),
        level=level,
        block_bodies=block_bodies,
        open_blocks=open_blocks,
    )
    account = SyntheticAccount(
        sink, seed=seed, customers=customers, months=months, now=now, shard=shard, shards=shards
    )
    account.generate()
    while True:
        sink.flush(seal=True)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        conn.send(("done", account.now, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime))
        try:
            seconds = conn.recv()
        except EOFError:  # the server closed the pipe: it is done with us
            return
        account.advance(seconds)


if __name__ == "__main__":
    main(sys.argv[1:])
