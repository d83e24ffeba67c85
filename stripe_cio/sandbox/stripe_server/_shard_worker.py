"""One shard of a sharded synthetic account, run as `python -m` this module (see _shards).

It simulates its share of the customers, prepares every object for the store and ships them in
batches to the server process, then waits for `advance` requests until the pipe closes.
"""

from __future__ import annotations

import resource
import sys
from typing import Any

from ._pipes import Duplex
from ._store import StripeStore

_BATCH = 2000  # objects per message: large enough that pickling is cheap per object

# (resource, id, created or None, list-filter values or None, body length): see _PipeSink
Entry = tuple[str, str, int | None, tuple[str | None, ...] | None, int]


class _PipeSink:
    """The sink a shard's generator writes into: prepares objects and ships them in batches.

    A batch is `(entries, bodies)`: each entry is `(resource, id, created, values, length)` and
    `bodies` holds the JSON bodies back to back. One buffer rather than a bytes object each,
    because orjson hands back each body inside an allocation several times its size, and
    keeping a batch of those alive costs more than copying the bodies out at once.
    """

    def __init__(self, conn: Duplex) -> None:
        self._conn = conn
        self._entries: list[Entry] = []
        self._bodies = bytearray()

    def put(self, resource: str, obj: dict[str, Any]) -> None:
        object_id, created, values, body = StripeStore.prepare(resource, obj)
        self._entries.append((resource, object_id, created, values, len(body)))
        self._bodies += body
        if len(self._entries) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        if self._entries:
            self._conn.send((self._entries, self._bodies))
            self._entries = []
            self._bodies = bytearray()


def main(argv: list[str]) -> None:
    """Generate, report `("done", now, peak RSS)`, then advance on request until EOF."""
    from ..synthetic import SyntheticAccount  # the server process never runs the simulation

    read_fd, write_fd, seed, customers, months, now, shard, shards = map(int, argv)
    conn = Duplex(write_fd=write_fd, read_fd=read_fd)
    sink = _PipeSink(conn)
    account = SyntheticAccount(
        sink, seed=seed, customers=customers, months=months, now=now, shard=shard, shards=shards
    )
    account.generate()
    while True:
        sink.flush()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        conn.send(("done", account.now, peak))
        try:
            seconds = conn.recv()
        except EOFError:  # the server closed the pipe: it is done with us
            return
        account.advance(seconds)


if __name__ == "__main__":
    main(sys.argv[1:])
