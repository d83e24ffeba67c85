"""Prefect flows of stripe-cio: each wires tasks together and is a deployment entrypoint."""

from .backfill import backfill_history
from .enrich import enrich_profiles
from .replay import replay_dead_letters
from .sync import sync_stripe_events

__all__ = [
    "FLOW_NAMES",
    "backfill_history",
    "enrich_profiles",
    "replay_dead_letters",
    "sync_stripe_events",
]

FLOW_NAMES = tuple(
    f.name for f in (sync_stripe_events, enrich_profiles, backfill_history, replay_dead_letters)
)
