"""RFM segments from recency, frequency and monetary quintile scores.

Among the persons with a purchase, a value's score is 1 + floor(5 x b / n), where b is the
number of those persons with a strictly worse value and n how many they are: equal values
score alike, and each score holds about a fifth of the persons. Recency compares the last
purchase time (later is better), frequency the purchase count, monetary the exact total
spent, compared only among persons of the same primary currency (amounts in different
currencies are not comparable). The segment is the first rule that holds:

Equivalently, with x the n values sorted, the k-th cut-point (k = 1..4) is x[ceil(k x n / 5)]
(1-based) and a value's score is 1 + how many cut-points it exceeds: b >= m exactly when the
m-th smallest value is below it. The cut-points are four numbers a dimension (a currency, for
monetary), so persons scored apart (a sync's touched persons, a partition of the nightly run)
score exactly as in one pass over everyone when they share the cut-points of everyone.

1. champion: R >= 4, F >= 4 and M >= 4
2. loyal: R >= 3 and F >= 3
3. new: R = 5 and F = 1
4. promising: R >= 3
5. at_risk: F >= 3
6. hibernating: every other case
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .groups import Int64Array

# The attribute `rfm_segments` computes (docs/attributes.md).
RFM_ATTRIBUTES: tuple[str, ...] = ("rfm_segment",)

SEGMENTS = ("champion", "loyal", "new", "promising", "at_risk", "hibernating")


Cuts = tuple[int, ...]


@dataclass(frozen=True)
class RankCuts:
    """The cut-points of the quintile scores among the persons with a purchase: recency and
    frequency over all of them, monetary per primary currency (lower-case code)."""

    recency: Cuts
    frequency: Cuts
    monetary: Mapping[str, Cuts] = field(default_factory=dict)
    persons: int = 0  # how many persons with a purchase they were cut from


def cut_points(values: npt.NDArray[Any]) -> Cuts:
    """The four cut-points of `values` (at least one): x[ceil(k x n / 5)], k = 1..4, 1-based."""
    ordered = np.sort(np.asarray(values, dtype=np.int64))
    n = len(ordered)
    return tuple(int(ordered[-((-k * n) // 5) - 1]) for k in range(1, 5))


def scores(values: npt.NDArray[Any], cuts: Cuts) -> Int64Array:
    """1 + how many of the cut-points each value exceeds."""
    below: Int64Array = np.searchsorted(np.asarray(cuts, dtype=np.int64), values, side="left")
    return 1 + below.astype(np.int64)


def rank_cuts(
    last_purchase_at: Int64Array,
    purchase_count: Int64Array,
    spent_minor: Int64Array,
    currency: npt.NDArray[Any],
) -> RankCuts | None:
    """The cut-points of these persons' values (`currency`: each one's primary currency code);
    None when none of them made a purchase."""
    bought = purchase_count > 0
    if not bought.any():
        return None
    spent, codes = spent_minor[bought], currency[bought]
    return RankCuts(
        recency=cut_points(last_purchase_at[bought]),
        frequency=cut_points(purchase_count[bought]),
        monetary={str(code): cut_points(spent[codes == code]) for code in pd.unique(codes)},
        persons=int(bought.sum()),
    )


def rfm_segments(
    last_purchase_at: Int64Array,
    purchase_count: Int64Array,
    spent_minor: Int64Array,
    currency: npt.NDArray[Any],
    cuts: RankCuts | None = None,
) -> npt.NDArray[Any]:
    """Each person's segment (None without a purchase), scored against `cuts` (default: the
    cut-points of these persons). A currency the cuts lack is cut from these persons' values
    in it."""
    out = np.full(len(purchase_count), None, dtype=object)
    bought = purchase_count > 0
    cuts = cuts or rank_cuts(last_purchase_at, purchase_count, spent_minor, currency)
    if cuts is None or not bought.any():
        return out
    r = scores(last_purchase_at[bought], cuts.recency)
    f = scores(purchase_count[bought], cuts.frequency)
    spent, codes = spent_minor[bought], currency[bought]
    m = np.empty(len(spent), dtype=np.int64)
    for code in pd.unique(codes):
        chosen = codes == code
        known = cuts.monetary.get(str(code))
        m[chosen] = scores(spent[chosen], known or cut_points(spent[chosen]))
    rules = [
        (r >= 4) & (f >= 4) & (m >= 4),
        (r >= 3) & (f >= 3),
        (r == 5) & (f == 1),
        r >= 3,
        f >= 3,
    ]
    out[bought] = np.select(rules, list(SEGMENTS[:-1]), default=SEGMENTS[-1])
    return out
