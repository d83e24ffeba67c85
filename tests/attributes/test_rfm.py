"""RFM: quintile scores with ties, cut-points that score exactly as ranks do, persons scored
apart against everyone's cut-points, and each segment rule."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from stripe_cio.attributes import SEGMENTS
from stripe_cio.attributes.rfm import cut_points, rank_cuts, rfm_segments, scores

Kit = Any  # the `kit` fixture's class (tests/attributes/conftest.py)


def ints(*values: int) -> Any:
    return np.array(values, dtype=np.int64)


def quintile_scores(values: Any, groups: Any = None) -> Any:
    """The definition (docs/attributes.md): 1 + floor(5 x (values strictly below, within the
    group) / group size), by pandas' ranks: the reference the cut-points must equal."""
    series = pd.Series(values)
    if groups is None:
        below = series.rank(method="min").to_numpy() - 1
        size = np.full(len(values), len(values))
    else:
        grouped = series.groupby(groups)
        below = grouped.rank(method="min").to_numpy() - 1
        size = grouped.transform("size").to_numpy()
    return 1 + (5 * below.astype(np.int64)) // size.astype(np.int64)


def cut_scores(values: Any, groups: Any = None) -> Any:
    """The scores the engine gives: each value against its group's cut-points."""
    if groups is None:
        return scores(values, cut_points(values))
    out = np.empty(len(values), dtype=np.int64)
    for group in np.unique(groups):
        chosen = groups == group
        out[chosen] = scores(values[chosen], cut_points(values[chosen]))
    return out


values_lists = st.lists(st.integers(-5, 12), min_size=1, max_size=60)


@settings(max_examples=300, deadline=None)
@given(values_lists, st.data())
def test_cut_points_score_exactly_as_the_ranks_do(values: list[int], data: st.DataObject) -> None:
    array = np.array(values, dtype=np.int64)
    assert cut_scores(array).tolist() == quintile_scores(array).tolist()
    groups = np.array(data.draw(st.lists(st.integers(0, 2), min_size=len(values),
                                         max_size=len(values))), dtype=np.int64)  # fmt: skip
    assert cut_scores(array, groups).tolist() == quintile_scores(array, groups).tolist()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 4), st.integers(0, 30),
                          st.sampled_from(["usd", "eur", "jpy"])), min_size=1, max_size=40),
       st.data())  # fmt: skip
def test_persons_scored_apart_against_everyones_cuts_get_the_one_pass_segments(
    persons: list[tuple[int, int, int, str]], data: st.DataObject
) -> None:
    last, count, spent = (np.array([p[i] for p in persons], dtype=np.int64) for i in range(3))
    currency = np.array([p[3] for p in persons], dtype=object)
    whole = rfm_segments(last, count, spent, currency)
    cuts = rank_cuts(last, count, spent, currency)
    part = np.array(data.draw(st.lists(st.booleans(), min_size=len(persons),
                                       max_size=len(persons))), dtype=bool)  # fmt: skip
    apart = rfm_segments(last[part], count[part], spent[part], currency[part], cuts)
    assert apart.tolist() == whole[part].tolist()


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
    same = np.array(["usd"] * 5, dtype=object)
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
