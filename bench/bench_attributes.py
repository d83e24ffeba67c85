"""Attribute engine: all attributes from a ledger file (load included), next to DuckDB SQL.

    .venv/bin/python bench/bench_attributes.py                      # 100k persons, 2M charges
    .venv/bin/python bench/bench_attributes.py --persons 1000000 --charges 10000000 --runs 1

1. Builds a synthetic SQLite ledger (bench/_attribute_ledger.py; seeded, cached in --workdir).
2. Ours, in a fresh child process per run: open the ledger, `load_frames` (only the needed
   columns, compact dtypes) and `compute_attributes`; timed from opening the ledger to the
   finished DataFrame (interpreter start and imports not timed); peak RSS of that process.
3. Yardstick, in a fresh child process per run: DuckDB (in memory, its default threads) gets
   the same columns read with sqlite3 into pandas chunks (DuckDB cannot read SQLite here
   without downloading an extension), then runs the contract as SQL (bench/_attribute_sql.py)
   and returns a DataFrame; timed: load + SQL + fetch (SQL alone is printed too).
4. Compares the two outputs row for row and column for column; any difference fails loudly.
The last line: persons, charges, our seconds (wall and CPU), our peak GB, DuckDB seconds and
the ratio (medians over --runs); each run prints the load average next to its wall time.
Targets: 100k persons < 15 s and < 1.5 GB; 1M < 150 s and < 8 GB; ours within 3x of DuckDB.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._attribute_ledger import AS_OF, build_ledger

Measure = dict[str, float]


def _peak_gb() -> float:
    """This interpreter's own peak RSS in GB.

    Linux carries `ru_maxrss` across `exec`, so a spawned child would report its parent's peak
    at the fork when that is higher (the parent holds earlier runs' frames); the memory map's
    high-water mark (`VmHWM`) starts afresh at `exec`.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024**2  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # kB on Linux


def ours(path: Path) -> tuple[Measure, pd.DataFrame]:
    """Child process: our loader and transforms."""
    from stripe_cio import LedgerSettings
    from stripe_cio.attributes import compute_attributes, load_frames
    from stripe_cio.ledger import Ledger

    started, cpu_started = time.perf_counter(), time.process_time()
    ledger = Ledger.open(LedgerSettings(database_url=f"sqlite:///{path}"))
    frames = load_frames(ledger.engine)
    loaded = time.perf_counter()
    result = compute_attributes(frames, AS_OF)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    ledger.close()
    measure = {"seconds": seconds, "cpu": cpu, "load": loaded - started, "peak_gb": _peak_gb()}
    return measure, result.attributes


def yardstick(path: Path) -> tuple[Measure, pd.DataFrame]:
    """Child process: DuckDB loads the same columns and runs the contract as SQL."""
    import duckdb

    from bench._attribute_sql import duckdb_attributes, load_into_duckdb

    started = time.perf_counter()
    con = duckdb.connect()
    load_into_duckdb(path, con)
    loaded = time.perf_counter()
    frame = duckdb_attributes(con, AS_OF)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "sql": seconds - (loaded - started), "peak_gb": _peak_gb()}, frame


def _load_average() -> str:
    """The 1-minute load average: wall times on a shared machine mean little without it."""
    return Path("/proc/loadavg").read_text().split()[0]


def _child(target: str, path: Path, pipe: Any) -> None:
    measure, frame = globals()[target](path)
    pipe.send(measure)  # measured before the frame is pickled for the parent
    pipe.send(frame)


def in_child(target: str, path: Path) -> tuple[Measure, pd.DataFrame]:
    """Run `target` in a fresh spawned interpreter, so its peak RSS is its own."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(target, path, send))
    process.start()
    measure: Measure = receive.recv()
    frame: pd.DataFrame = receive.recv()
    process.join()
    if process.exitcode:
        raise SystemExit(f"{target} failed with exit code {process.exitcode}")
    return measure, frame


def _plain(value: Any) -> Any:
    """A cell as a comparable Python value: None for every kind of null."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def compare(ours_frame: pd.DataFrame, duck: pd.DataFrame, prefix: str = "stripe_") -> None:
    """Fail loudly unless both frames hold the same persons and the same values."""
    ours_frame = ours_frame.rename(columns=lambda name: str(name).removeprefix(prefix))
    if list(ours_frame.index) != list(duck.index):
        missing = set(ours_frame.index) ^ set(duck.index)
        raise SystemExit(f"MISMATCH: persons differ ({len(missing)}), e.g. {sorted(missing)[:5]}")
    if set(ours_frame.columns) != set(duck.columns):
        raise SystemExit(f"MISMATCH: columns {list(ours_frame.columns)} != {list(duck.columns)}")
    duck = duck[list(ours_frame.columns)]
    bad = []
    for column in ours_frame.columns:
        left = [_plain(v) for v in ours_frame[column].astype(object).tolist()]
        right = [_plain(v) for v in duck[column].astype(object).tolist()]
        rows = [i for i, (a, b) in enumerate(zip(left, right, strict=True)) if a != b]
        if rows:
            i = rows[0]
            example = f"{ours_frame.index[i]}: {left[i]!r} != {right[i]!r}"
            bad.append(f"{column}: {len(rows)} rows, e.g. {example}")
    if bad:
        raise SystemExit("MISMATCH with DuckDB:\n  " + "\n  ".join(bad))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--charges", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "stripe-cio-bench-attributes"
    )
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    path = args.workdir / f"ledger-{args.persons}-{args.charges}-{args.seed}.db"
    if not path.exists():
        print(f"building {path} ...", flush=True)
        started = time.perf_counter()
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        build_ledger(partial, args.persons, args.charges, seed=args.seed)
        partial.rename(path)
        print(f"  built in {time.perf_counter() - started:.0f}s", flush=True)
    print(f"ledger {path} ({path.stat().st_size / 1e9:.2f} GB)", flush=True)

    our_runs, duck_runs = [], []
    for run in range(args.runs):
        load_average = _load_average()
        mine, our_frame = in_child("ours", path)
        print(
            f"run {run + 1} ours: {mine['seconds']:.2f}s (load {mine['load']:.2f}s), "
            f"cpu {mine['cpu']:.2f}s, peak {mine['peak_gb']:.2f} GB, "
            f"load average {load_average}",
            flush=True,
        )
        duck, duck_frame = in_child("yardstick", path)
        print(
            f"run {run + 1} duckdb: {duck['seconds']:.2f}s (SQL {duck['sql']:.2f}s), "
            f"peak {duck['peak_gb']:.2f} GB",
            flush=True,
        )
        compare(our_frame, duck_frame)
        print(f"run {run + 1}: outputs agree with DuckDB row for row", flush=True)
        del our_frame, duck_frame
        our_runs.append(mine)
        duck_runs.append(duck)

    def median(runs: list[Measure], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    seconds, duck_seconds = median(our_runs, "seconds"), median(duck_runs, "seconds")
    print(
        f"persons={args.persons} charges={args.charges} ours_s={seconds:.2f} "
        f"ours_cpu_s={median(our_runs, 'cpu'):.2f} "
        f"peak_gb={median(our_runs, 'peak_gb'):.2f} duckdb_s={duck_seconds:.2f} "
        f"ratio={seconds / duck_seconds:.2f} (medians of {args.runs}; duckdb_sql_s="
        f"{median(duck_runs, 'sql'):.2f} duckdb_peak_gb={median(duck_runs, 'peak_gb'):.2f})"
    )


if __name__ == "__main__":
    main()
