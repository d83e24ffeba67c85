"""House rules that code review would otherwise have to catch: dependency direction, module size."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Who may import whom: cli -> flows -> tasks -> engine, blocks -> engine. The engine imports none
# of them, and nothing imports the command line.
FORBIDDEN = {
    "stripe_cio": {"prefect", "blocks", "tasks", "flows", "cli"},
    "blocks": {"tasks", "flows", "cli"},
    "tasks": {"flows", "cli"},
    "flows": {"cli"},
}
MAX_MODULE_LINES = 600
PACKAGES = ("stripe_cio", "blocks", "tasks", "flows", "cli")
# A module path of the Prefect side in a string: what `import_module` or `python -m` is given.
PREFECT_SIDE_NAME = re.compile(
    r"(?<![\w/.])(flows|tasks|blocks|cli)\.[A-Za-z_]|-m\s+(flows|tasks|blocks|cli)\b"
)
ENV_NAME = re.compile(r"^(STRIPE_CIO|STRIPE|CUSTOMERIO)_[A-Z0-9_]+$")


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


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(path: Path) -> str:
    name = module_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, absolute, with `from M import _x` counted as M._x."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = package_of(path)
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            modules.add(module)
            modules.update(f"{module}.{a.name}" for a in node.names if a.name.startswith("_"))
    return modules


def foreign_private_module(module: str, importer_package: str) -> str | None:
    """The private part of `module` when it belongs to a package other than the importer's own
    or one of its parents (whose private modules a subpackage may use), else None."""
    parts = module.split(".")
    if parts[0] not in PACKAGES:
        return None
    private = next((i for i, p in enumerate(parts) if p.startswith("_") and p[:2] != "__"), None)
    if private is None or private == 0:
        return None
    # The package holding it: the private module's package, or a private name's module's.
    owner = parts[:private]
    if not (ROOT.joinpath(*owner)).is_dir():
        owner = owner[:-1]
    owner_name = ".".join(owner)
    if importer_package == owner_name or importer_package.startswith(owner_name + "."):
        return None
    return ".".join(parts[: private + 1])


def code_strings(path: Path) -> list[tuple[int, str]]:
    """The string constants of `path` that are neither docstrings nor names in `__all__`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            skipped.add(id(body[0].value))
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            skipped.update(id(n) for n in ast.walk(node.value))
    return [
        (n.lineno, n.value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in skipped
    ]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_dependencies_point_one_way(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_top_level_names(path) & FORBIDDEN[package])
        for path in python_files(package)
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_engine_runs_no_prefect_side_module_by_name() -> None:
    """No `import_module("flows.x")` nor `python -m flows.x`: a plugin entry point does that."""
    offenders = {
        f"{path.relative_to(ROOT)}:{line}": text
        for path in python_files("stripe_cio")
        for line, text in code_strings(path)
        if PREFECT_SIDE_NAME.search(text)
    }
    assert offenders == {}


@pytest.mark.parametrize("package", PACKAGES)
def test_no_package_imports_another_packages_private_module(package: str) -> None:
    """A package is used through the names its `__init__` exports, never its `_x` modules."""
    offenders = [
        f"{path.relative_to(ROOT)} imports {private}"
        for path in python_files(package)
        for module in sorted(imported_modules(path))
        if (private := foreign_private_module(module, package_of(path)))
    ]
    assert offenders == []


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_written_only_in_a_packages_init(package: str) -> None:
    """A module's public names are its own; `__all__` lists what a package re-exports."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in python_files(package)
        if path.name != "__init__.py"
        and any(
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
            for node in ast.parse(path.read_text()).body
        )
    ]
    assert offenders == []


def test_environment_variable_names_are_declared_once() -> None:
    """Every setting's variable is named in ENV_NAMES (stripe_cio/settings_base.py) only."""
    registry = ROOT / "stripe_cio" / "settings_base.py"
    offenders = {
        f"{path.relative_to(ROOT)}:{line}": text
        for package in PACKAGES
        for path in python_files(package)
        if path != registry
        for line, text in code_strings(path)
        if ENV_NAME.match(text)
    }
    assert offenders == {}


def test_engine_and_the_commands_of_jobs_load_without_prefect() -> None:
    code = (
        "import sys, stripe_cio, stripe_cio.jobs, stripe_cio.stripe_api, stripe_cio.cio_api, "
        "cli, cli.jobs, cli.dead_letters, cli.doctor, stripe_cio.sandbox.command; "
        "assert 'prefect' not in sys.modules, 'prefect was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_the_demo_command_loads_without_prefect() -> None:
    """`stripe-cio demo` starts its sandboxes first; only its child process imports Prefect."""
    code = "import sys, cli.demo; assert 'prefect' not in sys.modules, 'prefect imported'"
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


@pytest.mark.parametrize("package", [*PACKAGES, "tests", "bench"])
def test_modules_stay_small(package: str) -> None:
    too_long = {
        str(path.relative_to(ROOT)): n
        for path in python_files(package)
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert too_long == {}
