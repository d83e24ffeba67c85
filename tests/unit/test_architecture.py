"""House rules that code review would otherwise have to catch: dependency direction, module size."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Who may import whom: flows -> tasks -> engine, blocks -> engine. The engine imports none of them.
FORBIDDEN = {
    "stripe_cio": {"prefect", "blocks", "tasks", "flows"},
    "blocks": {"tasks", "flows"},
    "tasks": {"flows"},
}
MAX_MODULE_LINES = 400


def imported_top_level_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def python_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_dependencies_point_one_way(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_top_level_names(path) & FORBIDDEN[package])
        for path in python_files(package)
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_engine_and_its_cli_load_without_prefect() -> None:
    code = (
        "import sys, stripe_cio, stripe_cio.cli, stripe_cio.jobs, stripe_cio.stripe_api, "
        "stripe_cio.cio_api; "
        "assert 'prefect' not in sys.modules, 'prefect was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_the_job_tests_run_the_jobs_without_prefect() -> None:
    """Only the test of the Prefect runner needs Prefect; the others are pure engine tests."""
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            imported_top_level_names(path) & {"prefect", "flows", "tasks"}
        )
        for path in python_files("tests/jobs")
        if path.name != "test_prefect_runner.py"
    }
    assert {path: names for path, names in offenders.items() if names} == {}


@pytest.mark.parametrize("package", ["stripe_cio", "blocks", "tasks", "flows", "tests", "bench"])
def test_modules_stay_small(package: str) -> None:
    too_long = {
        str(path.relative_to(ROOT)): n
        for path in python_files(package)
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert too_long == {}
