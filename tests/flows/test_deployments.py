"""prefect.yaml matches the flows, `prefect deploy --all` registers it, `serve` serves the same."""

from __future__ import annotations

import asyncio
import inspect
import os
import subprocess
import sys
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from prefect.cli.deploy._models import PrefectYamlModel
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.objects import ConcurrencyLimitStrategy
from prefect.settings import PREFECT_API_URL
from typer.testing import CliRunner

import flows
from cli import app as root_app
from cli.commands import COMMANDS, load_command
from flows.deployments import PROJECT_FILE, deployment_specs
from stripe_cio.extract import BACKFILL_RESOURCES

ROOT = Path(__file__).resolve().parents[2]
PROJECT = yaml.safe_load(PROJECT_FILE.read_text(encoding="utf-8"))
EXPECTED_SCHEDULES = {
    "sync-stripe-events": [("interval", timedelta(seconds=120))],
    "enrich-profiles": [("cron", "0 3 * * *")],
    "backfill-history": [],
    "replay-dead-letters": [],
}


def test_prefect_accepts_the_project_file() -> None:
    model = PrefectYamlModel.model_validate(PROJECT)
    assert [d.name for d in model.deployments] == list(flows.FLOW_NAMES)


@pytest.mark.parametrize("spec", deployment_specs(), ids=lambda spec: spec.name)
def test_each_deployment_matches_its_flow(spec: Any) -> None:
    assert spec.flow.name == spec.name
    path, _, function = spec.entrypoint.partition(":")
    assert (ROOT / path).is_file()
    assert getattr(flows, function) is spec.flow
    signature = inspect.signature(spec.flow.fn)
    assert set(spec.parameters) <= set(signature.parameters)
    for name, value in spec.parameters.items():
        assert value == signature.parameters[name].default, name
    if spec.name == "enrich-partition":
        # Started by enrich-profiles, a run a partition, as many at once as there are workers.
        assert not spec.schedules
        assert spec.concurrency_limit is None
        assert set(signature.parameters) == {"directory", "partition", "as_of"}
        return
    # Every flow parameter has a default, so a scheduled run needs no parameters.
    assert all(p.default is not inspect.Parameter.empty for p in signature.parameters.values())
    assert "notify_block" in signature.parameters
    assert spec.concurrency_limit is not None
    assert spec.concurrency_limit.limit == 1
    schedules = [("cron", s.cron) if s.cron else ("interval", s.interval) for s in spec.schedules]
    assert schedules == EXPECTED_SCHEDULES[spec.name]
    assert all(s.timezone == "UTC" for s in spec.schedules)


# Credential parameters and the block type the run form offers a picker of.
CREDENTIAL_BLOCKS = {
    "stripe_credentials": "stripe-credentials",
    "customerio_credentials": "customer-io-credentials",
}


@pytest.mark.parametrize("spec", deployment_specs(), ids=lambda spec: spec.name)
def test_the_run_form_offers_block_pickers_and_describes_every_parameter(spec: Any) -> None:
    schema = spec.to_runner_deployment()._parameter_openapi_schema.model_dump()
    properties, definitions = schema["properties"], schema.get("definitions", {})
    assert {
        name: p.get("description") for name, p in properties.items() if not p.get("description")
    } == {}
    taken = {name for name in CREDENTIAL_BLOCKS if name in properties}
    if spec.name == "enrich-partition":
        return  # reads the ledger only, for the run that started it
    assert taken, "every flow reaches Stripe or Customer.io"
    for name in taken:
        refs = [option["$ref"] for option in properties[name]["anyOf"] if "$ref" in option]
        assert len(refs) == 1, name  # a block reference, not a string
        definition = definitions[refs[0].rpartition("/")[2]]
        assert definition["block_type_slug"] == CREDENTIAL_BLOCKS[name]
        # The Stripe block also holds the webhook endpoint's signing secrets (docs/webhooks.md).
        secret = ["api_key", "webhook_secrets"] if name == "stripe_credentials" else ["api_key"]
        assert definition["secret_fields"] == secret
    # The notification block too: a picker per notification block type.
    notify = [option["$ref"] for option in properties["notify_block"]["anyOf"] if "$ref" in option]
    slugs = {definitions[ref.rpartition("/")[2]]["block_type_slug"] for ref in notify}
    assert {"slack-webhook", "ms-teams-webhook", "custom-webhook"} <= slugs
    if "resources" in properties:
        [array] = [option for option in properties["resources"]["anyOf"] if "items" in option]
        assert array["items"]["enum"] == [entry.name for entry in BACKFILL_RESOURCES]


def test_a_late_sync_is_cancelled_and_a_late_night_waits() -> None:
    limits = {spec.name: spec.concurrency_limit for spec in deployment_specs()}
    sync, enrich = limits["sync-stripe-events"], limits["enrich-profiles"]
    assert sync is not None
    assert enrich is not None
    assert sync.collision_strategy == ConcurrencyLimitStrategy.CANCEL_NEW
    assert enrich.collision_strategy == ConcurrencyLimitStrategy.ENQUEUE


async def _deployments() -> dict[str, Any]:
    async with get_client() as client:
        found = await client.read_deployments()
        return {d.name: d for d in found}


@pytest.mark.prefect
def test_prefect_deploy_all_registers_every_deployment(tmp_path: Path) -> None:
    async def create_pool() -> None:
        async with get_client() as client:
            await client.create_work_pool(WorkPoolCreate(name="stripe-cio", type="process"))

    asyncio.run(create_pool())
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("prefect")), "--no-prompt", "deploy", "--all"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    deployed = asyncio.run(_deployments())
    for spec in deployment_specs():
        deployment = deployed[spec.name]
        assert deployment.entrypoint == spec.entrypoint
        assert deployment.work_pool_name == "stripe-cio"
        assert deployment.parameters == spec.parameters
        if spec.name == "enrich-partition":
            assert deployment.global_concurrency_limit is None  # partitions run side by side
            continue
        assert deployment.global_concurrency_limit.limit == 1
        assert spec.concurrency_limit is not None
        strategy = spec.concurrency_limit.collision_strategy
        options = deployment.concurrency_options  # None: Prefect's default, ENQUEUE
        assert (options.collision_strategy if options else ConcurrencyLimitStrategy.ENQUEUE) == (
            strategy
        )
        assert len(deployment.schedules) == len(spec.schedules)
        assert deployment.pull_steps == [
            {"prefect.deployments.steps.set_working_directory": {"directory": str(ROOT)}}
        ]
        required = deployment.parameter_openapi_schema.get("required", [])
        assert required == []


@pytest.mark.prefect
def test_serve_builds_the_same_deployments() -> None:
    for spec in deployment_specs():
        runner = spec.to_runner_deployment()
        assert runner.name == spec.name
        assert runner.entrypoint == f"flows.{Path(spec.entrypoint).stem}.{spec.flow.fn.__name__}"
        assert runner.parameters == spec.parameters
        if spec.name == "enrich-partition":
            assert runner.concurrency_limit is None
            continue
        assert runner.concurrency_limit == 1
        assert runner.concurrency_options is not None
        assert runner.concurrency_options.collision_strategy == (
            spec.concurrency_limit.collision_strategy if spec.concurrency_limit else None
        )
        assert len(runner.schedules or []) == len(spec.schedules)


@pytest.mark.parametrize(
    "args",
    [
        ["enrich", "--help"],
        ["backfill", "--help"],
        ["sync", "--help"],
        ["dead-letters", "replay", "--help"],
        ["status", "--help"],
        ["serve", "--help"],
        ["notifications", "setup", "--help"],
        ["demo", "--help"],
        ["doctor", "--help"],
        ["config", "--help"],
    ],
    ids=lambda args: " ".join(args[:-1]),
)
def test_every_command_has_help_with_an_example(args: list[str]) -> None:
    shown = CliRunner().invoke(root_app, args, terminal_width=200)
    assert shown.exit_code == 0, shown.output
    assert "Example: " in shown.output
    assert "stripe-cio " in shown.output.split("Example: ", 1)[1]


def test_the_registry_summary_of_each_command_is_its_own_first_line() -> None:
    """`stripe-cio --help` shows the registry's summaries without importing the commands."""
    for entry in COMMANDS:
        command = load_command(entry)
        own = (command.short_help or command.help or "").split("\n\n")[0]
        assert entry.summary == " ".join(own.split()), entry.name


def test_pyproject_declares_one_script_and_no_plugin_group() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["scripts"] == {"stripe-cio": "cli:main"}
    assert "entry-points" not in project["project"]


def test_every_command_runs_through_the_root_group() -> None:
    runner = CliRunner()
    for args in (["blocks", "--help"], ["notifications", "setup", "--help"], ["status", "--help"]):
        shown = runner.invoke(root_app, args, terminal_width=200)
        assert shown.exit_code == 0, shown.output
        assert f"stripe-cio {' '.join(args[:-1])}" in shown.output
