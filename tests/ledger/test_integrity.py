"""The integrity check a job runs as it opens the ledger, and how long a passed one stands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event

from stripe_cio import LedgerSettings
from stripe_cio.ledger import Ledger
from stripe_cio.ledger.diagnose import check_integrity


def test_a_passed_integrity_check_stands_for_the_given_time(tmp_path: Path) -> None:
    checks: list[str] = []

    def record(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        if "quick_check" in statement:
            checks.append(statement)

    with Ledger.open(LedgerSettings(database_url=f"sqlite:///{tmp_path / 'l.db'}")) as ledger:
        event.listen(ledger.engine, "before_cursor_execute", record)
        check_integrity(ledger.engine, every=3600, clock=lambda: 1_000_000)
        check_integrity(ledger.engine, every=3600, clock=lambda: 1_000_000 + 3599)
        assert len(checks) == 1, "within the hour the passed check stands"
        check_integrity(ledger.engine, every=3600, clock=lambda: 1_000_000 + 3600)
        check_integrity(ledger.engine)  # without `every`: every time
        assert len(checks) == 3
