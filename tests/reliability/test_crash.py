"""Crash test: backfill → enrich → sync, SIGKILLed at seeded random moments and restarted until
it completes, ends exactly as an uninterrupted run (issue 9, parts 1 and 6).

Each phase runs in a child forked from a server that imported the pipeline once (a fresh
interpreter costs over ten seconds of imports on a loaded two-core machine, which dozens of
restarts cannot afford). The children call the jobs the flows run (`backfill_job`, `sync_job`)
with the plain runner; `test_crash_through_the_prefect_flows` runs the real flows, killed fewer
times. Kill points wrap engine functions in the child only (extraction, ledger writes, between
Customer.io's acceptance and the snapshot, cursor advance); a share of the kills is a wall-clock
timer. A child that fails without being killed fails the test: a crash may cost a restart, never
an error.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prefect.settings import PREFECT_API_URL

from stripe_cio.sandbox import SandboxProcess
from tests.reliability._crash._compare import Reference, assert_same_end_state
from tests.reliability._crash._harness import Account, CrashPlan, PipelineRun, Tally
from tests.reliability._crash._killpoints import KINDS
from tests.reliability._crash._zygote import Zygote

CI_ACCOUNT = Account(customers=120, months=2, rounds=2)
SOAK_ACCOUNT = Account(customers=300, months=3, rounds=4)


def crash_and_compare(
    zygote: Zygote,
    account: Account,
    plan: CrashPlan,
    reference: Reference,
    stripe_box: SandboxProcess,
    cio_box: SandboxProcess,
    database_url: str,
    workdir: Path,
    via: str = "engine",
) -> Tally:
    assert reference.tally.failed_restarts == 0, "the uninterrupted run had failing phases"
    run = PipelineRun(zygote, account, stripe_box.url, cio_box.url, database_url, workdir, via)
    try:
        tally = run.run(plan, reference=reference.tally)
    finally:
        stripe_box.stop()
    print(f"\ncrash test ({via}, {database_url.partition(':')[0]}): {tally.summary()}")
    assert_no_phase_failed_unkilled(run)
    assert_same_end_state(reference, cio_box.url, database_url)
    return tally


def assert_no_phase_failed_unkilled(run: PipelineRun) -> None:
    """Every child ended completed, cancelled, or killed by the harness (a kill point or a
    timer it planned): a phase that raised, or died otherwise, is a finding even when its
    restart went on to complete."""
    children: list[dict[str, Any]] = [
        json.loads(line) for line in run.journal.read_text(encoding="utf-8").splitlines()
    ]
    assert children, "no child ran"
    unkilled = [
        child
        for child in children
        if not (
            child["status"] in ("completed", "cancelled")
            or (child["status"] == "killed" and (child.get("kill") or child.get("kill_after")))
        )
    ]
    log = run.log.read_text(encoding="utf-8", errors="replace") if run.log.exists() else ""
    assert not unkilled, (
        f"{len(unkilled)} phases failed without being killed: {unkilled[:3]}; children's log "
        f"(the tracebacks):\n" + "\n".join(log.splitlines()[-80:])
    )


@pytest.mark.parametrize(
    ("account", "kills"),
    [
        pytest.param(CI_ACCOUNT, 25, id="ci"),
        pytest.param(SOAK_ACCOUNT, 200, id="soak", marks=pytest.mark.soak),
    ],
)
def test_crashes_at_random_kill_points_end_as_an_uninterrupted_run(
    account: Account,
    kills: int,
    zygote: Zygote,
    stripe_boxes: object,
    reference_run: Callable[[Account], Reference],
    cio_box: SandboxProcess,
    database_url: str,
    tmp_path: Path,
) -> None:
    reference = reference_run(account)
    seed = int(os.environ.get("RELIABILITY_SEED", "20261128"))
    tally = crash_and_compare(
        zygote,
        account,
        CrashPlan(kills=kills, seed=seed),
        reference,
        stripe_boxes.take(account),  # type: ignore[attr-defined]
        cio_box,
        database_url,
        tmp_path / "crash",
    )
    assert len(tally.kills) >= kills
    hit = tally.by_kind()
    assert all(hit[kind] >= 1 for kind in KINDS), f"kill-point kinds hit: {dict(hit)}"


@pytest.mark.prefect
def test_crash_through_the_prefect_flows(
    stripe_boxes: object,
    reference_run: Callable[[Account], Reference],
    cio_box: SandboxProcess,
    reliability_dir: Path,
    tmp_path: Path,
) -> None:
    """The real backfill-history and sync-stripe-events flows, on the harness's Prefect API,
    killed at kill points of each kind and by timer, end as the uninterrupted run."""
    reference = reference_run(CI_ACCOUNT)
    server = Zygote(
        env={"PREFECT_API_URL": str(PREFECT_API_URL.value())},
        log_path=reliability_dir / "zygote-flows.log",
    )
    try:
        tally = crash_and_compare(
            server,
            CI_ACCOUNT,
            CrashPlan(kills=6, seed=5),
            reference,
            stripe_boxes.take(CI_ACCOUNT),  # type: ignore[attr-defined]
            cio_box,
            f"sqlite:///{tmp_path / 'ledger.db'}",
            tmp_path / "crash",
            via="flows",
        )
    finally:
        server.close()
    assert len(tally.kills) >= 6
