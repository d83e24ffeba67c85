"""When customers arrive: growth over the history, plus one busy spike (a sale)."""

from __future__ import annotations

import math
import random

# The arrival rate grows linearly from _LOW to _HIGH (relative) over the history...
_LOW, _HIGH = 0.4, 1.6
# ...and a share of all arrivals crowds into a few days at this point of the history.
SPIKE_SHARE = 0.06
SPIKE_AT = 0.82
SPIKE_DAYS = 4


def arrival_times(rng: random.Random, count: int, start: int, end: int) -> list[int]:
    """`count` sorted arrival times in (start, end]."""
    span = end - start
    slope = _HIGH - _LOW
    spike_width = min(span, SPIKE_DAYS * 86_400) / span
    out = []
    for _ in range(count):
        if rng.random() < SPIKE_SHARE:
            x = SPIKE_AT + rng.random() * spike_width
        else:
            # Inverse of the CDF of the density a + b·x on [0, 1].
            u = rng.random() * (_LOW + slope / 2)
            x = (-_LOW + math.sqrt(_LOW * _LOW + 2 * slope * u)) / slope
        out.append(start + 1 + min(span - 1, int(x * span)))
    out.sort()
    return out


def end_rate(count: int, start: int, end: int) -> float:
    """Arrivals per second at the end of the history, to continue the same growth curve."""
    span = end - start
    return count * (1 - SPIKE_SHARE) * _HIGH / (_LOW + (_HIGH - _LOW) / 2) / span
