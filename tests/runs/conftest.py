"""Run fixtures: the ledger tests' throwaway PostgreSQL cluster, shared rather than copied."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any


def _ledger_conftest() -> Any:
    path = Path(__file__).parents[1] / "ledger" / "conftest.py"
    spec = importlib.util.spec_from_file_location("_ledger_fixtures_runs", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_pg = _ledger_conftest()
pg_server, pg_url = _pg.pg_server, _pg.pg_url
