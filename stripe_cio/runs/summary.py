"""What one pipeline run did, in one shape: the flow returns it and publishes it as a table."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .reasons import explain

_TOTALS = (
    "persons_seen",
    "persons_changed",
    "persons_sent",
    "dead_lettered",
    "dead_letters_resolved",
    "events_delivered",
    "records",
)


def _get(part: Any, name: str, default: Any = 0) -> Any:
    """A field of a summary given as its dataclass or as its plain dict (a task's result)."""
    if isinstance(part, Mapping):
        return part.get(name, default)
    return getattr(part, name, default)


@dataclass
class RunSummary:
    """Counts of one run of a flow; in a dry run, of what it would have sent."""

    flow: str
    dry_run: bool = False
    stripe: dict[str, int] = field(default_factory=dict)  # what was pulled: "events applied"…
    persons_seen: int = 0  # persons whose attributes were computed and compared
    persons_changed: int = 0  # created or with changed attributes (sent, or would be)
    persons_sent: int = 0  # accepted by Customer.io
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> rows or events left out
    rejected: Counter[str] = field(default_factory=Counter)  # reason -> items refused
    dead_lettered: int = 0  # refused items kept as dead letters (none in a dry run)
    dead_letters_resolved: int = 0
    events_sent: Counter[str] = field(default_factory=Counter)  # Customer.io event -> items
    events_delivered: int = 0  # events accepted by Customer.io
    # Input records handled: Stripe objects read, new Stripe events listed, persons compared,
    # Customer.io events and person changes made. The reject rate's denominator.
    records: int = 0
    steps: dict[str, float] = field(default_factory=dict)  # step -> seconds
    seconds: float = 0.0
    # Where the run's credentials came from: API -> "the StripeCredentials block 'prod'"...
    credentials: dict[str, str] = field(default_factory=dict)
    failed_step: str | None = None  # the step the run failed in
    failure: str | None = None  # the one line saying why, and what to do (secrets masked)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time the block as step `name` (the flow's wall clock, retries included)."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.steps[name] = self.steps.get(name, 0.0) + time.monotonic() - started

    # --- adding the parts' summaries ----------------------------------------------------------

    def add_stripe(self, counts: Mapping[str, int]) -> None:
        """Count what was read from Stripe into the ledger."""
        for what, count in counts.items():
            self.stripe[what] = self.stripe.get(what, 0) + count

    def add_backfill(self, backfill: Any) -> None:
        """Add a backfill's summary (BackfillSummary or its as_dict()): objects and rejects."""
        resources: Mapping[str, Any] = _get(backfill, "resources", {})
        for resource, counts in resources.items():
            objects = _get(counts, "objects")
            self.add_stripe({f"{resource} read": objects})
            self.records += objects
            for reason, count in _get(counts, "rejected", {}).items():
                self.rejected[f"Stripe {resource}: {reason}"] += count
        # A slice that stayed unreadable is a reject too: its objects were not read.
        for failed in _get(backfill, "failed", []):
            self.rejected[f"Stripe {_get(failed, 'resource', '?')}: unreadable slice"] += 1

    def add_sync(self, sync: Any) -> None:
        """Add an events sync's summary (SyncSummary or the sync task's dict)."""
        listed = _get(sync, "events_listed")
        self.add_stripe({"events listed": listed, "events applied": _get(sync, "applied")})
        # Events already processed (the overlap read again) are not new input.
        self.records += max(0, listed - _get(sync, "duplicates"))
        for reason, count in _get(sync, "rejected", {}).items():
            self.rejected[f"Stripe event: {reason}"] += count

    def add_skipped(self, reasons: Mapping[str, Any], prefix: str = "") -> None:
        """Count rows or events left out, by reason (nested mappings: `table: reason`)."""
        for reason, count in reasons.items():
            if isinstance(count, Mapping):
                self.add_skipped(count, f"{prefix}{reason}: ")
            elif count:
                self.skipped[f"{prefix}{reason}"] += int(count)

    def add_delivery(self, delivery: Any) -> None:
        """Add a delivery or replay summary (DeliverySummary or its as_dict())."""
        self.persons_seen += _get(delivery, "persons_seen")
        self.records += _get(delivery, "persons_seen") + _get(delivery, "events_seen")
        self.persons_changed += _get(delivery, "persons_created") + _get(
            delivery, "persons_updated"
        )
        self.persons_sent += _get(delivery, "persons_delivered")
        self.events_delivered += _get(delivery, "events_delivered")
        self.dead_letters_resolved += _get(delivery, "dead_letters_resolved")
        rejected: Mapping[str, int] = _get(delivery, "rejected", {})
        self.rejected.update(rejected)
        if not (self.dry_run or _get(delivery, "dry_run", False)):
            self.dead_lettered += sum(rejected.values())

    def add_lifecycle(self, lifecycle: Any) -> None:
        """Add a lifecycle run's summary (LifecycleSummary or its as_dict())."""
        self.add_stripe({"events mapped to lifecycle events": _get(lifecycle, "events_mapped")})
        self.add_skipped(_get(lifecycle, "skipped", {}), "lifecycle: ")
        self.events_sent.update(_get(lifecycle, "items", {}))
        self.records += sum(_get(lifecycle, "actions", {}).values())
        for reason, count in _get(lifecycle, "actions_rejected", {}).items():
            self.rejected[f"person change: {reason}"] += count
        self.add_delivery(_get(lifecycle, "delivery", {}))

    def add_run(self, other: RunSummary) -> None:
        """Add the persons, events and rejects of a run this one started (a subflow)."""
        for name in _TOTALS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("skipped", "rejected", "events_sent"):
            getattr(self, name).update(getattr(other, name))
        self.add_stripe(other.stripe)
        self.credentials.update(other.credentials)

    @property
    def reject_rate(self) -> float:
        """Rejected items per input record, at most 1 (a sync that read no event but stopped
        at an unreadable page rejected all it tried)."""
        rejected = sum(self.rejected.values())
        return rejected / max(self.records, rejected) if rejected else 0.0

    # --- showing it ---------------------------------------------------------------------------

    @property
    def reaches_customerio(self) -> bool:
        """Whether the run had anything to do with Customer.io: rows about it apply only then."""
        return (
            self.dry_run
            or "Customer.io" in self.credentials
            or any(getattr(self, name) for name in _TOTALS if name != "records")
            or bool(self.events_sent)
        )

    def rows(self) -> list[tuple[str, str]]:
        """The run as (what, how many) rows: the artifact's table and the CLI's. A run that
        only read Stripe (a ledger-only sync, a backfill without enrich) has no Customer.io
        rows: zeros that do not apply would only be noise."""
        would = "would be " if self.dry_run else ""
        rows: list[tuple[str, str]] = []
        if self.failure is not None:
            rows.append(("failed", f"in step {self.failed_step or '(before any step)'}"))
            rows.append(("why, and what to do", self.failure))
        rows += [(f"credentials: {api}", origin) for api, origin in self.credentials.items()]
        rows += [(f"Stripe: {what}", f"{count:,}") for what, count in self.stripe.items()]
        customerio = self.reaches_customerio
        if customerio:
            rows += [
                ("persons seen", f"{self.persons_seen:,}"),
                (f"persons changed ({would}sent)", f"{self.persons_changed:,}"),
            ]
            if not self.dry_run:
                rows.append(("persons accepted by Customer.io", f"{self.persons_sent:,}"))
        rows += [(f"skipped: {reason}", f"{n:,}") for reason, n in sorted(self.skipped.items())]
        rows += [(f"rejected: {reason}", f"{n:,}") for reason, n in sorted(self.rejected.items())]
        if customerio:
            rows.append(("dead-lettered", f"{self.dead_lettered:,}"))
        if self.dead_letters_resolved:
            rows.append(("dead letters resolved", f"{self.dead_letters_resolved:,}"))
        rows += [(f"event {name} {would}sent", f"{n:,}") for name, n in sorted(
            self.events_sent.items())]  # fmt: skip
        if customerio and not self.dry_run:
            rows.append(("events accepted by Customer.io", f"{self.events_delivered:,}"))
        rows += [(f"seconds: {name}", f"{s:.1f}") for name, s in self.steps.items()]
        rows.append(("seconds in all", f"{self.seconds:.1f}"))
        return rows

    def table(self) -> list[dict[str, str]]:
        """The rows as records, the shape of a Prefect table artifact."""
        return [
            {"what": what, "count": count, "meaning": row_meaning(what)}
            for what, count in self.rows()
        ]

    @property
    def title(self) -> str:
        """One line naming the run's outcome."""
        mode = " (dry run: nothing sent)" if self.dry_run else ""
        if self.failure is not None:
            where = f" in step {self.failed_step}" if self.failed_step else ""
            return f"{self.flow}{mode}: failed{where}: {self.failure}"
        return (
            f"{self.flow}{mode}: {self.persons_changed:,} persons changed, "
            f"{sum(self.events_sent.values()):,} events, {self.dead_lettered:,} dead-lettered "
            f"in {self.seconds:.1f}s"
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        values = dict(self.__dict__)
        for name in ("skipped", "rejected", "events_sent", "credentials"):
            values[name] = dict(values[name])
        return values


def row_meaning(what: str) -> str:
    """What a summary row's skip or reject reason means (reasons.py); empty for other rows."""
    kind, _, reason = what.partition(": ")
    return explain(reason) if kind in ("skipped", "rejected") else ""


# The reject-rate threshold: a run that rejects too much of its input fails instead of quietly
# syncing a broken account.
DEFAULT_MAX_REJECT_RATE = 0.05
_TOP_REASONS = 3


def reject_rate_problem(summary: RunSummary, max_rate: float) -> str | None:
    """One line naming the rate, the threshold and the top reasons when the run's rejects
    exceed `max_rate` of its input records; None when they do not (or nothing was rejected)."""
    rejected = sum(summary.rejected.values())
    if not rejected or summary.reject_rate <= max_rate:
        return None
    top = ", ".join(
        f"{reason} ({count:,})"
        for reason, count in sorted(summary.rejected.items(), key=lambda rc: (-rc[1], rc[0]))[
            :_TOP_REASONS
        ]
    )
    return (
        f"{summary.flow}: reject rate {summary.reject_rate:.1%} ({rejected:,} rejected of "
        f"{summary.records:,} records) exceeds the threshold of {max_rate:.1%}; top reasons: "
        f"{top}; see the rejects and dead letters, fix the cause, or raise "
        "STRIPE_CIO_MAX_REJECT_RATE"
    )
