"""What Customer.io accepted or refused, buffered and written to the ledger in few transactions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ._model import Kind, Outgoing
from ._store import DeliveryStore, Failure

__all__ = ["Outcomes"]


class Outcomes:
    """Collects batch outcomes and writes them every `rows` items, and when flushed.

    Writing later than the acceptance is safe: a snapshot lost in a crash only means the same
    values are sent again next run, which Customer.io takes as a no-op. Writing earlier never
    happens: nothing enters this buffer before Customer.io has answered.
    """

    def __init__(self, store: DeliveryStore, *, rows: int = 5_000) -> None:
        self.store = store
        self.rows = rows
        self._accepted: list[Outgoing] = []
        self._failed: list[Failure] = []
        self._resolved: dict[tuple[Kind, str], str] = {}

    def add(
        self,
        accepted: Sequence[Outgoing] = (),
        failed: Sequence[Failure] = (),
        resolved: Mapping[tuple[Kind, str], str] | None = None,
    ) -> None:
        self._accepted.extend(accepted)
        self._failed.extend(failed)
        self._resolved.update(resolved or {})
        if len(self._accepted) + len(self._failed) + len(self._resolved) >= self.rows:
            self.flush()

    def flush(self) -> None:
        """Write everything collected, in one transaction."""
        if not (self._accepted or self._failed or self._resolved):
            return
        accepted, failed, resolved = self._accepted, self._failed, self._resolved
        self._accepted, self._failed, self._resolved = [], [], {}
        self.store.record(accepted=accepted, failed=failed, resolved=resolved)
