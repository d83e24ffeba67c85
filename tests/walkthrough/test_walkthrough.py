"""The walkthrough of docs/operations.md, followed as written: a real `prefect server start`
process, the live sandboxes, blocks, a process work pool, `prefect deploy --all`, a worker, a
backfill, scheduled syncs that each apply new events, and a failure reported by the Automation.

Everything Prefect is driven through its command line and REST API, as a user would, so this
test shares nothing with the Prefect test harness of the other tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from stripe_cio.sandbox import (
    SANDBOX_CIO_API_KEY,
    SANDBOX_CIO_SITE_ID,
    SANDBOX_STRIPE_KEY,
    SandboxProcess,
    free_port,
)
from tests._webhook import Webhook

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# The sandbox account lives a day every 24 s, so every scheduled sync finds new events.
SPEED = "3600"
# The test's sync schedule: the walkthrough's 2 minutes, shortened so two runs take seconds.
SYNC_EVERY = 10


class Prefect:
    """A real Prefect server process, and the commands a user runs against it."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        home.mkdir(parents=True, exist_ok=True)
        port = free_port()
        self.api = f"http://127.0.0.1:{port}/api"
        self.env = {
            **env,
            "PREFECT_HOME": str(home),
            "PREFECT_API_URL": self.api,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            # A schedule change is turned into runs within seconds, and the worker takes them
            # within seconds (Prefect's defaults: a minute and ten seconds).
            "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "10",
            "PREFECT_WORKER_QUERY_SECONDS": "2",
        }
        self.log = open(home / "server.log", "wb")  # noqa: SIM115 - closed in stop()
        self.server = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.http = httpx.Client(base_url=self.api, timeout=30)
        self.workers: list[subprocess.Popen[bytes]] = []
        wait_until(self._healthy, 120, "the Prefect server to answer")

    def _healthy(self) -> bool:
        try:
            return self.http.get("/health").status_code == 200
        except httpx.HTTPError:
            return False

    def run(self, *args: str, env: dict[str, str] | None = None) -> str:
        """A command as the user types it; its output, or the test fails with it."""
        done = subprocess.run(
            list(args),
            cwd=ROOT,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
        return done.stdout

    def start_worker(self, env: dict[str, str]) -> None:
        log = open(Path(self.env["PREFECT_HOME"]) / "worker.log", "wb")  # noqa: SIM115
        self.workers.append(
            subprocess.Popen(
                [str(BIN / "prefect"), "worker", "start", "--pool", "stripe-cio"],
                cwd=ROOT,
                env={**self.env, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.http.post(path, json=body).raise_for_status().json()

    def deployment_id(self, name: str) -> str:
        [found] = self.post("/deployments/filter", {"deployments": {"name": {"any_": [name]}}})
        return str(found["id"])

    def runs(self, deployment: str) -> list[dict[str, Any]]:
        """The deployment's flow runs, oldest first."""
        runs: list[dict[str, Any]] = self.post(
            "/flow_runs/filter",
            {
                "deployments": {"id": {"any_": [self.deployment_id(deployment)]}},
                "sort": "EXPECTED_START_TIME_ASC",
            },
        )
        return runs

    def summary(self, run: dict[str, Any], flow: str) -> dict[str, str]:
        """The rows of a run's summary table artifact."""
        artifacts = self.post(
            "/artifacts/filter",
            {"flow_runs": {"id": {"any_": [run["id"]]}}, "artifacts": {"key": {"any_": [
                f"{flow}-summary"]}}},
        )  # fmt: skip
        assert artifacts, f"no summary artifact for run {run['name']}"
        rows = artifacts[0]["data"]
        rows = json.loads(rows) if isinstance(rows, str) else rows
        return {row["what"]: row["count"] for row in rows}

    def stop(self) -> None:
        for process in [*self.workers, self.server]:
            process.terminate()
        for process in [*self.workers, self.server]:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.http.close()
        self.log.close()


def wait_until(ready: Any, seconds: float, what: str) -> Any:
    """Poll `ready()` until it returns something true; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = ready()
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"waited {seconds}s for {what}")


def completed(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in runs if r["state_type"] == "COMPLETED"]


def finished(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in runs if r["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")]


@contextmanager
def prefect_world(
    tmp_path: Path, *stripe_args: str
) -> Iterator[tuple[Prefect, SandboxProcess, SandboxProcess]]:
    """A Stripe sandbox started with `stripe_args`, a Customer.io sandbox, and a Prefect server
    whose environment carries none of the caller's PREFECT_ or STRIPE variables."""
    with (
        SandboxProcess("stripe", *stripe_args) as stripe,
        SandboxProcess("customerio", "--rps", "0") as cio,
    ):
        base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "STRIPE"))}
        prefect = Prefect(tmp_path / "prefect", {**base, "STRIPE_CIO_DATA_DIR": str(tmp_path)})
        try:
            yield prefect, stripe, cio
        finally:
            prefect.stop()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Prefect, SandboxProcess, SandboxProcess]]:
    stripe_args = ("--customers", "150", "--months", "3", "--rps", "0", "--live", "--speed", SPEED)
    with prefect_world(tmp_path, *stripe_args) as made:
        yield made


def test_the_walkthrough_runs_as_written(
    world: tuple[Prefect, SandboxProcess, SandboxProcess], tmp_path: Path
) -> None:
    prefect, stripe, cio = world
    stripe_cio, prefect_cli = str(BIN / "stripe-cio"), str(BIN / "prefect")
    sandbox_env = {
        "STRIPE_API_KEY": SANDBOX_STRIPE_KEY,
        "STRIPE_API_BASE": stripe.url,
        "CUSTOMERIO_SITE_ID": SANDBOX_CIO_SITE_ID,
        "CUSTOMERIO_API_KEY": SANDBOX_CIO_API_KEY,
        "CUSTOMERIO_TRACK_URL": cio.url,
    }
    # 3. Credential blocks.
    prefect.run(stripe_cio, "blocks", "register")
    saved = prefect.run(
        stripe_cio, "blocks", "save-from-env", "--stripe", "sandbox", "--customerio", "sandbox",
        env=sandbox_env,
    )  # fmt: skip
    assert "saved StripeCredentials block 'sandbox'" in saved
    # 4. A work pool, the deployments, a worker (given the sandboxes' variables, step 5's other
    # way, so the deployments' empty block parameters read them).
    prefect.run(prefect_cli, "work-pool", "create", "stripe-cio", "--type", "process")
    prefect.run(prefect_cli, "--no-prompt", "deploy", "--all")
    hook = Webhook()
    hook.thread.start()
    prefect.start_worker({**sandbox_env, "STRIPE_CIO_NOTIFY_BLOCK": "custom-webhook/ops"})
    # 6. Backfill once.
    prefect.run(prefect_cli, "deployment", "run", "backfill-history/backfill-history")
    [backfill] = wait_until(
        lambda: finished(prefect.runs("backfill-history")), 240, "the backfill run"
    )
    assert backfill["state_type"] == "COMPLETED", backfill["state"]
    backfilled = prefect.summary(backfill, "backfill-history")
    assert int(backfilled["Stripe: customers read"].replace(",", "")) > 0
    assert backfilled["credentials: Stripe"].startswith("the environment (STRIPE_API_KEY")
    # 7. The schedule, shortened: each scheduled sync applies what the live account made since.
    prefect.run(prefect_cli, "deployment", "schedule", "clear",
                "sync-stripe-events/sync-stripe-events", "-y")  # fmt: skip
    prefect.run(prefect_cli, "deployment", "schedule", "create",
                "sync-stripe-events/sync-stripe-events", "--interval", str(SYNC_EVERY))  # fmt: skip
    # A run still going when the next is due cancels the newcomer (prefect.yaml): count the
    # runs that completed, which must be consecutive scheduled ones.
    syncs = wait_until(
        lambda: (done := completed(prefect.runs("sync-stripe-events"))) and len(done) >= 2 and done,
        240,
        "two scheduled sync runs",
    )
    assert not [r for r in finished(prefect.runs("sync-stripe-events")) if r["state_type"] in (
        "FAILED", "CRASHED")]  # fmt: skip
    for run in syncs[:2]:
        applied = prefect.summary(run, "sync-stripe-events")["Stripe: events applied"]
        assert int(applied.replace(",", "")) > 0, run["name"]
    # 8. A failure and its notification: the block the worker's environment names (step 4's
    # STRIPE_CIO_NOTIFY_BLOCK) is saved now; the failing run's own hook sends the message.
    try:
        prefect.run(
            sys.executable, "-c",
            "from prefect.blocks.notifications import CustomWebhookNotificationBlock as B; "
            f"B(name='ops', url={hook.url!r}, json_data={{'subject': '{{{{subject}}}}', "
            "'body': '{{body}}'}).save('ops', overwrite=True)",
        )  # fmt: skip
        httpx.post(f"{cio.url}/_sandbox/config", json={"region": "eu"}).raise_for_status()
        failed = wait_until(
            lambda: [r for r in prefect.runs("sync-stripe-events") if r["state_type"] == "FAILED"],
            240,
            "a failed sync run",
        )[0]
        [message] = hook.wait_for(1, 60)
    finally:
        hook.stop()
    line = failed["state"]["message"]
    assert "region 'eu'" in line
    assert "CUSTOMERIO_REGION=eu" in line
    summary = prefect.summary(failed, "sync-stripe-events")
    assert summary["why, and what to do"] == line
    assert "sync-stripe-events" in message["subject"]
    assert "region 'eu'" in message["body"]
    assert "Failing step: push-attributes" in message["body"]
    # 9. From the terminal.
    shown = prefect.run(stripe_cio, "status", "--runs", "3", env={"COLUMNS": "100"})
    assert "region 'eu'" in shown
    for text in (line, message["body"], shown):
        assert SANDBOX_CIO_API_KEY not in text
