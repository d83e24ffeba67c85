"""The attribute benchmark's agreement check at a small size: the pandas computation and the
DuckDB contract (`bench/_attribute_sql.py`, written independently as SQL) give the same
attributes, row for row, on the benchmark's synthetic ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench._attribute_ledger import build_ledger
from bench.bench_attributes import compare, ours, yardstick


@pytest.mark.parametrize("seed", [7, 11])
def test_the_attributes_equal_the_duckdb_contract_row_for_row(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "ledger.db"
    build_ledger(path, persons=2_000, charges=20_000, seed=seed)
    _, computed = ours(path)
    _, contract = yardstick(path)
    assert len(computed) > 1_000
    try:
        compare(computed, contract)
    except SystemExit as mismatch:  # the benchmark's way of failing loudly
        pytest.fail(str(mismatch))
    # The check sees a difference of one in one cell.
    broken = computed.copy()
    person = broken.index[0]
    count: Any = computed.at[person, "stripe_purchase_count"]
    broken.loc[person, "stripe_purchase_count"] = int(count) + 1
    with pytest.raises(SystemExit, match="MISMATCH"):
        compare(broken, contract)
