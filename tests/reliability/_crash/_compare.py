"""The end state of a pipeline run compared with an uninterrupted run's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._harness import Tally
from ._state import cio_state, ledger_facts

__all__ = ["Reference", "assert_same_end_state"]


@dataclass
class Reference:
    """An uninterrupted run's end state."""

    tally: Tally
    cio: dict[str, Any]
    ledger: dict[str, Any]


def assert_same_end_state(reference: Reference, cio_url: str, database_url: str) -> None:
    """Customer.io and the ledger end as after the uninterrupted run: the same attributes for
    every person, every event once with the same content, no event id accepted twice with
    different content, the same cursors and counts."""
    state = cio_state(cio_url)
    assert state["differing"] == [], "event ids accepted again with different content"
    assert state["stored_twice"] == []
    want, got = reference.cio["events"], state["events"]
    missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
    assert not missing, f"events missing: {missing[:5]}"
    assert not extra, f"unexpected events: {extra[:5]}"
    changed = [i for i in want if want[i] != got[i]]
    assert not changed, f"events differ: {[(want[i], got[i]) for i in changed[:3]]}"
    want, got = reference.cio["people"], state["people"]
    assert set(want) == set(got), f"people differ: {sorted(set(want) ^ set(got))[:5]}"
    differing = {
        person: {
            name: (want[person].get(name), got[person].get(name))
            for name in set(want[person]) | set(got[person])
            if want[person].get(name) != got[person].get(name)
        }
        for person in want
        if want[person] != got[person]
    }
    assert not differing, (
        f"{len(differing)} persons' attributes differ: {list(differing.items())[:3]}"
    )
    facts = ledger_facts(database_url)
    assert facts["unhandled"] == 0
    assert facts == reference.ledger
