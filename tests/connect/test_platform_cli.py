"""docs/connect.md as written: `stripe-cio accounts` against the sandbox platform."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stripe_cio.sandbox import SANDBOX_STRIPE_KEY, SandboxProcess

STRIPE_CIO = str(Path(sys.executable).with_name("stripe-cio"))


@pytest.fixture(scope="module")
def platform() -> Iterator[SandboxProcess]:
    flags = ["--customers", "40", "--accounts", "4"]
    with SandboxProcess(
        "stripe", *flags, "--restricted-accounts", "1", "--deauthorized-accounts", "1"
    ) as box:
        yield box


def accounts(platform: SandboxProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("STRIPE_", "CUSTOMERIO_"))
    }
    env.update(STRIPE_API_KEY=SANDBOX_STRIPE_KEY, STRIPE_API_BASE=platform.url, COLUMNS="200")
    return subprocess.run(
        [STRIPE_CIO, "accounts", *args], env=env, capture_output=True, text=True, timeout=120
    )


def states(platform: SandboxProcess) -> dict[str, str]:
    listed = httpx.get(f"{platform.url}/_sandbox/accounts").raise_for_status().json()
    entries = listed["accounts"]
    return {entry["id"]: entry["state"] for entry in entries}


def test_all_lists_the_connected_accounts_and_which_would_be_synced(
    platform: SandboxProcess,
) -> None:
    known = states(platform)
    shown = accounts(platform)
    assert shown.returncode == 0, shown.stderr
    restricted = [a for a, state in known.items() if state == "restricted"]
    gone = [a for a, state in known.items() if state == "deauthorized"]
    active = [a for a, state in known.items() if state == "active"]
    assert (len(restricted), len(gone), len(active)) == (1, 1, 2)
    for account in restricted + active:
        assert account in shown.stdout
    assert gone[0] not in shown.stdout  # no longer connected, no longer listed
    assert "skipped: restricted by Stripe (requirements.past_due)" in shown.stdout
    assert "2 of 3 connected accounts would be synced" in shown.stdout


def test_named_accounts_are_retrieved_and_an_unreachable_one_reported(
    platform: SandboxProcess,
) -> None:
    known = states(platform)
    active = next(a for a, state in known.items() if state == "active")
    gone = next(a for a, state in known.items() if state == "deauthorized")
    shown = accounts(platform, "--accounts", f"{active},{gone}")
    assert shown.returncode == 0, shown.stderr
    assert "skipped: not reachable: not connected to the platform, or access" in shown.stdout
    assert "1 of 2 connected accounts would be synced" in shown.stdout
    assert SANDBOX_STRIPE_KEY not in shown.stdout + shown.stderr


def test_a_bad_selection_is_one_line(platform: SandboxProcess) -> None:
    shown = accounts(platform, "--accounts", "cus_123")
    assert shown.returncode == 2
    assert "is not a connected account id" in shown.stderr
    assert "Traceback" not in shown.stderr
