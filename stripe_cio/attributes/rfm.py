"""RFM segments from recency, frequency and monetary quintile scores.

Among the persons with a purchase, a value's score is 1 + floor(5 x b / n), where b is the
number of those persons with a strictly worse value and n how many they are: equal values
score alike, and each score holds about a fifth of the persons. Recency compares the last
purchase time (later is better), frequency the purchase count, monetary the exact total
spent, compared only among persons of the same primary currency (amounts in different
currencies are not comparable). The segment is the first rule that holds:

1. champion: R >= 4, F >= 4 and M >= 4
2. loyal: R >= 3 and F >= 3
3. new: R = 5 and F = 1
4. promising: R >= 3
5. at_risk: F >= 3
6. hibernating: every other case
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .groups import Int64Array

# The attribute `rfm_segments` computes (docs/attributes.md).
RFM_ATTRIBUTES: tuple[str, ...] = ("rfm_segment",)

SEGMENTS = ("champion", "loyal", "new", "promising", "at_risk", "hibernating")


def quintile_scores(values: npt.NDArray[Any], groups: Int64Array | None = None) -> Int64Array:
    """1 + floor(5 x (values strictly below, within the group) / group size), exactly."""
    series = pd.Series(values)
    if groups is None:
        below = series.rank(method="min").to_numpy() - 1
        size = np.full(len(values), len(values))
    else:
        grouped = series.groupby(groups)
        below = grouped.rank(method="min").to_numpy() - 1
        size = grouped.transform("size").to_numpy()
    return 1 + (5 * below.astype(np.int64)) // size.astype(np.int64)


def rfm_segments(
    last_purchase_at: Int64Array,
    purchase_count: Int64Array,
    spent_minor: Int64Array,
    primary: Int64Array,
) -> npt.NDArray[Any]:
    """Each person's segment (None without a purchase)."""
    out = np.full(len(purchase_count), None, dtype=object)
    bought = purchase_count > 0
    if not bought.any():
        return out
    r = quintile_scores(last_purchase_at[bought])
    f = quintile_scores(purchase_count[bought])
    m = quintile_scores(spent_minor[bought], primary[bought])
    rules = [
        (r >= 4) & (f >= 4) & (m >= 4),
        (r >= 3) & (f >= 3),
        (r == 5) & (f == 1),
        r >= 3,
        f >= 3,
    ]
    out[bought] = np.select(rules, list(SEGMENTS[:-1]), default=SEGMENTS[-1])
    return out
