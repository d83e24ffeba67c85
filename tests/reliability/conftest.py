"""Fixtures of the reliability tests: the fork server, the sandboxes, each ledger backend, the
uninterrupted reference run, and the `soak` marker for the large sizes.

`soak` tests run only with RELIABILITY_SOAK=1 (`make soak`; the root conftest clears every
STRIPE_* variable, so the name has no STRIPE_ prefix); `make test` runs the CI sizes.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from stripe_cio.sandbox import SandboxProcess
from tests.reliability._crash._compare import Reference
from tests.reliability._crash._harness import Account, PipelineRun, stripe_sandbox
from tests.reliability._crash._state import cio_state, ledger_facts
from tests.reliability._crash._zygote import Zygote
from tests.reliability.hostile.corpus import NOW, write_fixtures

NO_FAULTS = {
    "rps": None, "burst": None, "latency_ms": 0, "jitter_ms": 0, "fail_rate": 0, "drop_rate": 0,
    "slow_rate": 0, "rate_limit_burst_rate": 0,
}  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "soak: a large reliability run; only with RELIABILITY_SOAK=1 (make soak)"
    )


@pytest.fixture(autouse=True)
def _soak_only_when_asked(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("soak") and os.environ.get("RELIABILITY_SOAK") != "1":
        pytest.skip("a soak test: set RELIABILITY_SOAK=1 to run it")


@pytest.fixture(scope="session")
def reliability_dir() -> Path:
    """Logs of the sandboxes, the fork server and its children, kept for a failing run."""
    return Path(tempfile.mkdtemp(prefix="stripe-cio-reliability-"))


@pytest.fixture(scope="session")
def zygote(reliability_dir: Path) -> Iterator[Zygote]:
    """The fork server for pipeline phases without Prefect's engine. Its Prefect API points at
    a closed port, so that anything reaching for Prefect's API fails at once."""
    server = Zygote(
        env={"PREFECT_API_URL": "http://127.0.0.1:9/api"},
        log_path=reliability_dir / "zygote.log",
    )
    yield server
    server.close()


class StripeBoxes:
    """Fresh Stripe sandboxes (a pipeline run moves the clock), one always warming up in the
    background: generating an account takes a process start and seconds of CPU."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.warm: dict[Account, tuple[SandboxProcess, threading.Thread]] = {}
        self.started: list[SandboxProcess] = []

    def _warm_up(self, account: Account) -> None:
        box = stripe_sandbox(account, self.logs / f"stripe-{len(self.started)}.log")
        self.started.append(box)
        thread = threading.Thread(target=box.start, daemon=True)
        thread.start()
        self.warm[account] = (box, thread)

    def take(self, account: Account) -> SandboxProcess:
        if account not in self.warm:
            self._warm_up(account)
        box, thread = self.warm.pop(account)
        thread.join()
        if box._process is None:
            raise RuntimeError(f"a Stripe sandbox did not start; see {self.logs}")
        self._warm_up(account)
        return box

    def stop(self) -> None:
        for _, thread in self.warm.values():
            thread.join()
        for box in self.started:
            box.stop()


@pytest.fixture(scope="session")
def stripe_boxes(reliability_dir: Path) -> Iterator[StripeBoxes]:
    boxes = StripeBoxes(reliability_dir)
    yield boxes
    boxes.stop()


@pytest.fixture(scope="session")
def cio_server(reliability_dir: Path) -> Iterator[SandboxProcess]:
    with SandboxProcess(
        "customerio", "--rps", "0", log_path=reliability_dir / "customerio.log"
    ) as box:
        yield box


def emptied(box: SandboxProcess) -> SandboxProcess:
    """The Customer.io sandbox, emptied and without faults."""
    with httpx.Client(base_url=box.url, timeout=60) as http:
        http.post("/_sandbox/reset").raise_for_status()
        http.post("/_sandbox/config", json={**NO_FAULTS, "region": "us"}).raise_for_status()
    return box


@pytest.fixture
def cio_box(cio_server: SandboxProcess) -> SandboxProcess:
    """The Customer.io sandbox, emptied and without faults."""
    return emptied(cio_server)


@pytest.fixture(scope="module")
def hostile_cio_box(cio_server: SandboxProcess) -> SandboxProcess:
    """The Customer.io sandbox, emptied and without faults, for a module's hostile-corpus runs."""
    return emptied(cio_server)


@pytest.fixture(scope="module")
def hostile_stripe_box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    """A Stripe sandbox serving the hostile corpus (a fixtures account: its clock stays put)."""
    path = write_fixtures(tmp_path_factory.mktemp("hostile") / "account.json")
    with SandboxProcess("stripe", "--fixtures", str(path), "--now", str(NOW), "--rps", "0") as box:
        yield box


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty ledger on each backend."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("pg_url")
        return url
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture(scope="session")
def reference_run(
    zygote: Zygote, stripe_boxes: StripeBoxes, cio_server: SandboxProcess, reliability_dir: Path
) -> Callable[[Account], Reference]:
    """The uninterrupted pipeline's end state for an account (SQLite), computed once."""
    done: dict[Account, Reference] = {}

    def reference(account: Account) -> Reference:
        if account not in done:
            box = stripe_boxes.take(account)
            cio = emptied(cio_server)
            workdir = Path(tempfile.mkdtemp(prefix="reference-", dir=reliability_dir))
            url = f"sqlite:///{workdir / 'ledger.db'}"
            run = PipelineRun(zygote, account, box.url, cio.url, url, workdir)
            try:
                tally = run.run()
            finally:
                box.stop()
            done[account] = Reference(tally, cio_state(cio.url), ledger_facts(url))
        return done[account]

    return reference
