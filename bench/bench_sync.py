"""The frequent sync against the ledger's size: ours (the touched persons' rows only) next to
the sync as it was, which recomputed every person's attributes to keep the touched ones.

    .venv/bin/python -m bench.bench_sync                      # 1M persons, and 100k; 1,000 events
    .venv/bin/python -m bench.bench_sync --persons 200000 --growth-persons 20000 --events 300

1. Starts the Stripe sandbox (a synthetic account of `--customers`, its clock at the synthetic
   ledger's present) and the Customer.io sandbox.
2. For each size (`--growth-persons`, then `--persons`): the attribute benchmark's synthetic
   ledger (bench/_attribute_ledger.py, `--charges-per-person` charges a person; cached in
   --workdir), into which the Stripe account is backfilled; one full computation records the
   rank cut-points (what the nightly enrich does) and a first sync sets the cursors.
3. The Stripe clock advances until at least `--events` new events wait: both ledgers then face
   the same events.
4. Each measured sync runs in a fresh child process on a fresh copy of the ready ledger: ours
   (`sync_job`), and the baseline, the same job with the attribute step as it was before (every
   person loaded and computed, then the touched persons kept). Timed: the job alone (no
   interpreter start, no Prefect); peak RSS of the child. The ledger's integrity check, which
   the preparation's sync passed, stands for a day: neither run reads the whole file for it.
5. Both must push the same persons with the same attributes, but for `rfm_segment`, which ours
   scores against the recorded cut-points (the nightly enrich scores everyone again) and the
   baseline against everyone now: the differing segments are counted and printed.
The last line: persons, events, our seconds, the baseline's, the ratio and our peak GB, at each
size, and the growth of our time from the smaller ledger to the larger (medians over --runs).
Targets at 1M persons and 1,000 events: ours < 3 s, >= 20x the baseline, < 1 GB; growth < 1.5x.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._attribute_ledger import AS_OF, build_ledger
from bench.bench_attributes import _load_average, _peak_gb

NOW = "2026-05-28T21:00:00Z"  # the Stripe account's present: just after the ledger's history
HOUR = 3600
Measure = dict[str, Any]


def connections(stripe_url: str, cio_url: str, ledger: Path) -> Any:
    from stripe_cio import CustomerIOSettings, LedgerSettings, StripeSettings
    from stripe_cio.jobs import Connections
    from stripe_cio.sandbox import SANDBOX_CIO_API_KEY, SANDBOX_CIO_SITE_ID, SANDBOX_STRIPE_KEY

    return Connections(
        ledger=LedgerSettings(database_url=f"sqlite:///{ledger}"),
        stripe=StripeSettings(api_key=SANDBOX_STRIPE_KEY, api_base=stripe_url),
        customerio=CustomerIOSettings.load(
            {"site_id": SANDBOX_CIO_SITE_ID, "api_key": SANDBOX_CIO_API_KEY, "track_url": cio_url}
        ),
    )


def stripe_now(stripe_url: str) -> int:
    now: int = httpx.get(f"{stripe_url}/_sandbox/clock", timeout=30).json()["now"]
    return now


def prepare(path: Path, stripe_url: str, cio_url: str) -> None:
    """Backfill the Stripe account into the synthetic ledger, record the rank cut-points as the
    nightly enrich would, and set the cursors with a first sync."""
    from stripe_cio.attributes import attribute_settings_from_env
    from stripe_cio.jobs import PlainRunner, backfill_job, plan_updates, sync_job
    from stripe_cio.ledger import Ledger

    conns = connections(stripe_url, cio_url, path)
    now = stripe_now(stripe_url)
    asyncio.run(backfill_job(conns, PlainRunner(), enrich=False))
    with Ledger.open(conns.ledger) as ledger:
        plan_updates(ledger, attribute_settings_from_env(), now, record_ranks=True)
    asyncio.run(sync_job(conns, PlainRunner(), clock=lambda: now))


def full_recompute(ledger: Any, settings: Any, as_of: int, touched: Any) -> Any:
    """The sync's attribute step before it read only the touched persons' rows: every person
    loaded and computed, then those the events touched kept."""
    from stripe_cio.attributes import compute_attributes, load_frames
    from stripe_cio.jobs.profiles import plan_frame_updates
    from stripe_cio.ledger import incomplete_customers
    from stripe_cio.runs.persons import touched_persons

    result = compute_attributes(load_frames(ledger.engine, settings), as_of, settings)
    frame = result.attributes
    frame = frame[frame.index.isin(touched_persons(frame, touched, settings))]
    incomplete = incomplete_customers(ledger.engine)
    return plan_frame_updates(ledger, settings, result, frame, incomplete)


def measured_sync(mode: str, path: Path, stripe_url: str, cio_url: str, now: int) -> Measure:
    """Child process: one sync on `path`, ours or the baseline; its time, peak and outcome."""
    import stripe_cio.jobs.sync as sync_module
    from stripe_cio.jobs import PlainRunner, sync_job
    from stripe_cio.ledger import Ledger, table

    if mode == "baseline":
        setattr(sync_module, "plan_touched_updates", full_recompute)  # noqa: B010
    conns = connections(stripe_url, cio_url, path)
    started = time.perf_counter()
    summary = asyncio.run(sync_job(conns, PlainRunner(), clock=lambda: now))
    seconds = time.perf_counter() - started
    with Ledger.open(conns.ledger) as ledger, ledger.engine.connect() as conn:
        snapshots = table("cio_person_snapshots")
        stored = {
            key: orjson.loads(value)
            for key, value in conn.execute(
                snapshots.select().with_only_columns(snapshots.c.person_key, snapshots.c.attributes)
            )
        }
    return {
        "seconds": seconds,
        "compute": summary.steps.get("compute attributes", 0.0),
        "peak_gb": _peak_gb(),
        "events": summary.stripe.get("events applied", 0),
        "persons_seen": summary.persons_seen,
        "persons_sent": summary.persons_sent,
        "snapshots": stored,
        "load": _load_average(),
    }


def _child(pipe: Any, *args: Any) -> None:
    pipe.send(measured_sync(*args))


def in_child(*args: Any) -> Measure:
    """Run one measured sync in a fresh spawned interpreter, so its peak RSS is its own."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(send, *args))
    process.start()
    measure: Measure = receive.recv()
    process.join()
    if process.exitcode:
        raise SystemExit(f"the {args[0]} sync failed with exit code {process.exitcode}")
    return measure


def new_events(stripe_url: str, since: int) -> int:
    """How many Stripe events were created at or after `since`."""
    from stripe_cio.sandbox import SANDBOX_STRIPE_KEY

    count, after = 0, None
    with httpx.Client(base_url=stripe_url, auth=(SANDBOX_STRIPE_KEY, ""), timeout=60) as http:
        while True:
            params: dict[str, Any] = {"limit": 100, "created[gte]": since}
            if after:
                params["starting_after"] = after
            page = http.get("/v1/events", params=params).raise_for_status().json()
            count += len(page["data"])
            if not page["has_more"]:
                return count
            after = page["data"][-1]["id"]


def without_ranks(snapshots: dict[str, Any]) -> tuple[str, int]:
    """A digest of the pushed attributes without `rfm_segment`, and how many persons."""
    plain = {key: {k: v for k, v in value.items() if not k.endswith("rfm_segment")}
             for key, value in snapshots.items()}  # fmt: skip
    return hashlib.sha256(orjson.dumps(plain, option=orjson.OPT_SORT_KEYS)).hexdigest(), len(plain)


def segments_apart(ours: dict[str, Any], baseline: dict[str, Any]) -> int:
    """Persons whose pushed `rfm_segment` differs between the two runs."""
    return sum(
        1
        for key, value in ours.items()
        if {k: v for k, v in value.items() if k.endswith("rfm_segment")}
        != {k: v for k, v in baseline.get(key, {}).items() if k.endswith("rfm_segment")}
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--growth-persons", type=int, default=100_000)
    parser.add_argument("--charges-per-person", type=int, default=10)
    parser.add_argument("--events", type=int, default=1_000)
    parser.add_argument("--customers", type=int, default=4_000, help="the Stripe account's")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "stripe-cio-bench"
    )
    args = parser.parse_args()
    from stripe_cio.sandbox import SandboxProcess

    args.workdir.mkdir(parents=True, exist_ok=True)
    sizes = sorted({args.growth_persons, args.persons})
    stripe_args = ["--customers", str(args.customers), "--months", "6", "--rps", "0"]
    with (
        SandboxProcess("stripe", *stripe_args, "--now", NOW) as stripe_box,
        SandboxProcess("customerio", "--rps", "0") as cio_box,
    ):
        ready: dict[int, Path] = {}
        for persons in sizes:
            charges = persons * args.charges_per_person
            base = args.workdir / f"attributes-{persons}-{charges}-{args.seed}.db"
            if not base.exists():
                print(f"building {base} ...", flush=True)
                started = time.perf_counter()
                build_ledger(base, persons, charges, seed=args.seed)
                print(f"  built in {time.perf_counter() - started:.0f}s", flush=True)
            ready[persons] = args.workdir / f"sync-ready-{persons}.db"
            shutil.copyfile(base, ready[persons])
            started = time.perf_counter()
            prepare(ready[persons], stripe_box.url, cio_box.url)
            print(f"{persons} persons: ready in {time.perf_counter() - started:.0f}s", flush=True)
        cursor = stripe_now(stripe_box.url)
        assert cursor >= AS_OF, "the Stripe account's present follows the ledger's history"
        for _ in range(24 * 30):
            if new_events(stripe_box.url, cursor) >= args.events:
                break
            httpx.post(
                f"{stripe_box.url}/_sandbox/advance", json={"seconds": HOUR}, timeout=120
            ).raise_for_status()
        now = stripe_now(stripe_box.url)
        waiting = new_events(stripe_box.url, cursor)
        print(f"{waiting} new Stripe events over {(now - cursor) / HOUR:.0f} hours", flush=True)

        results: dict[int, dict[str, list[Measure]]] = {}
        for persons in sizes:
            results[persons] = {"ours": [], "baseline": []}
            for run in range(args.runs):
                for mode in ("ours", "baseline"):
                    copy = args.workdir / f"sync-run-{persons}.db"
                    shutil.copyfile(ready[persons], copy)
                    httpx.post(f"{cio_box.url}/_sandbox/reset", timeout=60).raise_for_status()
                    measure = in_child(mode, copy, stripe_box.url, cio_box.url, now)
                    results[persons][mode].append(measure)
                    print(
                        f"{persons} persons, run {run + 1}, {mode}: {measure['seconds']:.2f}s "
                        f"(compute {measure['compute']:.2f}s), {measure['peak_gb']:.2f} GB, "
                        f"{measure['events']} events, {measure['persons_seen']} persons "
                        f"computed, {measure['persons_sent']} sent; load {measure['load']}",
                        flush=True,
                    )
                ours, baseline = results[persons]["ours"][-1], results[persons]["baseline"][-1]
                if without_ranks(ours["snapshots"]) != without_ranks(baseline["snapshots"]):
                    raise SystemExit(f"MISMATCH at {persons} persons: the pushes differ")
                apart = segments_apart(ours["snapshots"], baseline["snapshots"])
                print(
                    f"  same pushes ({len(ours['snapshots'])} persons); rfm_segment apart for "
                    f"{apart} (ours: the recorded cut-points)",
                    flush=True,
                )

    def median(persons: int, mode: str, key: str) -> float:
        return float(statistics.median(m[key] for m in results[persons][mode]))

    parts = []
    for persons in sizes:
        ours_s, base_s = median(persons, "ours", "seconds"), median(persons, "baseline", "seconds")
        parts.append(
            f"{persons} persons: {waiting} events, ours {ours_s:.2f}s, baseline {base_s:.2f}s, "
            f"{base_s / ours_s:.1f}x, peak {median(persons, 'ours', 'peak_gb'):.2f} GB"
        )
    growth = median(sizes[-1], "ours", "seconds") / median(sizes[0], "ours", "seconds")
    print(f"{'; '.join(parts)}; growth {sizes[0]}->{sizes[-1]}: {growth:.2f}x")


if __name__ == "__main__":
    main()
