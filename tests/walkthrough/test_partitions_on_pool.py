"""The nightly enrich split in partitions, each a child flow run of `enrich-partition` that a
worker of the process pool takes: a real `prefect server start`, `prefect deploy --all`, two
workers, and Customer.io left holding exactly the single pass's attributes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from stripe_cio import LedgerSettings
from stripe_cio.attributes import attribute_dicts, compute_attributes, load_frames
from stripe_cio.ledger import Ledger
from stripe_cio.sandbox import (
    SANDBOX_CIO_API_KEY,
    SANDBOX_CIO_SITE_ID,
    SANDBOX_STRIPE_KEY,
    SandboxProcess,
)
from tests.walkthrough.test_walkthrough import BIN, Prefect, finished, prefect_world, wait_until

PARTITIONS = 3


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Prefect, SandboxProcess, SandboxProcess]]:
    with prefect_world(tmp_path, "--customers", "200", "--months", "4", "--rps", "0") as made:
        yield made


def people(cio_url: str) -> dict[str, dict[str, Any]]:
    found = httpx.get(f"{cio_url}/_sandbox/people", timeout=30).raise_for_status().json()
    return {p["identifiers"].get("email") or p["identifiers"]["id"]: p["attributes"] for p in found}


def test_the_nightly_enrich_in_partitions_on_a_process_pool_equals_one_pass(
    world: tuple[Prefect, SandboxProcess, SandboxProcess], tmp_path: Path
) -> None:
    prefect, stripe, cio = world
    prefect_cli = str(BIN / "prefect")
    worker_env = {
        "STRIPE_API_KEY": SANDBOX_STRIPE_KEY,
        "STRIPE_API_BASE": stripe.url,
        "CUSTOMERIO_SITE_ID": SANDBOX_CIO_SITE_ID,
        "CUSTOMERIO_API_KEY": SANDBOX_CIO_API_KEY,
        "CUSTOMERIO_TRACK_URL": cio.url,
        # Where the run and its child runs exchange the partitions' files: every worker sees it.
        "STRIPE_CIO_PARTITION_DIR": str(tmp_path / "partitions"),
    }
    prefect.run(prefect_cli, "work-pool", "create", "stripe-cio", "--type", "process")
    prefect.run(prefect_cli, "--no-prompt", "deploy", "--all")
    for _ in range(2):
        prefect.start_worker(worker_env)
    prefect.run(prefect_cli, "deployment", "run", "backfill-history/backfill-history",
                "--param", "enrich=false")  # fmt: skip
    [backfill] = wait_until(
        lambda: finished(prefect.runs("backfill-history")), 240, "the backfill run"
    )
    assert backfill["state_type"] == "COMPLETED", backfill["state"]
    assert people(cio.url) == {}, "the backfill pushed nobody"

    as_of = int(time.time()) - 60
    prefect.run(
        prefect_cli, "deployment", "run", "enrich-profiles/enrich-profiles",
        "--param", f"partitions={PARTITIONS}",
        "--param", f"partition_concurrency={PARTITIONS}",
        "--param", "partition_deployment=enrich-partition/enrich-partition",
        "--param", f"as_of={datetime.fromtimestamp(as_of, UTC).isoformat()}",
    )  # fmt: skip
    [enrich] = wait_until(lambda: finished(prefect.runs("enrich-profiles")), 300, "the enrich")
    assert enrich["state_type"] == "COMPLETED", enrich["state"]

    children = prefect.runs("enrich-partition")
    assert len(children) == PARTITIONS
    assert all(child["state_type"] == "COMPLETED" for child in children)
    # Child runs of the enrich run, each taken by a worker of the pool.
    assert {child["parent_task_run_id"] is not None for child in children} == {True}
    assert {child["work_pool_name"] for child in children} == {"stripe-cio"}
    summary = prefect.summary(enrich, "enrich-profiles")
    assert summary["persons changed (sent)"] != "0"
    assert not list((tmp_path / "partitions").rglob("*.pickle")), "the run's files are removed"

    ledger_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with Ledger.open(LedgerSettings(database_url=ledger_url)) as ledger:
        single = compute_attributes(load_frames(ledger.engine), as_of)
    expected = {
        person: orjson.loads(orjson.dumps(values))
        for person, values in attribute_dicts(single.attributes)
    }
    assert people(cio.url) == expected
