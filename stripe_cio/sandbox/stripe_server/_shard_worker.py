"""One shard of a sharded synthetic account, run as `python -m` this module (see _shards).

It simulates its share of the customers, prepares every object for the store, blocks and
compresses the bodies itself, and ships them in batches to the server process; then it waits
for `advance` requests until the pipe closes.
"""

from __future__ import annotations

import resource
import sys
from typing import Any

import zstandard

from ._bodies import Block, BodyCodec, BodyTable
from ._pipes import Duplex
from ._store import Located, StripeStore

_BATCH = 2000  # objects per message: large enough that pickling is cheap per object

# (resource, the store's block number, the block, bytes of its bodies)
Sealed = tuple[str, int, Block, int]


class _ShippingCodec(BodyCodec):
    """Seals blocks as the server's codec would, at once and on this process's core, and
    hands them to the outbox instead of keeping them."""

    def __init__(
        self,
        *,
        shard: int,
        shards: int,
        compress: bool,
        level: int,
        block_bodies: int,
        open_blocks: int,
    ) -> None:
        # compress=False: the base class's compressing thread is not wanted here.
        super().__init__(
            compress=False, level=level, block_bodies=block_bodies, open_blocks=open_blocks
        )
        self._compressor = zstandard.ZstdCompressor(level=level) if compress else None
        self._shard = shard
        self._shards = shards
        self.names: dict[int, str] = {}  # table key → resource
        self.outbox: list[Sealed] = []

    def seal(self, table: BodyTable, number: int, bodies: list[bytes]) -> None:
        plain = sum(map(len, bodies))
        block: Block = bodies
        if self._compressor is not None:
            joined = b"\n".join(bodies)
            block = (self._compressor.compress(joined), len(joined))
        self.outbox.append((self.names[table.key], self.number(number), block, plain))
        table.shipped(number)

    def number(self, block: int) -> int:
        """The store's number for this shard's block: the shards' blocks interleave."""
        return block * self._shards + self._shard


class _PipeSink:
    """The sink a shard's generator writes into: files bodies into blocks, ships in batches.

    A batch is `(located, sealed)`: `located` maps each resource to its objects in the order
    they were put, as `(id, created, values, location)` with the body's location in the store's
    numbering (shard k of n has blocks k, k + n, k + 2n...), and `sealed` holds the blocks
    sealed since the last batch. So bodies cross the pipe once, compressed, and the server
    files records without looking at bodies (`StripeStore.put_located`).
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
        self._codec = _ShippingCodec(
            shard=shard,
            shards=shards,
            compress=compress,
            level=level,
            block_bodies=block_bodies,
            open_blocks=open_blocks,
        )
        self._tables: dict[str, tuple[BodyTable, list[Located]]] = {}
        self._count = 0

    def put(self, resource: str, obj: dict[str, Any]) -> None:
        object_id, created, values, body = StripeStore.prepare(resource, obj)
        found = self._tables.get(resource)
        if found is None:
            found = self._tables[resource] = (self._codec.table(), [])
            self._codec.names[found[0].key] = resource
        table, located = found
        # A copy of the body: orjson returns it inside an allocation several times its size,
        # and it waits in an open block for a while.
        location = table.append(bytes(memoryview(body)), created or 0)
        located.append(
            (object_id, created, values, self._codec.number(location >> 8) << 8 | location & 255)
        )
        self._count += 1
        if self._count >= _BATCH:
            self.flush()

    def flush(self, *, seal: bool = False) -> None:
        """Ship the batch so far; with `seal`, every open block too (the run is over)."""
        if seal:
            for table, _ in self._tables.values():
                table.seal_open()
        outbox = self._codec.outbox
        if self._count or outbox:
            batch = {name: located for name, (_, located) in self._tables.items() if located}
            self._conn.send((batch, outbox))
            self._tables = {name: (table, []) for name, (table, _) in self._tables.items()}
            self._count = 0
            self._codec.outbox = []


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
