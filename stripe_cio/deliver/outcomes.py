"""What Customer.io accepted or refused, written to the ledger in few transactions, off the loop."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from .model import Kind, Outgoing
from .store import DeliveryStore, Failure


class Outcomes:
    """Collects batch outcomes and writes them, `rows` items at a time, in a worker thread.

    Writing later than the acceptance is safe: a snapshot lost in a crash only means the same
    values are sent again next run, which Customer.io takes as a no-op. Writing earlier never
    happens: nothing enters this buffer before Customer.io has answered. SQLite releases the
    GIL while it writes, so on a second core the writes overlap the sending.
    """

    def __init__(self, store: DeliveryStore, *, rows: int = 5_000) -> None:
        self.store = store
        self.rows = rows
        self._accepted: list[Outgoing] = []
        self._failed: list[Failure] = []
        self._resolved: dict[tuple[Kind, str], str] = {}
        self._writer: asyncio.Task[None] | None = None

    def add(
        self,
        accepted: Sequence[Outgoing] = (),
        failed: Sequence[Failure] = (),
        resolved: Mapping[tuple[Kind, str], str] | None = None,
    ) -> None:
        """Buffer outcomes; start writing them once `rows` have gathered."""
        self._accepted.extend(accepted)
        self._failed.extend(failed)
        self._resolved.update(resolved or {})
        pending = len(self._accepted) + len(self._failed) + len(self._resolved)
        if pending >= self.rows and (self._writer is None or self._writer.done()):
            self._writer = asyncio.ensure_future(self._write_all())

    async def _write_all(self) -> None:
        # One write at a time, in order, until the buffer is empty.
        while self._accepted or self._failed or self._resolved:
            accepted, failed, resolved = self._accepted, self._failed, self._resolved
            self._accepted, self._failed, self._resolved = [], [], {}
            await asyncio.to_thread(
                self.store.record, accepted=accepted, failed=failed, resolved=resolved
            )

    async def flush(self) -> None:
        """Write everything collected so far; raise if a write failed."""
        writer, self._writer = self._writer, None
        if writer is not None:
            await writer
        await self._write_all()
