"""What a lifecycle run did: events read, skipped by reason, items delivered."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any

from ..deliver import DeliverySummary
from .actions import ActionResult


def _add_delivery(total: DeliverySummary, part: DeliverySummary) -> None:
    """Add one delivery call's counts to the run's."""
    for f in fields(DeliverySummary):
        mine, theirs = getattr(total, f.name), getattr(part, f.name)
        if isinstance(mine, Counter):
            mine.update(theirs)
        elif isinstance(mine, dict):
            for key, count in theirs.items():
                mine[key] = mine.get(key, 0) + count
        elif isinstance(mine, list):
            mine.extend(theirs[: max(0, 5 - len(mine))])
        elif isinstance(mine, int | float) and not isinstance(mine, bool):
            setattr(total, f.name, mine + theirs)


@dataclass
class LifecycleSummary:
    """Counts of one run of lifecycle events; in a dry run, of what it would have sent."""

    dry_run: bool = False
    events_read: int = 0  # processed Stripe events handled by this run
    events_mapped: int = 0  # of which made Customer.io items
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> Stripe events
    items: Counter[str] = field(default_factory=Counter)  # Customer.io event name -> items
    actions: Counter[str] = field(default_factory=Counter)  # identify/delete/suppress -> items
    actions_delivered: int = 0
    actions_rejected: Counter[str] = field(default_factory=Counter)
    delivery: DeliverySummary = field(default_factory=DeliverySummary)

    def __post_init__(self) -> None:
        self.delivery.dry_run = self.dry_run

    def add_actions(self, result: ActionResult) -> None:
        self.actions.update(result.sent)
        self.actions_delivered += result.delivered
        self.actions_rejected.update(result.rejected)
        self.delivery.requests += result.requests

    def add_delivery(self, part: DeliverySummary) -> None:
        _add_delivery(self.delivery, part)

    def rows(self) -> list[tuple[str, str]]:
        """The run as (what, how many) rows, for the CLI's table and the flow's artifact."""
        verb = "would be sent" if self.dry_run else "sent"
        rows = [
            ("Stripe events read", f"{self.events_read:,}"),
            ("Stripe events mapped", f"{self.events_mapped:,}"),
        ]
        rows += [(f"skipped: {r}", f"{n:,}") for r, n in sorted(self.skipped.items())]
        rows += [(f"event {name}", f"{n:,}") for name, n in sorted(self.items.items())]
        rows += [
            (f"person {action} {verb}", f"{n:,}") for action, n in sorted(self.actions.items())
        ]
        rows += [(f"person change rejected: {r}", f"{n:,}") for r, n in sorted(
            self.actions_rejected.items())]  # fmt: skip
        rows += self.delivery.rows()
        return rows

    def as_markdown(self) -> str:
        title = "Lifecycle events" + (" (dry run: nothing sent)" if self.dry_run else "")
        lines = [f"### {title}", "", "| | |", "|---|---:|"]
        lines += [f"| {what} | {count} |" for what, count in self.rows()]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """Plain data (for a Prefect task result or JSON)."""
        return {
            "dry_run": self.dry_run,
            "events_read": self.events_read,
            "events_mapped": self.events_mapped,
            "skipped": dict(self.skipped),
            "items": dict(self.items),
            "actions": dict(self.actions),
            "actions_delivered": self.actions_delivered,
            "actions_rejected": dict(self.actions_rejected),
            "delivery": self.delivery.as_dict(),
        }
