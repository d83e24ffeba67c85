"""The ledger's bulk write cost for charges: the straightforward path vs the ledger's own.

    .venv/bin/python bench/bench_ledger_write.py [--charges 200000] [--database-url URL]

Every path writes the same realistic charges (Stripe's example charge from fixtures3.json,
varied: random ids, ~8 charges per customer, a payment intent each, failures, partial refunds,
four currencies, one in a thousand rejected for a negative amount), delivered as the list API
delivers them: pages of 100, newest first. Pages are generated outside the timed sections.

1. Baseline `straightforward`: each page in its own transaction; every object serialised and
   normalised by the careful normaliser into a dict, upserted with SQLAlchemy Core
   (`INSERT .. ON CONFLICT (id) DO UPDATE .. WHERE` newer) and the rejects inserted, on an
   engine with the ledger's original SQLite settings (see `_straightforward_engine`).
2. `ledger_per_page`: `Ledger.write_objects` once per page (what a writer that never merges
   pages would do).
3. `ledger`: `Ledger.write_objects` on `--batch` objects at a time: what the backfill's writer
   does, gathering pages into batches of `WRITE_BATCH` (5,000) objects
   (`stripe_cio/extract/writer.py`).

Each path starts from an empty ledger; then the ledgers are compared row for row (a digest of
every column of `charges`, and of the rejects), and the run fails (MISMATCH) if they differ.
CPU time is this process's (`time.process_time`, summed over the write calls only); rows/s is
wall clock over the same calls. The last line leads with the fair ratio, the ledger's per-page
path to the baseline, then the batched path's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, and_, create_engine, event, make_url, or_, text
from sqlalchemy.dialects import postgresql, sqlite

from stripe_cio import LedgerSettings
from stripe_cio.extract.writer import WRITE_BATCH
from stripe_cio.ledger import Ledger
from stripe_cio.ledger.normalise import Normalised, normalise_charge
from stripe_cio.ledger.tables import LEDGER_METADATA, table

# Stripe's published example objects (MIT), vendored with the tests.
FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "data" / "stripe" / "fixtures3.json"
PAGE = 100  # objects per page of Stripe's list API
OBSERVED_AT = 1_800_000_000

Page = list[dict[str, Any]]


def charge_pages(total: int, seed: int = 7) -> Iterator[Page]:
    """`total` charges shaped like Stripe's example, in pages of 100, newest first."""
    template = json.loads(FIXTURES.read_text())["resources"]["charge"]
    rng = random.Random(seed)
    customers = [_stripe_id(rng, "cus") for _ in range(max(1, total // 8))]
    emails = [f"customer{n}@example.com" for n in range(len(customers))]
    newest = 1_750_000_000
    page: Page = []
    for n in range(total):
        who = rng.randrange(len(customers))
        amount = rng.randrange(100, 200_000)
        failed = rng.random() < 0.08
        refunded = 0 if failed or rng.random() > 0.05 else rng.randrange(1, amount + 1)
        charge_id = _stripe_id(rng, "ch")
        charge = {
            **template,
            "id": charge_id,
            "created": newest - 37 * n,
            "customer": customers[who],
            "payment_intent": _stripe_id(rng, "pi"),
            "amount": -amount if n % 1000 == 999 else amount,
            "amount_captured": 0 if failed else amount,
            "amount_refunded": refunded,
            "refunded": refunded == amount,
            "captured": not failed,
            "paid": not failed,
            "status": "failed" if failed else "succeeded",
            "currency": ("usd", "eur", "gbp", "jpy")[who % 4],
            "failure_code": "card_declined" if failed else None,
            "failure_message": "Your card was declined." if failed else None,
            "billing_details": {**template["billing_details"], "email": emails[who]},
            "outcome": {**template["outcome"], "reason": "generic_decline" if failed else None},
            "receipt_url": f"https://pay.stripe.com/receipts/payment/{charge_id[3:]}",
        }
        page.append(charge)
        if len(page) == PAGE:
            yield page
            page = []
    if page:
        yield page


def _stripe_id(rng: random.Random, prefix: str) -> str:
    # Stripe ids are random: sequential ones would flatter every index on them.
    return f"{prefix}_{rng.getrandbits(96):024x}"


# --- the baseline: the straightforward path -------------------------------------------------


def _straightforward_engine(url: str) -> Engine:
    """An engine with the ledger's SQLite settings as first shipped, so the baseline stays put."""
    if not url.startswith("sqlite"):
        return create_engine(url)
    engine = create_engine(url, connect_args={"timeout": 60.0})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        for pragma in (
            "page_size=16384",
            "cache_size=-65536",
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "busy_timeout=60000",
        ):
            dbapi_connection.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def straightforward_writer(url: str) -> tuple[Callable[[Page], None], Callable[[], None]]:
    """Write one page per transaction: normalise to dicts, Core upsert, insert the rejects."""
    engine = _straightforward_engine(url)
    charges, rejects = table("charges"), table("rejects")
    dialect = postgresql if url.startswith("postgresql") else sqlite
    insert = dialect.insert(charges)
    newer = or_(
        insert.excluded.observed_at > charges.c.observed_at,
        and_(
            insert.excluded.observed_at == charges.c.observed_at,
            insert.excluded.raw != charges.c.raw,
        ),
    )
    upsert = insert.on_conflict_do_update(
        index_elements=[charges.c.id],
        set_={c.name: insert.excluded[c.name] for c in charges.c if c.name != "id"},
        where=newer,
    )

    def write(page: Page) -> None:
        rows, bad = {}, []
        for obj in page:
            raw = orjson.dumps(obj).decode()
            result = normalise_charge(obj, None)
            if isinstance(result, Normalised):
                rows[result.row["id"]] = result.row | {"observed_at": OBSERVED_AT, "raw": raw}
            else:
                bad.append(
                    {
                        "resource": "charges",
                        "object_id": obj.get("id"),
                        "reason": result.reason,
                        "raw": raw,
                        "created_at": int(time.time()),
                    }
                )
        with engine.begin() as conn:
            conn.execute(upsert, [rows[key] for key in sorted(rows)])
            if bad:
                conn.execute(rejects.insert(), bad)

    return write, engine.dispose


# --- the ledger's paths ---------------------------------------------------------------------


def ledger_writer(url: str) -> tuple[Callable[[Page], None], Callable[[], None]]:
    ledger = Ledger.open(LedgerSettings(database_url=url))

    def write(objects: Page) -> None:
        ledger.write_objects("charges", objects, observed_at=OBSERVED_AT)

    return write, ledger.close


# --- running and comparing ------------------------------------------------------------------


def run(
    make_writer: Callable[[str], tuple[Callable[[Page], None], Callable[[], None]]],
    url: str,
    total: int,
    batch: int,
) -> dict[str, float]:
    """Write `total` charges in calls of `batch` objects; CPU and wall time of the calls only."""
    write, close = make_writer(url)
    cpu = wall = 0.0
    pending: Page = []
    try:
        for page in charge_pages(total):
            pending.extend(page)
            if len(pending) < batch:
                continue
            cpu, wall = _timed(write, pending, cpu, wall)
            pending = []
        if pending:
            cpu, wall = _timed(write, pending, cpu, wall)
    finally:
        close()
    return {"us_per_row": cpu / total * 1e6, "rows_per_s": total / wall, "seconds": wall}


def _timed(
    write: Callable[[Page], None], objects: Page, cpu: float, wall: float
) -> tuple[float, float]:
    started_cpu, started = time.process_time(), time.perf_counter()
    write(objects)
    return cpu + time.process_time() - started_cpu, wall + time.perf_counter() - started


def digest(url: str) -> str:
    """A digest of every charge row and every reject (without its id and clock), in id order.

    Streamed, so that comparing ledgers never holds them in memory (which would also slow the
    paths measured after it through the garbage collector).
    """
    engine = create_engine(url)
    hasher = hashlib.blake2b(digest_size=16)
    queries = (
        "SELECT * FROM charges ORDER BY id",
        "SELECT resource, object_id, reason, raw FROM rejects ORDER BY object_id",
    )
    try:
        with engine.connect() as conn:
            for query in queries:
                for row in conn.execution_options(yield_per=1000).execute(text(query)):
                    hasher.update(repr(tuple(row)).encode())
    finally:
        engine.dispose()
    return hasher.hexdigest()


def empty_ledger(base: str | None, folder: Path, name: str, *, original: bool) -> str:
    """The URL of an empty ledger: a new SQLite file, or the given PostgreSQL database emptied.

    `original`: the SQLite file gets the page size the ledger first shipped with (the page size
    is fixed when the first table is created), so that the baseline stays the baseline.
    """
    if base is None:
        url = f"sqlite:///{folder / name}.db"
        if original:
            connection = sqlite3.connect(folder / f"{name}.db")
            connection.execute("PRAGMA page_size=16384")
            connection.execute("PRAGMA journal_mode=WAL")
            connection.close()
    else:
        url = base
        engine = create_engine(base)
        try:
            with engine.begin() as conn:
                LEDGER_METADATA.drop_all(conn)
        finally:
            engine.dispose()
    Ledger.open(LedgerSettings(database_url=url)).close()  # creates the schema
    return url


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charges", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=WRITE_BATCH)
    parser.add_argument(
        "--database-url",
        help="an empty PostgreSQL database to use (emptied before each path); default SQLite",
    )
    args = parser.parse_args(argv)
    base = args.database_url
    if base is not None and make_url(base).get_backend_name() != "postgresql":
        parser.error("--database-url takes a PostgreSQL URL (SQLite files are made here)")
    paths: dict[str, tuple[Callable[[str], Any], int]] = {
        "straightforward": (straightforward_writer, PAGE),
        "ledger_per_page": (ledger_writer, PAGE),
        "ledger": (ledger_writer, args.batch),
    }
    results: dict[str, dict[str, float]] = {}
    digests = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, (make_writer, batch) in paths.items():
            url = empty_ledger(base, Path(folder), name, original=name == "straightforward")
            results[name] = run(make_writer, url, args.charges, batch)
            digests[name] = digest(url)
            figures = results[name]
            print(
                f"{name}: {figures['us_per_row']:.1f} us/row CPU, "
                f"{figures['rows_per_s']:,.0f} rows/s, {figures['seconds']:.1f} s",
                flush=True,
            )
    if len(set(digests.values())) != 1:
        # A faster path that writes other rows proves nothing: no figures, a failure.
        raise SystemExit(f"MISMATCH: the ledgers differ after writing the same pages: {digests}")
    old, per_page, new = results["straightforward"], results["ledger_per_page"], results["ledger"]
    dialect = "sqlite" if base is None else "postgresql"
    # The headline is the fair comparison, page for page as the baseline writes; batching the
    # pages (what the backfill's writer does) comes second.
    print(
        f"{dialect} charges={args.charges} batch={args.batch} "
        f"cpu_ratio_per_page={old['us_per_row'] / per_page['us_per_row']:.2f}x "
        f"straightforward_us_per_row={old['us_per_row']:.1f} "
        f"ledger_per_page_us_per_row={per_page['us_per_row']:.1f} "
        f"straightforward_rows_per_s={old['rows_per_s']:.0f} "
        f"ledger_us_per_row={new['us_per_row']:.1f} ledger_rows_per_s={new['rows_per_s']:.0f} "
        f"cpu_ratio_batched={old['us_per_row'] / new['us_per_row']:.2f}x "
        f"rate_ratio_batched={new['rows_per_s'] / old['rows_per_s']:.2f}x identical=True"
    )


if __name__ == "__main__":
    main()
