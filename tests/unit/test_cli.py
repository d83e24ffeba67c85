"""The `stripe-cio` command as a user runs it: a real process, its exit code and its output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli.commands import COMMANDS
from stripe_cio import LedgerSettings, register_secret
from stripe_cio.ledger import Ledger
from stripe_cio.runs import run_lock

SECRET = "sk_test_51CliSentinel0123456789"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "CUSTOMERIO_"))}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_bad_setting_is_one_line_on_stderr_with_exit_code_2(tmp_path: Path) -> None:
    result = run_cli(
        "config",
        env={
            "STRIPE_API_KEY": "pk_live_abcdef0123",
            "CUSTOMERIO_SITE_ID": "s",
            "CUSTOMERIO_API_KEY": "whatever-key",
            "STRIPE_CIO_DATA_DIR": str(tmp_path),
        },
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("configuration error: STRIPE_API_KEY: is a publishable key")
    assert "Traceback" not in result.stderr


def test_config_shows_settings_with_secrets_masked(tmp_path: Path) -> None:
    result = run_cli(
        "config",
        env={
            "STRIPE_API_KEY": SECRET,
            "CUSTOMERIO_SITE_ID": "site-9",
            "CUSTOMERIO_API_KEY": "cio-cli-sentinel-0123",
            "CUSTOMERIO_REGION": "eu",
            "STRIPE_CIO_DATA_DIR": str(tmp_path),
            "COLUMNS": "200",
        },
    )
    assert result.returncode == 0, result.stderr
    assert "https://track-eu.customer.io" in result.stdout
    assert "site-9" in result.stdout
    assert SECRET not in result.stdout + result.stderr
    assert "cio-cli-sentinel-0123" not in result.stdout + result.stderr


def test_config_masks_passwords_in_urls(tmp_path: Path) -> None:
    """A database password given as a query parameter (libpq takes one) or as user info, and
    user info in the Track URL, never reach the output."""
    result = run_cli(
        "config",
        env={
            "STRIPE_API_KEY": SECRET,
            "CUSTOMERIO_SITE_ID": "site-9",
            "CUSTOMERIO_API_KEY": "cio-cli-sentinel-0123",
            "CUSTOMERIO_TRACK_URL": "https://proxy-user:TrackUrlSentinel9@track.example.com",
            "STRIPE_CIO_DATABASE_URL": "postgresql://ledger:UserInfoSentinel7@db.example.com/l"
            "?sslmode=require&password=QueryParamSentinel8",
            "COLUMNS": "200",
        },
    )
    assert result.returncode == 0, result.stderr
    shown = result.stdout + result.stderr
    assert "db.example.com/l" in shown
    assert "track.example.com" in shown
    for sentinel in ("UserInfoSentinel7", "QueryParamSentinel8", "TrackUrlSentinel9"):
        assert sentinel not in shown


def test_help_lists_every_command_of_the_registry() -> None:
    result = run_cli("--help", env={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    for entry in COMMANDS:
        assert entry.name in result.stdout
        assert entry.summary in result.stdout


# What makes a command line slow to answer: none of these is imported to show the help or the
# version (bench/bench_cli.py measures the time).
HEAVY = ("prefect", "pandas", "sqlalchemy", "numpy", "stripe_cio.jobs", "stripe_cio.ledger")


@pytest.mark.parametrize("args", [["--help"], ["version"]], ids=["help", "version"])
def test_help_and_version_import_no_heavy_module(args: list[str]) -> None:
    code = (
        "import sys\n"
        f"sys.argv = ['stripe-cio', *{args!r}]\n"
        "from cli import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} or m in {HEAVY!r}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_a_job_without_its_credentials_is_one_line_with_exit_code_2(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'ledger.db'}"
    result = run_cli("enrich", env={"STRIPE_CIO_DATABASE_URL": database})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("configuration error: CUSTOMERIO_SITE_ID: is not set")
    assert "Traceback" not in result.stderr


def test_a_job_refused_by_another_run_exits_75_having_done_nothing(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'ledger.db'}"
    env = {
        "STRIPE_CIO_DATABASE_URL": database,
        "CUSTOMERIO_SITE_ID": "site-9",
        "CUSTOMERIO_API_KEY": "cio-cli-sentinel-0123",
    }
    with (
        Ledger.open(LedgerSettings(database_url=database)) as ledger,
        run_lock(ledger.engine, "the nightly run"),
    ):
        result = run_cli("enrich", env=env)
    assert result.returncode == 75, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("refused: another run is pushing from this ledger")
    assert lines[0].endswith("this run did nothing")
    assert "cio-cli-sentinel-0123" not in result.stdout + result.stderr


def test_an_unexpected_failure_is_one_line_naming_a_bug_with_exit_code_70(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli import root

    def broken(**_: object) -> None:
        raise RuntimeError(f"boom with {SECRET} inside\nand a second line")

    register_secret(SECRET)
    monkeypatch.setattr(root, "app", broken)
    with pytest.raises(SystemExit) as exited:
        root.main()
    assert exited.value.code == 70
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("internal error: RuntimeError: boom with ")
    assert "--verbose" in lines[0]
    assert SECRET not in lines[0]
