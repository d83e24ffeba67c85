"""The columnar load (Arrow record batches from the ADBC driver) gives exactly the frames of the
row load: the same columns, dtypes, categories in the same order, codes and values, on the
benchmark's synthetic ledger copied into PostgreSQL, and on SQLite's rows turned into batches."""

from __future__ import annotations

import itertools
import logging
import sqlite3
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import adbc_driver_manager
import adbc_driver_postgresql.dbapi  # type: ignore[import-untyped]
import pandas as pd
import psycopg
import pyarrow as pa
import pytest
from sqlalchemy import text

from bench._attribute_ledger import build_ledger
from stripe_cio import LedgerSettings
from stripe_cio.attributes import (
    FRAME_COLUMNS,
    AttributeSettings,
    LedgerFrames,
    LedgerReadError,
    PersonRows,
    load_frames,
)
from stripe_cio.attributes import load as loader
from stripe_cio.ledger import Ledger

IDENTIFIERS = ("email", "stripe_id", "metadata:user_id")
_databases = itertools.count()


@pytest.fixture(scope="module")
def sqlite_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The benchmark's synthetic ledger, small: guests, unknown customers, nulls of every kind."""
    path = tmp_path_factory.mktemp("columnar") / "ledger.db"
    build_ledger(path, persons=400, charges=5_000, seed=3)
    return path


def copy_to_postgres(path: Path, server: str) -> str:
    """A new PostgreSQL ledger holding the rows of the SQLite ledger at `path`; its URL."""
    name = f"columnar_{next(_databases)}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{server}/{name}"
    Ledger.open(LedgerSettings(database_url=url)).close()  # the schema, by the migrations
    with sqlite3.connect(path) as lite, psycopg.connect(url) as pg:
        for table in FRAME_COLUMNS:
            columns = ", ".join(row[1] for row in lite.execute(f"PRAGMA table_info({table})"))
            rows = lite.execute(f"SELECT {columns} FROM {table}")  # noqa: S608 (our names)
            with pg.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)  # SQLite's 0/1 are PostgreSQL booleans' text too
        pg.execute("ANALYZE")
    return url


@pytest.fixture(scope="module")
def pg_ledger(sqlite_path: Path, pg_server: str) -> Iterator[Ledger]:
    ledger = Ledger.open(LedgerSettings(database_url=copy_to_postgres(sqlite_path, pg_server)))
    yield ledger
    ledger.close()


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many batches and chunks per table, of different sizes on the two paths: categories and
    customer codes are then combined across them."""
    monkeypatch.setattr(loader, "BATCH_BYTES", 4_096)
    monkeypatch.setattr(loader, "CHUNK_ROWS", 333)


class Spy:
    """Counts the statements the columnar driver ran."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.statements = 0
        read = loader._arrow_chunks

        def counted(*args: Any) -> Iterator[Any]:
            self.statements += 1
            return read(*args)

        monkeypatch.setattr(loader, "_arrow_chunks", counted)


def by_rows(monkeypatch: pytest.MonkeyPatch, load: Callable[[], LedgerFrames]) -> LedgerFrames:
    """What `load` gives with the columnar driver out of the way."""
    with monkeypatch.context() as patch:
        patch.setattr(loader, "_columnar_frames", lambda engine, queries: None)
        return load()


def assert_identical(
    left: LedgerFrames, right: LedgerFrames, unordered: tuple[str, ...] = ()
) -> None:
    """The same frames, dtype by dtype, categories in the same order with the same codes; the
    tables in `unordered` hold the same rows in any order."""
    for name in FRAME_COLUMNS:
        ours, theirs = getattr(left, name), getattr(right, name)
        assert list(ours.columns) == list(theirs.columns) == list(FRAME_COLUMNS[name])
        if name in unordered:
            assert (ours.dtypes == theirs.dtypes).all(), name
            ours, theirs = (sorted_rows(frame) for frame in (ours, theirs))
            pd.testing.assert_frame_equal(ours, theirs, check_exact=True, check_categorical=False)
            continue
        for column in ours.columns:
            assert ours[column].dtype == theirs[column].dtype, f"{name}.{column}"
            if isinstance(ours[column].dtype, pd.CategoricalDtype):
                assert ours[column].cat.codes.dtype == theirs[column].cat.codes.dtype
                assert list(ours[column].cat.categories) == list(theirs[column].cat.categories)
                assert ours[column].cat.codes.tolist() == theirs[column].cat.codes.tolist()
        pd.testing.assert_frame_equal(ours, theirs, check_exact=True)


def sorted_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of `frame` in the order of their values (nulls last)."""
    keys = frame.astype(object).fillna("\uffff").astype(str)
    return frame.loc[keys.sort_values(list(keys.columns)).index].reset_index(drop=True)


@pytest.mark.parametrize("identifier", IDENTIFIERS)
@pytest.mark.usefixtures("small_batches")
def test_postgresql_columnar_frames_equal_the_row_frames(
    pg_ledger: Ledger, identifier: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = AttributeSettings(identifier=identifier)
    spy = Spy(monkeypatch)
    columnar = load_frames(pg_ledger.engine, settings)
    assert spy.statements == len(FRAME_COLUMNS)
    rows = by_rows(monkeypatch, lambda: load_frames(pg_ledger.engine, settings))
    assert spy.statements == len(FRAME_COLUMNS)
    assert len(columnar.charges) == 5_000
    # The ledger has what the conversions must get right: nulls and unknown customers.
    assert columnar.customers["currency"].isna().any()
    assert columnar.subscriptions["canceled_at"].isna().any()
    guests, values = columnar.charges["billing_email"], columnar.customers["metadata_value"]
    assert guests.notna().any() == (identifier == "email")
    assert values.notna().any() == (identifier == "metadata:user_id")
    assert (columnar.charges["customer"].cat.codes >= len(columnar.customers)).any()
    # A cursor is planned for its first rows, COPY for all: the join may come in another order.
    assert_identical(columnar, rows, unordered=("disputes",))


def test_postgresql_columnar_frames_equal_sqlites(
    pg_ledger: Ledger, sqlite_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(monkeypatch)
    columnar = load_frames(pg_ledger.engine)
    assert spy.statements == len(FRAME_COLUMNS)
    with Ledger.open(LedgerSettings(database_url=f"sqlite:///{sqlite_path}")) as lite:
        rows = load_frames(lite.engine)
    assert spy.statements == len(FRAME_COLUMNS)  # SQLite reads rows
    for name, columns in FRAME_COLUMNS.items():
        keys = list(columns)[:2]
        left = getattr(columnar, name).sort_values(keys, ignore_index=True)
        right = getattr(rows, name).sort_values(keys, ignore_index=True)
        pd.testing.assert_frame_equal(left, right, check_categorical=False)


def test_a_partial_load_reads_rows_on_its_own_connection(
    pg_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(monkeypatch)
    everyone = load_frames(pg_ledger.engine)
    some = list(everyone.customers["id"][:5])
    partial = load_frames(pg_ledger.engine, rows=PersonRows(customers=frozenset(some)))
    assert spy.statements == len(FRAME_COLUMNS)  # the full load's only
    assert sorted(partial.customers["id"]) == sorted(some)


def test_a_failing_columnar_driver_leaves_the_rows_to_read(
    pg_ledger: Ledger, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise adbc_driver_manager.OperationalError(
            "connection refused", status_code=adbc_driver_manager.AdbcStatusCode.IO
        )

    rows = by_rows(monkeypatch, lambda: load_frames(pg_ledger.engine))
    monkeypatch.setattr(adbc_driver_postgresql.dbapi, "connect", refuse)
    with caplog.at_level(logging.WARNING, logger=loader.__name__):
        frames = load_frames(pg_ledger.engine)
    assert "columnar read of the ledger failed (connection refused)" in caplog.text
    assert_identical(frames, rows)  # both read rows


def test_without_the_extra_postgresql_reads_rows(
    pg_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = by_rows(monkeypatch, lambda: load_frames(pg_ledger.engine))
    spy = Spy(monkeypatch)
    monkeypatch.setitem(sys.modules, "adbc_driver_postgresql.dbapi", None)  # as if not installed
    assert_identical(load_frames(pg_ledger.engine), rows)
    assert spy.statements == 0


def test_a_null_the_normalisers_never_write_is_the_same_error_read_columnar(
    sqlite_path: Path, pg_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Ledger.open(LedgerSettings(database_url=copy_to_postgres(sqlite_path, pg_server))) as pg:
        with pg.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO charges (id, observed_at, raw, status, amount, amount_captured,"
                    " amount_refunded, currency) VALUES ('ch_x', 1, '{}', 'succeeded', 1, 1, 0,"
                    " 'usd')"
                )
            )
        spy = Spy(monkeypatch)
        expected = r"^cannot read the ledger: column charges.created has 1 null values; "
        with pytest.raises(LedgerReadError, match=expected):
            load_frames(pg.engine)
        assert spy.statements == 2  # customers, then charges
        with pytest.raises(LedgerReadError, match=expected):
            by_rows(monkeypatch, lambda: load_frames(pg.engine))


def _batch(rows: list[Any], width: int) -> Any:
    """Row tuples as one record batch, each column's type inferred from its Python values (a
    column of nulls has Arrow's null type)."""
    columns = list(zip(*rows, strict=True))
    return pa.RecordBatch.from_arrays(
        [pa.array(list(values)) for values in columns], names=[f"c{n}" for n in range(width)]
    )


@pytest.mark.parametrize("size", [1, 97, 100_000])
@pytest.mark.parametrize("identifier", IDENTIFIERS)
def test_record_batches_convert_as_rows_do(sqlite_path: Path, identifier: str, size: int) -> None:
    """Without a server: SQLite's rows, as tuples and as record batches of `size` rows."""
    settings = AttributeSettings(identifier=identifier)
    with (
        Ledger.open(LedgerSettings(database_url=f"sqlite:///{sqlite_path}")) as ledger,
        ledger.engine.connect() as connection,
    ):
        queries = loader._selects(connection, settings, None)
        results = {
            name: [tuple(row) for row in connection.execute(query)]
            for name, query in queries.items()
        }
        loaded = load_frames(ledger.engine, settings)

    def chunks(arrow: bool) -> Callable[[str], Iterator[Any]]:
        def of(name: str) -> Iterator[Any]:
            rows, width = results[name], len(FRAME_COLUMNS[name])
            for start in range(0, len(rows), size):
                part = rows[start : start + size]
                yield loader._ArrowChunk(_batch(part, width)) if arrow else loader._RowChunk(part)

        return of

    columnar = loader._frames(results, chunks(arrow=True))
    assert_identical(columnar, loader._frames(results, chunks(arrow=False)))
    assert_identical(columnar, loaded)
