"""Secrets stay secret across a whole pipeline, on SQLite and PostgreSQL ledgers.

Recognisable keys (a Stripe key, a Customer.io key, a database password) go into blocks and a
database URL; then the product runs as users run it, failures included: a backfill, a night
refused by a wrong Customer.io key, a night with a refused person (a dead letter), a sync
refused by a wrong Stripe key, a good sync, a replay that still meets the refusal (and fails on
its reject rate), the operator commands. Afterwards every place a secret could end up is
searched: log records, the Prefect API's run logs, artifacts, flow and task run states,
exceptions and their tracebacks, failure notifications, dead letters and every row of every
ledger table (and the SQLite file's raw bytes). The process's outbound connections are recorded
too: they may go only to the configured endpoints.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.client.schemas.objects import State
from prefect.client.schemas.sorting import LogSort
from prefect.logging.handlers import APILogHandler
from sqlalchemy import create_engine, inspect, text
from typer.testing import CliRunner

from blocks import CustomerIOCredentials, StripeCredentials
from cli import app as engine_cli
from flows import backfill_history, enrich_profiles, replay_dead_letters, sync_stripe_events
from stripe_cio import LedgerSettings
from stripe_cio.deliver import DeliveryStore, PersonUpdate, Refusal, plan_person
from stripe_cio.deliver.checks import NameCheck
from stripe_cio.deliver.store import Failure
from stripe_cio.ledger import Ledger
from stripe_cio.runs import RejectRateExceededError
from stripe_cio.sandbox import SandboxProcess
from tests._webhook import Webhook

pytestmark = pytest.mark.prefect

STRIPE_KEY = "sk_test_CanaryStripeKey4Rq8Zt2Wm6"
WRONG_STRIPE_KEY = "sk_test_CanaryWrongStripe9Hn3Xv5"
CIO_SITE = "canary-site"
CIO_KEY = "canary-cio-key-Pz7Lq2Vb"
WRONG_CIO_KEY = "canary-wrong-cio-Jd4Ks8Tc"
DB_PASSWORD = "CanaryDbPassword5Yw1"


def secret_forms() -> dict[str, str]:
    """Every secret, and the forms it takes on the wire (basic auth is base64 of site:key)."""
    forms = {
        "Stripe key": STRIPE_KEY,
        "wrong Stripe key": WRONG_STRIPE_KEY,
        "Customer.io key": CIO_KEY,
        "wrong Customer.io key": WRONG_CIO_KEY,
        "database password": DB_PASSWORD,
    }
    for label, key in (("Customer.io", CIO_KEY), ("wrong Customer.io", WRONG_CIO_KEY)):
        forms[f"{label} basic auth"] = base64.b64encode(f"{CIO_SITE}:{key}".encode()).decode()
    # A truncated key still leaks most of it: look for the distinctive middle too.
    forms["Stripe key (part)"] = STRIPE_KEY[8:24]
    forms["Customer.io key (part)"] = CIO_KEY[6:18]
    return forms


def leaks_in(where: str, content: str | bytes) -> list[str]:
    """'<secret> in <where>' for each secret form found in `content`."""
    data = content if isinstance(content, bytes) else content.encode("utf-8", "replace")
    return [
        f"{label} in {where}" for label, form in secret_forms().items() if form.encode() in data
    ]


@pytest.fixture(scope="module")
def stripe_box() -> Iterator[SandboxProcess]:
    args = ("--customers", "60", "--months", "4", "--rps", "0", "--api-key", STRIPE_KEY)
    with SandboxProcess("stripe", *args) as box:
        yield box


@pytest.fixture(scope="module")
def cio_box() -> Iterator[SandboxProcess]:
    args = ("--rps", "0", "--site-id", CIO_SITE, "--api-key", CIO_KEY)
    with SandboxProcess("customerio", *args) as box:
        yield box


@dataclass
class Connections:
    """The (host, port) of every TCP connection this process opens while recording."""

    seen: set[tuple[str, int]] = field(default_factory=set)


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> Connections:
    recorded = Connections()
    for name in ("connect", "connect_ex"):
        inner: Callable[..., Any] = getattr(socket.socket, name)

        def recording(sock: socket.socket, address: Any, _inner: Callable[..., Any] = inner) -> Any:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                recorded.seen.add((str(address[0]), int(address[1])))
            return _inner(sock, address)

        monkeypatch.setattr(socket.socket, name, recording)
    return recorded


@pytest.fixture(params=["sqlite", "postgresql", "postgresql-query-password"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    # The throwaway cluster trusts loopback, so any password gets in: it only has to be carried.
    url: str = request.getfixturevalue("pg_url")
    if request.param == "postgresql-query-password":
        # libpq also takes the password as a query parameter, where no URL parser masks it.
        return f"{url}?password={DB_PASSWORD}"
    return url.replace("postgresql://postgres@", f"postgresql://postgres:{DB_PASSWORD}@")


def sandbox_call(box: SandboxProcess, method: str, path: str, **kwargs: Any) -> Any:
    with httpx.Client(base_url=box.url, timeout=30) as http:
        response = http.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None


def finished(run: Any) -> State[Any]:
    """Run a flow called with return_state=True to its final state."""

    async def wait() -> State[Any]:
        state: State[Any] = await run
        return state

    return asyncio.run(wait())


async def prefect_records() -> dict[str, str]:
    """Everything the Prefect API holds about the runs: logs, artifacts, run states."""
    await APILogHandler.aflush()
    records: dict[str, str] = {}
    async with get_client() as client:
        logs, offset = [], 0
        while batch := await client.read_logs(offset=offset, limit=200, sort=LogSort.TIMESTAMP_ASC):
            logs.extend(batch)
            offset += len(batch)
        records["Prefect run logs"] = "\n".join(log.message for log in logs)
        artifacts = await client.read_artifacts()
        records["Prefect artifacts"] = "\n".join(
            f"{a.key} {a.description} {a.data}" for a in artifacts
        )
        flow_runs = await client.read_flow_runs()
        task_runs = await client.read_task_runs()
        records["Prefect run states"] = "\n".join(
            [
                *(f"{r.name} {r.parameters} {r.state and r.state.message}" for r in flow_runs),
                *(f"{r.name} {r.state and r.state.message}" for r in task_runs),
            ]
        )
    return records


def ledger_rows(url: str) -> str:
    """Every row of every table of the ledger, as text."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            lines = []
            for table in inspect(conn).get_table_names():
                for row in conn.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608 - catalogue names
                    lines.append(f"{table}: {tuple(row)!r}")
            return "\n".join(lines)
    finally:
        engine.dispose()


def leave_a_dead_letter(ledger_url: str) -> None:
    """Record what an earlier run refused: a person with an attribute value over 1,000 bytes.

    The synthetic account holds no such value, so it is planned and recorded here the way
    delivery does, for the replay and the search to meet a real dead letter.
    """
    refusal = plan_person(
        PersonUpdate({"email": "long.note@example.com"}, {"stripe_note": "x" * 1200}),
        None,
        NameCheck(),
    )
    assert isinstance(refusal, Refusal), refusal
    assert refusal.item is not None
    with Ledger.open(LedgerSettings.load({"database_url": ledger_url})) as ledger:
        failure = Failure(refusal.item, refusal, stage="pre_send")
        DeliveryStore.of(ledger).record(failed=[failure])


def test_no_secret_escapes_a_whole_pipeline_with_its_failures(
    stripe_box: SandboxProcess,
    cio_box: SandboxProcess,
    ledger_url: str,
    connections: Connections,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("STRIPE_CIO_DATABASE_URL", ledger_url)
    sandbox_call(cio_box, "POST", "/_sandbox/reset")
    sandbox_call(cio_box, "POST", "/_sandbox/config", json={"region": "us"})
    StripeCredentials(
        api_key=STRIPE_KEY, api_base=stripe_box.url, requests_per_second=500
    ).save_sync("canary", overwrite=True)
    StripeCredentials(
        api_key=WRONG_STRIPE_KEY, api_base=stripe_box.url, requests_per_second=500
    ).save_sync("canary-wrong", overwrite=True)
    CustomerIOCredentials(site_id=CIO_SITE, api_key=CIO_KEY, track_url=cio_box.url).save_sync(
        "canary", overwrite=True
    )
    CustomerIOCredentials(site_id=CIO_SITE, api_key=WRONG_CIO_KEY, track_url=cio_box.url).save_sync(
        "canary-wrong", overwrite=True
    )
    stripe_block, cio_block = StripeCredentials.load_sync, CustomerIOCredentials.load_sync
    hook = Webhook()
    hook.thread.start()
    CustomWebhookNotificationBlock(
        name="canary", url=hook.url, json_data={"subject": "{{subject}}", "body": "{{body}}"}
    ).save("canary-ops", overwrite=True)
    states: dict[str, State[Any]] = {}
    try:
        common = {"notify_block": CustomWebhookNotificationBlock.load("canary-ops")}
        states["backfill"] = finished(
            backfill_history(
                stripe_credentials=stripe_block("canary"), enrich=False, return_state=True, **common
            )
        )
        states["night, wrong key"] = finished(
            enrich_profiles(
                customerio_credentials=cio_block("canary-wrong"), return_state=True, **common
            )
        )
        states["night"] = finished(
            enrich_profiles(customerio_credentials=cio_block("canary"), return_state=True, **common)
        )
        leave_a_dead_letter(ledger_url)
        sandbox_call(stripe_box, "POST", "/_sandbox/advance", json={"seconds": 86_400})
        states["sync, wrong key"] = finished(
            sync_stripe_events(
                stripe_credentials=stripe_block("canary-wrong"),
                customerio_credentials=cio_block("canary"),
                return_state=True,
                **common,
            )
        )
        states["sync"] = finished(
            sync_stripe_events(
                stripe_credentials=stripe_block("canary"),
                customerio_credentials=cio_block("canary"),
                return_state=True,
                **common,
            )
        )
        listed = CliRunner().invoke(engine_cli, ["dead-letters", "list"])
        states["replay"] = finished(
            replay_dead_letters(
                customerio_credentials=cio_block("canary"), return_state=True, **common
            )
        )
        status = CliRunner().invoke(engine_cli, ["status"])
        messages = hook.wait_for(3, 15)
    finally:
        hook.stop()

    # The runs did what they should, so the search below covers real failures and dead letters.
    outcome = {name: state.type.value for name, state in states.items()}
    assert outcome == {
        "backfill": "COMPLETED",
        "night, wrong key": "FAILED",
        "night": "COMPLETED",
        "sync, wrong key": "FAILED",
        "sync": "COMPLETED",
        "replay": "FAILED",
    }
    # The dead letter is still refused: the replay counts it and fails on its reject rate.
    refused = states["replay"].result(raise_on_failure=False)
    assert isinstance(refused, RejectRateExceededError), refused
    assert "(1 rejected of 1 records)" in str(refused)
    assert "top reasons: attribute_value_too_long (1)" in str(refused)
    assert listed.exit_code == 0
    assert "attribute_value_too_long" in listed.output
    assert status.exit_code == 0, status.output
    assert len(messages) == 3  # one per failed run

    places: dict[str, str | bytes] = {
        "log records": caplog.text,
        "dead-letters list output": listed.output,
        "status output": status.output,
        "notifications": repr(messages),
        "ledger rows": ledger_rows(ledger_url),
    }
    for name, state in states.items():
        places[f"{name} state"] = f"{state.name} {state.message}"
        error = state.result(raise_on_failure=False)
        if isinstance(error, BaseException):
            places[f"{name} exception"] = "".join(traceback.format_exception(error))
            assert str(error), f"{name}: the failure says nothing"
    places.update(asyncio.run(prefect_records()))
    if ledger_url.startswith("sqlite"):
        database = Path(ledger_url.removeprefix("sqlite:///"))
        for path in (database, database.with_name(database.name + "-wal")):
            if path.exists():
                places[f"ledger file {path.name}"] = path.read_bytes()

    empty = sorted(where for where, content in places.items() if not content)
    assert empty == [], "the search must cover real content"
    assert "customers read" in str(places["Prefect artifacts"])
    leaks = [leak for where, content in places.items() for leak in leaks_in(where, content)]
    assert leaks == []
    # The failures do say what went wrong, in words an operator can act on.
    assert "401" in places["night, wrong key exception"] or "key" in str(
        states["night, wrong key"].message
    )

    # Every connection went to a configured endpoint: the sandboxes, the notification webhook,
    # the Prefect API and the ledger's database.
    allowed = {
        httpx.URL(stripe_box.url).port,
        httpx.URL(cio_box.url).port,
        httpx.URL(hook.url).port,
    }
    from prefect.settings import PREFECT_API_URL

    api_url = PREFECT_API_URL.value()
    assert api_url is not None
    allowed.add(httpx.URL(api_url).port)
    if ledger_url.startswith("postgresql"):
        allowed.add(httpx.URL(ledger_url.replace("postgresql://", "http://")).port)
    strays = {(host, port) for host, port in connections.seen if port not in allowed}
    assert strays == set()


def test_the_search_finds_each_secret_form() -> None:
    for label, form in secret_forms().items():
        assert leaks_in("here", f"...{form}...".encode()) != [], label
    assert leaks_in("here", "sk_test_****Wm6 and canary-site") == []


def test_a_secret_logged_by_mistake_inside_a_flow_run_is_masked_in_its_run_logs() -> None:
    """The net under "never log a secret": every stripe-cio flow masks its process's logs."""
    from prefect import flow, get_run_logger

    from flows.options import flow_options
    from stripe_cio import CustomerIOSettings
    from stripe_cio.redaction import MASK

    @flow(**flow_options("redaction-check", "Logs a loaded secret by mistake."))
    def careless() -> None:
        settings = CustomerIOSettings.load({"site_id": CIO_SITE, "api_key": CIO_KEY})
        get_run_logger().info("oops: %s", settings.api_key.get_secret_value())

    state = careless(return_state=True)
    assert state.is_completed()

    async def run_log() -> str:
        await APILogHandler.aflush()
        async with get_client() as client:
            logs = await client.read_logs(
                log_filter=LogFilter(
                    flow_run_id=LogFilterFlowRunId(any_=[state.state_details.flow_run_id])
                )
            )
        return "\n".join(log.message for log in logs)

    logged = asyncio.run(run_log())
    assert f"oops: {MASK}" in logged
    assert leaks_in("the run's logs", logged) == []
