"""The backfill and delivery benchmarks at a tiny size: their fair baselines do the same work as
ours, under the same rate limit, and the last line leads with the figures and ratios against
them. No timing is asserted: only what was done and how it is reported."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from pathlib import Path

import orjson

from bench._baseline_pool import ThreadRateLimiter, of_ceiling
from bench.bench_delivery import items_per_batch, official_operations, persons
from stripe_cio.cio_api import MAX_BATCH_BYTES, batch_body

ROOT = Path(__file__).resolve().parents[2]
FIGURE = re.compile(r"(\w+)=(\S+)")


def last_line(script: str, *args: str) -> str:
    """Run `bench/<script>` with `args` and return its last line of output."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def test_the_limiter_gives_every_thread_its_own_slot_at_our_clients_spacing() -> None:
    """200 acquisitions from 8 threads at 100/s, the clock standing still: one slot each."""
    slept: list[float] = []
    limiter = ThreadRateLimiter(100.0, clock=lambda: 50.0, sleep=slept.append)

    def take() -> None:
        for _ in range(25):
            limiter.acquire()

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # The first slot is now (no sleep); every later one is 10 ms after the one before.
    assert sorted(round(delay * 100) for delay in slept) == list(range(1, 200))
    assert round(limiter.waited, 6) == round(sum(slept), 6)


def test_of_ceiling_prints_a_percentage() -> None:
    assert of_ceiling(8_858, 10_000) == "88.6%"
    assert of_ceiling(1.0, 0.0) == "n/a"


def test_the_official_batches_keep_our_items_in_order_under_our_limit() -> None:
    """Re-packed in the official client's wider encoding, every batch stays under the limit
    our packer keeps, and the items are ours, in the order we sent them."""
    people = [
        {"type": "person", "identifiers": p.identifiers, "action": "identify",
         "attributes": dict(p.attributes)}
        for p in persons(3_000)
    ]  # fmt: skip
    bodies: list[bytes] = []
    batch: list[bytes] = []
    for item in map(orjson.dumps, people):  # our own batches: full by our compact encoding
        if batch and len(batch_body([*batch, item])) > MAX_BATCH_BYTES:
            bodies.append(batch_body(batch))
            batch = []
        batch.append(item)
    bodies.append(batch_body(batch))
    repacked = official_operations(bodies)
    assert [item for b in repacked for item in b] == people
    assert all(len(json.dumps({"batch": b})) <= MAX_BATCH_BYTES for b in repacked)
    assert len(repacked) >= len(bodies)  # its encoding is wider, never narrower
    # The ceiling's items per batch: what fits of items this size, about what ours carried.
    carried = len(orjson.loads(bodies[0])["batch"])
    assert abs(items_per_batch(bodies) - carried) <= 0.01 * carried


def test_the_backfill_benchmark_leads_with_the_fair_baseline() -> None:
    line = last_line(
        "bench_backfill.py",
        *("--customers", "120", "--months", "2", "--latency-ms", "2", "--workers", "4"),
    )
    figures = dict(FIGURE.findall(line))
    keys = [key for key, _ in FIGURE.findall(line)]
    assert keys[:6] == [
        "charges",
        "ours_objects_per_s",
        "sdk_fair_objects_per_s",
        "vs_sdk_fair",
        "sdk_sequential_objects_per_s",
        "vs_sdk_sequential",
    ]
    charges = int(figures["charges"])
    assert charges > 0
    assert int(figures["stored"]) == charges
    assert figures["ceiling"] == "10000"  # 100 requests/s x 100 objects a page
    for key in ("of_ceiling", "sdk_fair_of_ceiling", "sdk_sequential_of_ceiling"):
        assert figures[key].endswith("%")
    # The fair baseline read and stored every charge ours did, with the workers ours had.
    paged = re.search(
        r"sdk paged (\d+)/(\d+), stored (\d+)/(\d+), (\d+) slices, (\d+) threads", line
    )
    assert paged is not None
    fair_paged, seq_paged, fair_stored, seq_stored, slices, threads = map(int, paged.groups())
    assert fair_paged == fair_stored == charges
    assert 0 < seq_paged == seq_stored <= charges
    assert slices == int(figures["slices"])
    assert threads == 4
    assert figures["our_429s"] == "0"


def test_the_delivery_benchmark_leads_with_the_fair_baseline() -> None:
    line = last_line(
        "bench_delivery.py",
        *("--persons", "1500", "--events", "1500", "--identify-sample", "5"),
        *("--latency-ms", "2", "--connections", "4"),
    )
    figures = dict(FIGURE.findall(line))
    keys = [key for key, _ in FIGURE.findall(line)]
    assert keys[:4] == [
        "persons",
        "persons_per_s",
        "official_pooled_persons_per_s",
        "vs_pooled_persons",
    ]
    for kind in ("persons", "events"):
        assert figures[f"vs_pooled_{kind}"].endswith("x")
        assert figures[f"vs_sequential_{kind}"].endswith("x")
        for prefix in ("", "pooled_", "sequential_"):
            assert figures[f"{prefix}of_ceiling_{kind}"].endswith("%")
        assert float(figures[f"ceiling_{kind}_per_s"]) > 0
    assert figures["connections"] == "4"
    assert figures["stored_people"] == "1500"
    assert figures["second_run_requests"] == "0"
    assert figures["our_429s"] == "0"
