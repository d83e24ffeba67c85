"""Minor units to major units per currency, and exact half-to-even rounding of quotients."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
import pandas as pd

from .groups import Int64Array, codes_of, lookup, object_index, take

# Stripe's zero-decimal and three-decimal currencies; every other currency has two decimals in
# the API (ISK too, although it is charged in whole units). Lower case, as the API sends them.
# Source: https://docs.stripe.com/currencies ("Zero-decimal currencies", "Three-decimal
# currencies").
_ZERO_DECIMAL = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)
_THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])


def exponent(currency: str) -> int:
    """The number of decimals of `currency` in Stripe's API (minor units = major x 10^e)."""
    if currency in _ZERO_DECIMAL:
        return 0
    if currency in _THREE_DECIMAL:
        return 3
    return 2


def currency_exponents(currencies: Iterable[str]) -> npt.NDArray[np.int64]:
    """The exponent of each currency code, in order."""
    return np.array([exponent(code) for code in currencies], dtype=np.int64)


def round_half_even_div(
    numerator: npt.NDArray[np.int64], denominator: npt.NDArray[np.int64] | int
) -> npt.NDArray[np.int64]:
    """numerator / denominator rounded to an integer, half to even, exactly (denominator > 0)."""
    quotient, remainder = np.divmod(numerator, denominator)
    twice = 2 * remainder
    up = (twice > denominator) | ((twice == denominator) & (quotient % 2 == 1))
    rounded: npt.NDArray[np.int64] = quotient + up
    return rounded


def to_major(
    minor: npt.NDArray[np.int64], exponents: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Integer minor units to major units: the double nearest to minor / 10^e."""
    # Division by an exact power of ten is correctly rounded, so 1999 / 100 is the double
    # closest to 19.99, as a decimal literal would be.
    return minor / np.power(10.0, exponents)


def currency_vocabulary(*columns: pd.Series) -> pd.Index:
    """Every currency code appearing in `columns`, sorted: the currency codes of a run."""
    seen: set[str] = set()
    for column in columns:
        seen.update(str(code) for code in codes_of(column)[1])
    return object_index(sorted(seen))


def currency_codes(column: pd.Series, vocabulary: pd.Index) -> Int64Array:
    """Each row's position in `vocabulary` (-1 for null)."""
    codes, categories = codes_of(column)
    return take(lookup(vocabulary, categories.to_numpy(dtype=object)), codes, -1)
