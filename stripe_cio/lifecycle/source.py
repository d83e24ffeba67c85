"""What a row builder reads: the event's object, its previous attributes, the ledger lookup."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .model import Lookup


@dataclass(frozen=True)
class Source:
    """One event's `data` and context, as the row builders take it."""

    obj: Mapping[str, Any]  # data.object, as it stood when the event happened
    previous: Any  # data.previous_attributes (updates only), else None
    api_version: str | None  # the version data.object is rendered in (None: current)
    lookup: Lookup


# A row's `data` keys besides stripe_event_id and livemode (or SkipEvent: nothing to send).
Builder = Callable[[Source], dict[str, Any]]
