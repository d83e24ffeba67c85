"""Prefect flows of stripe-cio: each wires tasks together and is a deployment entrypoint.

The flows are imported on first use (PEP 562), not with the package, so that importing
`flows.demo` or `flows.deployments` costs only what they use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .backfill import backfill_history
    from .enrich import enrich_partition, enrich_profiles
    from .replay import replay_dead_letters
    from .sync import sync_stripe_events

    FLOW_NAMES: tuple[str, ...]

__all__ = [
    "FLOW_NAMES",
    "backfill_history",
    "enrich_partition",
    "enrich_profiles",
    "replay_dead_letters",
    "sync_stripe_events",
]

_MODULES = {
    "backfill_history": ".backfill",
    "enrich_partition": ".enrich",
    "enrich_profiles": ".enrich",
    "replay_dead_letters": ".replay",
    "sync_stripe_events": ".sync",
}
# The order of the deployments in prefect.yaml.
_DEPLOYED = (
    "sync_stripe_events",
    "enrich_profiles",
    "enrich_partition",
    "backfill_history",
    "replay_dead_letters",
)


def __getattr__(name: str) -> Any:
    """A flow, imported from its module on first use; FLOW_NAMES, the flows' names."""
    if name == "FLOW_NAMES":
        names = tuple(__getattr__(flow).name for flow in _DEPLOYED)
        globals()["FLOW_NAMES"] = names
        return names
    if name in _MODULES:
        flow = getattr(import_module(_MODULES[name], __name__), name)
        globals()[name] = flow
        return flow
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
