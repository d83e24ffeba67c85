"""Time slices of the `created` range: what is left to read, and where to cut a dense slice.

Pure functions: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

# A slice narrower than this is paged to its end rather than cut: halving it would only
# duplicate the work of its first page.
MIN_SPLIT_SECONDS = 2


@dataclass
class SliceTask:
    """One slice `[start, end)` of one resource being read, newest first.

    `cursor` is the id of the last object read (the next `starting_after`); everything read so
    far lies in `[oldest, end)`, and `count` objects of `[start, end)` have been read. When the
    slice is cut, `start` moves up to the cut and the part below goes to another worker.
    """

    resource: str
    start: int
    end: int
    cursor: str | None = None
    oldest: int | None = None  # `created` of the last object read
    count: int = 0
    pages: int = 0
    density: float | None = None  # objects per second, as seen so far here or in the parent
    seen: set[str] = field(default_factory=set)  # cursors sent, for loop detection

    @property
    def unread_span(self) -> int:
        """Seconds of the slice not yet covered by pages read."""
        low = self.end if self.oldest is None else self.oldest
        return max(0, low - self.start)


def missing_ranges(start: int, end: int, done: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of `[start, end)` not covered by the `[a, b)` ranges in `done`, ascending."""
    gaps: list[tuple[int, int]] = []
    position = start
    for a, b in sorted(done):
        if b <= position or a >= end:
            continue
        if a > position:
            gaps.append((position, a))
        position = max(position, b)
        if position >= end:
            break
    if position < end:
        gaps.append((position, end))
    return gaps


def initial_ranges(start: int, end: int, pieces: int) -> list[tuple[int, int]]:
    """`[start, end)` cut into up to `pieces` equal ranges, newest first."""
    span = end - start
    if span <= 0:
        return []
    pieces = max(1, min(pieces, span))
    cuts = [start + span * i // pieces for i in range(pieces + 1)]
    return [(cuts[i], cuts[i + 1]) for i in reversed(range(pieces))]


def split_point(start: int, oldest: int) -> int | None:
    """Where to cut a slice whose pages reached `oldest`: halfway through what is left.

    The part `[start, cut)` is unread and goes to another worker; the reader keeps `[cut, end)`,
    which holds everything it has read so far (all of it is at or after `oldest` >= cut).
    None when what is left is too narrow to be worth cutting.
    """
    if oldest - start < MIN_SPLIT_SECONDS:
        return None
    return start + (oldest - start) // 2
