"""Measures the ledger's bulk write rate for charges (run by hand; not a test, never timed in CI).

Usage: .venv/bin/python tests/ledger/measure_write_rate.py [DATABASE_URL] [N]
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from stripe_cio import LedgerSettings
from stripe_cio.ledger import Ledger

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "stripe" / "fixtures3.json"


def charges(n: int) -> list[dict[str, Any]]:
    """`n` distinct charges shaped like Stripe's published example."""
    base = json.loads(FIXTURES.read_text())["resources"]["charge"]
    out = []
    for i in range(n):
        charge = copy.deepcopy(base)
        charge.update(
            # Stripe ids are random: sequential ones would flatter the id index.
            id="ch_" + hashlib.blake2b(str(i).encode(), digest_size=12).hexdigest(),
            created=1_700_000_000 + i,
            customer=f"cus_{i % 5000:08d}",
            amount=1000 + i % 997,
            amount_captured=1000 + i % 997,
        )
        out.append(charge)
    return out


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else ""
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    tmp = tempfile.mkdtemp()
    url = url or f"sqlite:///{tmp}/ledger.db"
    objects = charges(n)
    ledger = Ledger.open(LedgerSettings(database_url=url))
    page = 10_000
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, n, page):
        ledger.write_objects("charges", objects[start : start + page], observed_at=1_800_000_000)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    again = time.perf_counter()
    result = ledger.write_objects("charges", objects[:page], observed_at=1_800_000_000)
    rewrite = time.perf_counter() - again
    ledger.close()
    print(
        f"{n} charges in {elapsed:.2f} s: {n / elapsed:,.0f} rows/s wall clock, "
        f"{n / cpu:,.0f} rows per CPU second "
        f"(rewrite of {page} unchanged: {page / rewrite:,.0f} rows/s, {result.unchanged} unchanged)"
    )


if __name__ == "__main__":
    main()
