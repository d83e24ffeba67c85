"""Vectorised building blocks: integer codes of a column, per-group maxima with tie-breaks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

Int64Array = npt.NDArray[np.int64]


def object_index(values: Any) -> pd.Index:
    """An Index of Python objects: hash lookups in it are several times faster than in one of
    pandas' `str` dtype, which an Index of strings would otherwise get."""
    index: pd.Index = pd.Index(np.asarray(values, dtype=object), dtype=object)
    return index


def codes_of(values: pd.Series) -> tuple[Int64Array, pd.Index]:
    """Integer codes (-1 for null) of a column and its distinct values, for any dtype."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        category_codes = np.asarray(values.cat.codes, dtype=np.int64)
        return category_codes, object_index(values.cat.categories)
    factorized, uniques = pd.factorize(values)
    codes = factorized.astype(np.int64)
    return codes, object_index(uniques)


def take(values: Any, index: Int64Array, fill: Any = None) -> npt.NDArray[Any]:
    """values[index], with `fill` where index is -1 (None: an object array)."""
    values = np.asarray(values)
    padded = np.empty(len(values) + 1, dtype=object if fill is None else values.dtype)
    padded[:-1] = values
    padded[-1] = fill
    return padded[index]


def lookup(index: pd.Index, values: Any) -> Int64Array:
    """The position of each value in `index` (whose values are unique), -1 where absent."""
    if len(index) == 0:
        return np.full(len(values), -1, dtype=np.int64)
    if isinstance(values, np.ndarray) and values.dtype == object:
        # As an Index of objects: pandas would infer its `str` dtype for strings and convert
        # them to Arrow and back before looking them up.
        values = object_index(values)
    positions: Int64Array = index.get_indexer(values).astype(np.int64, copy=False)
    return positions


def status_mask(values: pd.Series, statuses: Sequence[str]) -> npt.NDArray[np.bool_]:
    """Whether each row's value is one of `statuses` (nulls are not)."""
    codes, categories = codes_of(values)
    wanted = np.zeros(len(categories) + 1, dtype=bool)  # the last slot stands for null (-1)
    wanted[:-1] = categories.isin(statuses)
    return wanted[codes]


def _lowest(values: npt.NDArray[Any]) -> Any:
    if values.dtype.kind == "f":
        return -np.inf
    return np.iinfo(values.dtype).min


def group_max(groups: Int64Array, values: npt.NDArray[Any], n_groups: int) -> npt.NDArray[Any]:
    """The largest value of each group 0..n_groups-1 (the dtype's lowest value when empty)."""
    best = np.full(n_groups, _lowest(values), dtype=values.dtype)
    np.maximum.at(best, groups, values)
    return best


def pick_last(
    groups: Int64Array,
    n_groups: int,
    keys: Sequence[npt.NDArray[Any]],
    ids: npt.NDArray[Any] | pd.Series,
) -> Int64Array:
    """For each group 0..n_groups-1, the row with the largest `keys` (compared in order), ties
    to the largest id in plain string order; -1 for a group without rows. Rows whose group is
    negative take no part. Keys must not be null.
    """
    rows = np.flatnonzero(groups >= 0)
    for key in keys:
        best = group_max(groups[rows], key[rows], n_groups)
        rows = rows[key[rows] == best[groups[rows]]]
    chosen = np.full(n_groups, -1, dtype=np.int64)
    tied = pd.Series(groups[rows]).duplicated(keep=False).to_numpy()
    chosen[groups[rows[~tied]]] = rows[~tied]
    if tied.any():
        # Rare: rows of one group equal on every key. Compare their ids, as Python strings.
        ties = rows[tied]
        id_values = ids.to_numpy()[ties] if isinstance(ids, pd.Series) else ids[ties]
        frame = pd.DataFrame({"group": groups[ties], "id": id_values.astype(object), "row": ties})
        last = frame.sort_values(["group", "id"]).drop_duplicates("group", keep="last")
        chosen[last["group"].to_numpy()] = last["row"].to_numpy()
    return chosen


# Largest a x b table held densely by pair_codes (32 M cells, 256 MB of int64).
_DENSE_CELLS = 1 << 25


def pair_codes(
    first: Int64Array, second: Int64Array, n_second: int
) -> tuple[Int64Array, Int64Array, Int64Array]:
    """Dense codes of (first, second) pairs (all >= 0), numbered in (first, second) order.

    Returns each row's pair code and, per pair, its first and second value.
    """
    key = first * n_second + second
    cells = (int(first.max()) + 1) * n_second if len(first) else 0
    if cells <= _DENSE_CELLS:
        present = np.flatnonzero(np.bincount(key, minlength=cells))
        number = np.zeros(cells, dtype=np.int64)
        number[present] = np.arange(len(present))
        codes, pairs = number[key], present
    else:
        codes, pairs = pd.factorize(key, sort=True)
    return codes.astype(np.int64, copy=False), pairs // n_second, pairs % n_second
