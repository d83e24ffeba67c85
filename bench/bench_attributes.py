"""Attribute engine: all attributes from a ledger file (load included), in one pass and in
partitions, next to DuckDB SQL.

    .venv/bin/python bench/bench_attributes.py                      # 100k persons, 2M charges
    .venv/bin/python bench/bench_attributes.py --persons 1000000 --charges 10000000 --runs 1

1. Builds a synthetic SQLite ledger (bench/_attribute_ledger.py; seeded, cached in --workdir
   as ledger-<persons>-<charges>-<seed>.db).
2. Ours, the single pass, in a fresh child process per run: open the ledger, `load_frames`
   (only the needed columns, compact dtypes) and `compute_attributes`; timed from opening the
   ledger to the finished DataFrame (interpreter start and imports not timed); peak RSS of that
   process.
3. Ours in partitions (--partitions N, default 8; 0 or 1 leaves it out), in a fresh child
   process per run: what the nightly enrich does (stripe_cio/jobs/partitions.py) with every
   partition computed in this one process, one after another, as a single worker would:
   `write_partitions` (into a directory under --workdir), `compute_partition` for each partition,
   `everyones_cuts`, then `finished_partition` for each, dropped as soon as it is made (the
   job pushes it and drops it). Timed from opening the ledger to the last partition's finished
   attributes; the peak RSS is the largest of the phases' own peaks (the high-water mark reset
   at the start of the plan, of each partition, of the cuts and of the finish, where Linux
   allows it), all read before anything is collected. Each partition's wall and CPU seconds and
   each phase's time and peak are printed too. Not included: collecting the attributes for the
   comparison, which runs `finished_partition` again over the same files and cut-points
   (deterministic, so the same frames) and concatenates them (its time is printed apart),
   and `remove_files`.
4. Yardstick, in a fresh child process per run: DuckDB (in memory, its default threads) gets
   the same columns read with sqlite3 into pandas chunks (DuckDB cannot read SQLite here
   without downloading an extension), then runs the contract as SQL (bench/_attribute_sql.py)
   and returns a DataFrame; timed: load + SQL + fetch (SQL alone is printed too).
5. Compares the single pass with DuckDB, and the partitions' attributes together (sorted by
   person) with the single pass, row for row and column for column; any difference fails
   loudly (MISMATCH).
The last line: persons, charges, the single pass's seconds (wall and CPU) and peak GB, DuckDB
seconds and the ratio single / DuckDB, then the partitions' count, seconds, peak GB and the
ratio partitioned / single (medians over --runs); each run prints the load average.
Targets: 100k persons < 15 s and < 1.5 GB; 1M persons and 10M charges: the single pass < 25 s
and < 8 GB, in partitions a peak < 1 GB and a time within 1.3x of the single pass; the single
pass within 3x of DuckDB.
"""

from __future__ import annotations

import argparse
import contextlib
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

Measure = dict[str, Any]  # figures (float) and a few lists and flags


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


def _reset_peak() -> bool:
    """Start this interpreter's peak RSS afresh from its RSS now; whether Linux allowed it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # 5: reset the high-water mark
    except OSError:
        return False
    return True


def _rss_gb() -> float:
    """This interpreter's resident memory now, in GB (0 where /proc is not there)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024**2  # kB
    except OSError:
        pass
    return 0.0


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


def partitioned(path: Path, partitions: int) -> tuple[Measure, pd.DataFrame]:
    """Child process: the partitioned run, every partition in turn in this process."""
    from stripe_cio import LedgerSettings
    from stripe_cio.attributes import AttributeSettings
    from stripe_cio.jobs.partitions import (
        PartitionWork,
        compute_partition,
        everyones_cuts,
        finished_partition,
        remove_files,
        write_partitions,
    )
    from stripe_cio.ledger import Ledger

    ledger_settings = LedgerSettings(database_url=f"sqlite:///{path}")
    settings = AttributeSettings()
    directory = Path(tempfile.mkdtemp(prefix="partitions-", dir=path.parent))
    works: list[PartitionWork] = []
    base_gb = _rss_gb()  # interpreter and imports: what no partition size changes
    try:
        # Each phase's own peak (the high-water mark reset at its start) tells what grows with
        # the account (the plan, the cuts) from what grows with a partition.
        phases = _reset_peak()
        started, cpu_started = time.perf_counter(), time.process_time()
        ledger = Ledger.open(ledger_settings)
        works = write_partitions(ledger, settings, partitions, directory, AS_OF)
        planned, plan_peak = time.perf_counter(), _peak_gb()
        times, cpu_times, partition_peak = [], [], 0.0
        for work in works:
            _reset_peak()
            begun, cpu_begun = time.perf_counter(), time.process_time()
            compute_partition(settings, work)
            times.append(time.perf_counter() - begun)
            cpu_times.append(time.process_time() - cpu_begun)
            partition_peak = max(partition_peak, _peak_gb())
        computed = time.perf_counter()
        _reset_peak()
        cuts = everyones_cuts(works)
        cut, cuts_peak = time.perf_counter(), _peak_gb()
        _reset_peak()
        persons = 0
        for work in works:
            # Dropped at once, as the job drops each partition once pushed: holding them all
            # would add the whole account's attributes to the peak.
            persons += len(finished_partition(work, cuts, settings).attributes)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        finish_peak = _peak_gb()
        measure: Measure = {
            "seconds": seconds,
            "cpu": cpu,
            "plan": planned - started,
            "compute": computed - planned,
            "times": times,
            "cpu_times": cpu_times,
            "cuts": cut - computed,
            "finish": started + seconds - cut,
            "peak_gb": max(plan_peak, partition_peak, cuts_peak, finish_peak)
            if phases
            else finish_peak,
            "phase_peaks": phases,
            "plan_peak_gb": plan_peak,
            "partition_peak_gb": partition_peak,
            "cuts_peak_gb": cuts_peak,
            "finish_peak_gb": finish_peak,
            "base_gb": base_gb,
            "persons": persons,
        }
        ledger.close()
        collecting = time.perf_counter()
        frame = pd.concat(
            [finished_partition(work, cuts, settings).attributes for work in works]
        ).sort_index()
        measure["collect"] = time.perf_counter() - collecting
    finally:
        remove_files(works)
        with contextlib.suppress(OSError):  # no plan was written
            directory.rmdir()
    return measure, frame


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


def _child(target: str, path: Path, arguments: tuple[Any, ...], pipe: Any) -> None:
    measure, frame = globals()[target](path, *arguments)
    pipe.send(measure)  # measured before the frame is pickled for the parent
    pipe.send(frame)


def in_child(target: str, path: Path, *arguments: Any) -> tuple[Measure, pd.DataFrame]:
    """Run `target` in a fresh spawned interpreter, so its peak RSS is its own."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(target, path, arguments, send))
    process.start()
    try:
        measure: Measure = receive.recv()
        frame: pd.DataFrame = receive.recv()
    except EOFError:  # the child died before sending: its exit code says more
        measure, frame = {}, pd.DataFrame()
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


def compare(
    ours_frame: pd.DataFrame, other: pd.DataFrame, prefix: str = "stripe_", against: str = "DuckDB"
) -> None:
    """Fail loudly unless both frames hold the same persons, in the same order, and the same
    values (`prefix` is taken off our column names first)."""
    ours_frame = ours_frame.rename(columns=lambda name: str(name).removeprefix(prefix))
    if list(ours_frame.index) != list(other.index):
        missing = set(ours_frame.index) ^ set(other.index)
        if not missing and len(ours_frame) == len(other):
            raise SystemExit(f"MISMATCH with {against}: the same persons in another order")
        raise SystemExit(
            f"MISMATCH with {against}: persons differ ({len(missing)} in one only, "
            f"{len(ours_frame)} against {len(other)} rows), e.g. {sorted(missing)[:5]}"
        )
    if set(ours_frame.columns) != set(other.columns):
        raise SystemExit(
            f"MISMATCH with {against}: columns {list(ours_frame.columns)} != {list(other.columns)}"
        )
    other = other[list(ours_frame.columns)]
    bad = []
    for column in ours_frame.columns:
        left = [_plain(v) for v in ours_frame[column].astype(object).tolist()]
        right = [_plain(v) for v in other[column].astype(object).tolist()]
        rows = [i for i, (a, b) in enumerate(zip(left, right, strict=True)) if a != b]
        if rows:
            i = rows[0]
            example = f"{ours_frame.index[i]}: {left[i]!r} != {right[i]!r}"
            bad.append(f"{column}: {len(rows)} rows, e.g. {example}")
    if bad:
        raise SystemExit(f"MISMATCH with {against}:\n  " + "\n  ".join(bad))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--charges", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--partitions", type=int, default=8, help="partitions of the third run (0 or 1: none)"
    )
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

    our_runs, duck_runs, part_runs = [], [], []
    for run in range(args.runs):
        load_average = _load_average()
        mine, our_frame = in_child("ours", path)
        print(
            f"run {run + 1} ours: {mine['seconds']:.2f}s (load {mine['load']:.2f}s), "
            f"cpu {mine['cpu']:.2f}s, peak {mine['peak_gb']:.2f} GB, "
            f"load average {load_average}",
            flush=True,
        )
        if args.partitions > 1:
            load_average = _load_average()
            part, part_frame = in_child("partitioned", path, args.partitions)
            times = ", ".join(
                f"{t:.1f}/{c:.1f}" for t, c in zip(part["times"], part["cpu_times"], strict=True)
            )
            peaks = (
                f"plan {part['plan_peak_gb']:.2f}, partition {part['partition_peak_gb']:.2f}, "
                f"cuts {part['cuts_peak_gb']:.2f}, finish {part['finish_peak_gb']:.2f}"
                if part["phase_peaks"]
                else "phases not apart: /proc/self/clear_refs not writable"
            )
            print(
                f"run {run + 1} partitioned ({args.partitions}): {part['seconds']:.2f}s "
                f"(plan {part['plan']:.2f}s, compute {part['compute']:.2f}s [each wall/cpu: "
                f"{times}], cuts {part['cuts']:.2f}s, finish {part['finish']:.2f}s), "
                f"cpu {part['cpu']:.2f}s, "
                f"peak {part['peak_gb']:.2f} GB ({peaks}; imports {part['base_gb']:.2f} GB), "
                f"{part['seconds'] / mine['seconds']:.2f}x the single pass; collected for the "
                f"comparison in {part['collect']:.2f}s (not timed); load average {load_average}",
                flush=True,
            )
            compare(part_frame, our_frame, prefix="", against="the single pass")
            print(f"run {run + 1}: partitions agree with the single pass row for row", flush=True)
            del part_frame
            part_runs.append(part)
        load_average = _load_average()
        duck, duck_frame = in_child("yardstick", path)
        print(
            f"run {run + 1} duckdb: {duck['seconds']:.2f}s (SQL {duck['sql']:.2f}s), "
            f"peak {duck['peak_gb']:.2f} GB, load average {load_average}",
            flush=True,
        )
        compare(our_frame, duck_frame)
        print(f"run {run + 1}: outputs agree with DuckDB row for row", flush=True)
        del our_frame, duck_frame
        our_runs.append(mine)
        duck_runs.append(duck)

    def median(runs: list[Measure], key: str) -> float:
        return float(statistics.median(run[key] for run in runs))

    seconds, duck_seconds = median(our_runs, "seconds"), median(duck_runs, "seconds")
    partitions = ""
    if part_runs:
        part_seconds = median(part_runs, "seconds")
        partitions = (
            f" partitions={args.partitions} partitioned_s={part_seconds:.2f} "
            f"partitioned_peak_gb={median(part_runs, 'peak_gb'):.2f} "
            f"partitioned_ratio={part_seconds / seconds:.2f}"
        )
    print(
        f"persons={args.persons} charges={args.charges} ours_s={seconds:.2f} "
        f"ours_cpu_s={median(our_runs, 'cpu'):.2f} "
        f"peak_gb={median(our_runs, 'peak_gb'):.2f} duckdb_s={duck_seconds:.2f} "
        f"ratio={seconds / duck_seconds:.2f}{partitions} (medians of {args.runs}; duckdb_sql_s="
        f"{median(duck_runs, 'sql'):.2f} duckdb_peak_gb={median(duck_runs, 'peak_gb'):.2f})"
    )


if __name__ == "__main__":
    main()
