"""A person's attributes as the JSON-ready dict to send: absent values left out."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd


def _plain(value: Any) -> Any:
    """A numpy or pandas scalar as the Python value JSON takes; None when absent."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, dict | list):
        return value
    if isinstance(value, float | np.floating) and np.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def attribute_dict(row: Mapping[str, Any] | pd.Series) -> dict[str, Any]:
    """The attributes of one row of the attribute frame, without the absent ones."""
    items = row.items()
    return {str(name): plain for name, value in items if (plain := _plain(value)) is not None}


def attribute_dicts(frame: pd.DataFrame) -> Iterator[tuple[str, dict[str, Any]]]:
    """(person, attributes to send) for every row of the attribute frame, in order."""
    columns = list(frame.columns)
    for person, values in zip(frame.index, frame.itertuples(index=False, name=None), strict=True):
        yield str(person), attribute_dict(dict(zip(columns, values, strict=True)))
