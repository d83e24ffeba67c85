"""What a backfill, an events sync or a history fetch did, for the CLI, the flow's artifact and
the tests."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ResourceSummary:
    """One resource of a backfill."""

    objects: int = 0  # objects read and handed to the ledger
    written: int = 0  # rows the ledger inserted or updated
    unchanged: int = 0  # rows the ledger already had at this or a newer observation
    rejected: Counter[str] = field(default_factory=Counter)  # reason -> count
    pages: int = 0
    slices: int = 0  # slices completed in this run
    skipped: int = 0  # ranges already completed by an earlier attempt of the same run
    seconds: float = 0.0  # from the start of the backfill to this resource's last slice

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "rejected": dict(self.rejected)}


@dataclass(frozen=True)
class FailedSlice:
    """A slice that could not be read; the rest of the backfill went on without it."""

    resource: str
    start: int
    end: int
    error: str


@dataclass
class BackfillSummary:
    """A backfill's figures; `complete` is false when some slices failed."""

    run: str
    t0: int
    resources: dict[str, ResourceSummary]
    failed: list[FailedSlice] = field(default_factory=list)
    seconds: float = 0.0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0  # 429s received by our client
    server_errors: int = 0
    transport_errors: int = 0

    @property
    def complete(self) -> bool:
        return not self.failed

    @property
    def objects(self) -> int:
        return sum(r.objects for r in self.resources.values())

    @property
    def objects_per_second(self) -> float:
        return self.objects / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "t0": self.t0,
            "seconds": round(self.seconds, 3),
            "objects": self.objects,
            "objects_per_second": round(self.objects_per_second, 1),
            "requests": self.requests,
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "server_errors": self.server_errors,
            "transport_errors": self.transport_errors,
            "resources": {name: r.as_dict() for name, r in self.resources.items()},
            "failed": [f.__dict__ for f in self.failed],
        }


@dataclass
class SyncSummary:
    """An events sync: events seen, applied, skipped; the cursor before and after."""

    cursor_before: int | None
    cursor_after: int | None
    start: int  # the `created[gte]` the listing started from
    stripe_now: int
    events_listed: int = 0
    applied: int = 0
    duplicates: int = 0  # already processed (skipped before applying, or by the ledger)
    rejected: Counter[str] = field(default_factory=Counter)
    pages: int = 0
    batches: int = 0
    messages: list[str] = field(default_factory=list)
    gap_backfill: BackfillSummary | None = None


@dataclass
class HistorySummary:
    """A fetch of customers' histories: what was read and written, and what was not."""

    customers_fetched: int = 0  # customers whose whole history was read and written
    charges_fetched: int = 0  # charges retrieved because an event referred to them
    objects_written: int = 0  # rows the ledger inserted or updated
    requests: int = 0  # requests sent to Stripe, retries included
    # reason -> count: "unknown_customer", "deleted_customer", "unknown_charge", ...
    skipped: Counter[str] = field(default_factory=Counter)
    # reason -> count: "history_unreadable" (left incomplete, fetched again next time), and the
    # ledger's rejects of objects read
    rejected: Counter[str] = field(default_factory=Counter)
    messages: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "skipped": dict(self.skipped), "rejected": dict(self.rejected)}
