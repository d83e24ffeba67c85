"""The reject-rate threshold: a run that rejects too much of its input fails instead of
quietly syncing a broken account."""

from __future__ import annotations

from .summary import RunSummary

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
