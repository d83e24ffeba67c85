"""What a delivery run did (or, in a dry run, would do), as numbers, a table and markdown."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any

import orjson


@dataclass
class DeliverySummary:
    """Counts of one delivery or replay run; in a dry run, of what it would have sent."""

    dry_run: bool = False
    persons_seen: int = 0
    persons_created: int = 0  # no snapshot yet: every attribute is sent
    persons_updated: int = 0  # only the changed attributes are sent, cleared ones as null
    persons_unchanged: int = 0  # nothing to send
    persons_delivered: int = 0  # accepted by Customer.io
    persons_rejected: int = 0  # refused before sending or by Customer.io: see dead letters
    events_seen: int = 0
    events_new: int = 0  # not delivered before: sent (or would be)
    events_already_delivered: int = 0
    events_duplicate: int = 0  # the same event twice in the input: sent once
    events_delivered: int = 0
    events_rejected: int = 0
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> items
    dead_letters_resolved: int = 0
    attribute_changes: Counter[str] = field(default_factory=Counter)  # name -> persons setting it
    attributes_cleared: Counter[str] = field(default_factory=Counter)  # name -> persons clearing
    batches: int = 0
    bytes: int = 0  # batch bodies packed (sent, unless a dry run)
    requests: int = 0  # HTTP requests, retries included
    retries: int = 0
    rate_limited: int = 0
    split_batches: int = 0
    seconds: float = 0.0
    samples: list[dict[str, Any]] = field(default_factory=list)  # dry run: items as they'd go

    def combined(self, other: DeliverySummary, samples: int = 5) -> DeliverySummary:
        """This run's counts and `other`'s added up (runs of one job in parts), keeping the
        first `samples` sample payloads."""
        values: dict[str, Any] = {"dry_run": self.dry_run or other.dry_run}
        for item in fields(self):
            mine, theirs = getattr(self, item.name), getattr(other, item.name)
            if item.name == "dry_run":
                continue
            if item.name == "samples":
                values[item.name] = [*mine, *theirs][:samples]
            elif isinstance(mine, Counter):
                values[item.name] = mine + theirs
            elif isinstance(mine, dict):
                values[item.name] = dict(Counter(mine) + Counter(theirs))
            else:
                values[item.name] = mine + theirs
        return DeliverySummary(**values)

    def reject(self, kind: str, reason: str) -> None:
        """Count one item refused, before sending or by Customer.io."""
        self.rejected[reason] = self.rejected.get(reason, 0) + 1
        if kind == "person":
            self.persons_rejected += 1
        else:
            self.events_rejected += 1

    @property
    def persons_per_second(self) -> float:
        return self.persons_delivered / self.seconds if self.seconds > 0 else 0.0

    @property
    def events_per_second(self) -> float:
        return self.events_delivered / self.seconds if self.seconds > 0 else 0.0

    def top_attributes(self, n: int = 10) -> list[tuple[str, int, int]]:
        """(attribute, persons setting it, persons clearing it), the most changed first."""
        total = self.attribute_changes + self.attributes_cleared
        return [
            (name, self.attribute_changes[name], self.attributes_cleared[name])
            for name, _ in sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
        ]

    def rows(self) -> list[tuple[str, str]]:
        """The run as (what, how many) rows, for the CLI's table and the flow's artifact."""
        verb = "would be " if self.dry_run else ""
        rows = [
            ("persons seen", f"{self.persons_seen:,}"),
            (f"persons {verb}created", f"{self.persons_created:,}"),
            (f"persons {verb}updated", f"{self.persons_updated:,}"),
            ("persons unchanged", f"{self.persons_unchanged:,}"),
            ("events seen", f"{self.events_seen:,}"),
            (f"events {verb}sent", f"{self.events_new:,}"),
            ("events already delivered", f"{self.events_already_delivered:,}"),
        ]
        if not self.dry_run:
            rows += [
                ("persons delivered", f"{self.persons_delivered:,}"),
                ("events delivered", f"{self.events_delivered:,}"),
                (
                    "requests (retries, 429s)",
                    f"{self.requests} ({self.retries}, {self.rate_limited})",
                ),
            ]
        rows.append((f"batches {verb}sent", f"{self.batches:,} ({self.bytes / 1e6:.1f} MB)"))
        for reason, count in sorted(self.rejected.items()):
            rows.append((f"rejected: {reason}", f"{count:,}"))
        for name, changed, cleared in self.top_attributes():
            rows.append((f"attribute {name}", f"{changed:,} set, {cleared:,} cleared"))
        return rows

    def as_markdown(self) -> str:
        """The rows as a markdown table, then the sample payloads."""
        title = (
            "Customer.io delivery (dry run: nothing sent)"
            if self.dry_run
            else "Customer.io delivery"
        )
        lines = [f"### {title}", "", "| | |", "|---|---:|"]
        lines += [f"| {what} | {count} |" for what, count in self.rows()]
        if self.samples:
            lines += ["", "Sample payloads:", "", "```json"]
            lines += [orjson.dumps(sample).decode() for sample in self.samples]
            lines.append("```")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """Plain data (for a Prefect task result or JSON)."""
        values = {k: v for k, v in self.__dict__.items() if not isinstance(v, Counter)}
        values["attribute_changes"] = dict(self.attribute_changes)
        values["attributes_cleared"] = dict(self.attributes_cleared)
        values["persons_per_second"] = self.persons_per_second
        values["events_per_second"] = self.events_per_second
        return values
