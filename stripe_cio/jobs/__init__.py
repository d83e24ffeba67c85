"""The jobs: each one engine function that owns its whole sequence (lock, cursors, steps,
reject checks, summary). Prefect flows, the command line, `serve` and tests open the same job
with their own `StepRunner`; none re-implements a step."""

from .backfill import BACKFILL, ENRICH_WAITS_FOR_LOCK, backfill_job
from .common import Connections, JobRun, reject_threshold
from .profiles import (
    ENRICH,
    HISTORY_INCOMPLETE,
    RANKS_HELD_BACK,
    REPLAY,
    enrich_job,
    plan_updates,
    replay_job,
)
from .runner import PlainRunner, StepRunner
from .sync import SYNC, sync_job

__all__ = [
    "BACKFILL",
    "ENRICH",
    "ENRICH_WAITS_FOR_LOCK",
    "HISTORY_INCOMPLETE",
    "RANKS_HELD_BACK",
    "REPLAY",
    "SYNC",
    "Connections",
    "JobRun",
    "PlainRunner",
    "StepRunner",
    "backfill_job",
    "enrich_job",
    "plan_updates",
    "reject_threshold",
    "replay_job",
    "sync_job",
]
