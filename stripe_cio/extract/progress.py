"""Backfill progress: records so far, rate, and an estimate of the time left.

The estimate weights the unread part of each slice by the density (objects per second of
`created`) seen where it came from, so an account whose activity is all in the last months
does not look nearly done (or hopeless) just because most of the time range is empty.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .slices import SliceTask

# (resource, records so far, records/s, estimated seconds left or None while unknown)
ProgressCallback = Callable[[str, int, float, float | None], None]


def estimate_remaining(tasks: Iterable[SliceTask], fallback_density: float | None) -> float | None:
    """Objects still to read in `tasks`; None when nothing has been seen to estimate from."""
    total = 0.0
    for task in tasks:
        density = task.density if task.density is not None else fallback_density
        if density is None:
            return None
        total += density * task.unread_span
    return total


@dataclass
class ProgressTracker:
    """Counts written records per resource and reports through the callback, throttled."""

    callback: ProgressCallback | None
    started: float
    every: float = 0.25  # seconds between reports of one resource
    records: dict[str, int] = field(default_factory=dict)
    covered_span: int = 0  # seconds of `created` fully or partly read, all resources
    _last_report: dict[str, float] = field(default_factory=dict)

    def add(self, resource: str, n: int) -> None:
        self.records[resource] = self.records.get(resource, 0) + n

    def rate(self, resource: str, now: float) -> float:
        elapsed = max(now - self.started, 1e-9)
        return self.records.get(resource, 0) / elapsed

    def eta(self, open_tasks: Iterable[SliceTask], now: float) -> float | None:
        """Seconds left for the whole backfill at the overall rate so far."""
        total = sum(self.records.values())
        elapsed = max(now - self.started, 1e-9)
        if total == 0:
            return None
        fallback = total / self.covered_span if self.covered_span else None
        remaining = estimate_remaining(open_tasks, fallback)
        return None if remaining is None else remaining / (total / elapsed)

    def report(
        self, resource: str, open_tasks: Iterable[SliceTask], now: float, *, force: bool = False
    ) -> None:
        if self.callback is None:
            return
        if not force and now - self._last_report.get(resource, -1e18) < self.every:
            return
        self._last_report[resource] = now
        self.callback(
            resource,
            self.records.get(resource, 0),
            self.rate(resource, now),
            self.eta(open_tasks, now),
        )
