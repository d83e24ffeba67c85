"""ULID encoding: the layout of the spec, ordered by time, validated by the shared pattern."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stripe_cio import ULID_PATTERN, encode_ulid


def test_known_value() -> None:
    # The spec's example time 1469918176385 ms encodes as 01ARYZ6S41 (https://github.com/ulid/spec)
    assert encode_ulid(1_469_918_176_385, 0) == "01ARYZ6S41" + "0" * 16
    assert encode_ulid((1 << 48) - 1, (1 << 80) - 1) == "7" + "Z" * 25


@given(st.integers(0, (1 << 48) - 1), st.integers(0, (1 << 80) - 1))
def test_every_ulid_matches_the_pattern(millis: int, randomness: int) -> None:
    assert ULID_PATTERN.fullmatch(encode_ulid(millis, randomness))


@given(st.integers(0, (1 << 48) - 2), st.integers(0, (1 << 80) - 1), st.integers(0, (1 << 80) - 1))
def test_later_time_sorts_later(millis: int, first: int, second: int) -> None:
    assert encode_ulid(millis, first) < encode_ulid(millis + 1, second)


@pytest.mark.parametrize(("millis", "randomness"), [(-1, 0), (1 << 48, 0), (0, -1), (0, 1 << 80)])
def test_out_of_range_parts_are_refused(millis: int, randomness: int) -> None:
    with pytest.raises(ValueError, match="ULID"):
        encode_ulid(millis, randomness)
