"""The rank cut-points of the latest full computation, kept in the ledger (table `rank_cuts`):
a sync scores the persons it touches against them (docs/attributes.md, "RFM segment")."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, select

from ..ledger import table, write_transaction
from .rfm import RankCuts


@dataclass(frozen=True)
class RecordedRanks:
    """The rank cut-points a full computation as of `as_of` recorded (None: nobody bought)."""

    cuts: RankCuts | None
    as_of: int


# The row that records a computation even when nobody had bought (no cut-points).
_COMPUTED = "computed"


def record_rank_cuts(
    engine: Engine, cuts: RankCuts | None, as_of: int, *, now: float | None = None
) -> None:
    """Replace the recorded cut-points with those of a full computation as of `as_of`."""
    stamp = int(time.time() if now is None else now)
    entries: list[tuple[str, tuple[int, ...], int]] = [(_COMPUTED, (), 0)]
    if cuts is not None:
        entries += [
            ("recency", cuts.recency, cuts.persons),
            ("frequency", cuts.frequency, cuts.persons),
        ]
        entries += [
            (f"monetary:{code}", values, cuts.persons)
            for code, values in sorted(cuts.monetary.items())
        ]
    rows = [
        {
            "name": name,
            "cuts": json.dumps(list(values)),
            "persons": persons,
            "as_of": as_of,
            "computed_at": stamp,
        }
        for name, values, persons in entries
    ]
    target = table("rank_cuts")
    with write_transaction(engine) as connection:
        connection.execute(delete(target))
        connection.execute(insert(target), rows)


def recorded_rank_cuts(engine: Engine) -> RecordedRanks | None:
    """The cut-points the latest full computation recorded; None before the first one."""
    target = table("rank_cuts")
    with engine.connect() as connection:
        rows = {row.name: row for row in connection.execute(select(target))}
    if _COMPUTED not in rows:
        return None
    as_of = int(rows[_COMPUTED].as_of)
    if "recency" not in rows or "frequency" not in rows:
        return RecordedRanks(None, as_of)

    def cuts_of(name: str) -> tuple[int, ...]:
        return tuple(int(value) for value in json.loads(rows[name].cuts))

    monetary = {
        name.removeprefix("monetary:"): cuts_of(name)
        for name in rows
        if name.startswith("monetary:")
    }
    cuts = RankCuts(
        recency=cuts_of("recency"),
        frequency=cuts_of("frequency"),
        monetary=monetary,
        persons=int(rows["recency"].persons),
    )
    return RecordedRanks(cuts, as_of)
