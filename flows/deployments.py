"""The deployments, read from prefect.yaml: `prefect deploy --all` and `stripe-cio serve`
use the same file, so the two ways of running can never drift apart."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]
from prefect import Flow
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron, Interval, Schedule
from prefect.types.entrypoint import EntrypointType

from stripe_cio import ConfigError

PROJECT_FILE = Path(__file__).resolve().parents[1] / "prefect.yaml"


@dataclass(frozen=True)
class DeploymentSpec:
    """One entry of prefect.yaml's `deployments`, with its flow imported."""

    name: str
    entrypoint: str  # path/to/file.py:function, relative to the project
    flow: Flow[..., Any]
    description: str
    tags: list[str]
    parameters: dict[str, Any]
    schedules: list[Schedule]
    concurrency_limit: ConcurrencyLimitConfig | None

    def to_runner_deployment(self) -> RunnerDeployment:
        """The deployment as `prefect.serve` takes it (the flow imported by module path, so a
        served run finds it from any working directory)."""
        deployment = self.flow.to_deployment(
            self.name,
            schedules=self.schedules,
            parameters=self.parameters,
            concurrency_limit=self.concurrency_limit,
            description=self.description,
            tags=self.tags,
            entrypoint_type=EntrypointType.MODULE_PATH,
        )
        if not isinstance(deployment, RunnerDeployment):  # called from a running event loop
            raise TypeError(f"{self.name}: to_deployment gave {type(deployment).__name__}")
        return deployment


def _flow_at(entrypoint: str) -> Flow[..., Any]:
    path, _, function = entrypoint.partition(":")
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    found = getattr(module, function, None)
    if not isinstance(found, Flow):
        raise ConfigError(f"prefect.yaml: {entrypoint}", "is not a Prefect flow", "fix its path")
    return found


def _schedule(entry: dict[str, Any]) -> Schedule:
    timezone = entry.get("timezone")
    if "cron" in entry:
        return Cron(entry["cron"], timezone=timezone)
    if "interval" in entry:
        return Interval(float(entry["interval"]), timezone=timezone)
    raise ConfigError("prefect.yaml: schedules", f"{entry} has no cron or interval", "add one")


def _concurrency(value: Any) -> ConcurrencyLimitConfig | None:
    if value is None:
        return None
    if isinstance(value, int):
        return ConcurrencyLimitConfig(limit=value)
    strategy = ConcurrencyLimitStrategy(value.get("collision_strategy", "ENQUEUE"))
    return ConcurrencyLimitConfig(limit=value["limit"], collision_strategy=strategy)


def deployment_specs(path: Path = PROJECT_FILE) -> list[DeploymentSpec]:
    """The deployments prefect.yaml declares, in its order."""
    project = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        DeploymentSpec(
            name=entry["name"],
            entrypoint=entry["entrypoint"],
            flow=_flow_at(entry["entrypoint"]),
            description=entry.get("description", ""),
            tags=list(entry.get("tags", [])),
            parameters=dict(entry.get("parameters") or {}),
            schedules=[_schedule(s) for s in entry.get("schedules") or []],
            concurrency_limit=_concurrency(entry.get("concurrency_limit")),
        )
        for entry in project["deployments"]
    ]


def runner_deployments(path: Path = PROJECT_FILE) -> list[RunnerDeployment]:
    """prefect.yaml's deployments, ready for `prefect.serve`."""
    return [spec.to_runner_deployment() for spec in deployment_specs(path)]
