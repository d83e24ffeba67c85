"""RFM: quintile scores with ties, and each segment rule."""

from __future__ import annotations

from typing import Any

import numpy as np

from stripe_cio.attributes import SEGMENTS
from stripe_cio.attributes.rfm import quintile_scores, rfm_segments

Kit = Any  # the `kit` fixture's class (tests/attributes/conftest.py)


def ints(*values: int) -> Any:
    return np.array(values, dtype=np.int64)


def test_quintile_scores_split_distinct_values_into_fifths() -> None:
    scores = quintile_scores(ints(10, 1, 2, 3, 4, 5, 6, 7, 8, 9))
    assert scores.tolist() == [5, 1, 1, 2, 2, 3, 3, 4, 4, 5]


def test_equal_values_score_alike_by_the_values_strictly_below() -> None:
    # Four equal values have one value below them of five: 1 + 5 x 1 // 5 = 2.
    assert quintile_scores(ints(5, 5, 5, 5, 1)).tolist() == [2, 2, 2, 2, 1]
    assert quintile_scores(ints(7, 7, 7)).tolist() == [1, 1, 1]


def test_groups_are_scored_apart() -> None:
    scores = quintile_scores(ints(1, 100, 2, 200, 3), groups=ints(0, 1, 0, 1, 0))
    assert scores.tolist() == [1, 1, 2, 3, 4]


def test_every_rule_in_order() -> None:
    # Five persons with distinct values score 1..5 by rank.
    last = ints(5, 4, 3, 2, 1)
    count = ints(1, 5, 4, 3, 2)
    spent = ints(1, 5, 2, 3, 4)
    same = ints(0, 0, 0, 0, 0)
    segments = rfm_segments(last, count, spent, same).tolist()
    # (R, F, M) = (5,1,1) (4,5,5) (3,4,2) (2,3,3) (1,2,4)
    assert segments == ["new", "champion", "loyal", "at_risk", "hibernating"]
    # R = 3 or 4 with F <= 2 is promising; R = 5 with F = 2 too; R >= 4, F >= 4, M < 4 loyal.
    segments = rfm_segments(ints(5, 4, 3, 2, 1), ints(2, 1, 5, 4, 3), ints(1, 2, 3, 5, 4), same)
    assert segments.tolist() == ["promising", "promising", "loyal", "at_risk", "at_risk"]
    assert set(SEGMENTS) == {"champion", "loyal", "new", "promising", "at_risk", "hibernating"}


def test_persons_without_a_purchase_have_no_segment(kit: Kit) -> None:
    t = kit.AS_OF - 100 * kit.DAY
    computed = kit.compute(
        customers=[
            kit.customer("cus_1", "a@example.com"),
            kit.customer("cus_2", "b@example.com"),
            kit.customer("cus_3", "c@example.com"),
        ],
        charges=[
            kit.charge("ch_1", "cus_1", created=t),
            kit.charge("ch_2", "cus_2", created=t + 50 * kit.DAY),
            kit.charge("ch_3", "cus_2", created=t + 60 * kit.DAY),
        ],
    )
    assert "rfm_segment" not in computed.person("c@example.com")
    # b: latest and most frequent of two buyers: R = F = M = 1 + 5 x 1 // 2 = 3.
    assert computed.person("b@example.com")["rfm_segment"] == "loyal"
    assert computed.person("a@example.com")["rfm_segment"] == "hibernating"
