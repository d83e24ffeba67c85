"""`stripe-cio doctor`: reach everything a run needs (the ledger, Stripe, Customer.io, the Prefect
API) and say of each, in one line, that it works or what is wrong and what to do.

The checks read and never write: the ledger is not created or migrated, nothing is sent to
Customer.io. The Prefect check imports Prefect (seconds) in a thread, while the others run.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from importlib import import_module

from rich.console import Console

from stripe_cio.cio_api import CustomerIOClient
from stripe_cio.exceptions import StripeCioError
from stripe_cio.ledger import diagnose_ledger
from stripe_cio.redaction import mask_url, redact
from stripe_cio.retry import RetryPolicy
from stripe_cio.settings import (
    customerio_settings_from_env,
    ledger_settings_from_env,
    stripe_settings_from_env,
)
from stripe_cio.stripe_api import StripeClient

# A doctor answers in seconds: a few quick tries tell an API that is away from one that
# blinked, where a run's clients keep trying for minutes.
DOCTOR_RETRY = RetryPolicy(max_attempts=3, base_delay=0.25, max_delay=1.0)
DOCTOR_TIMEOUT = 10.0


@dataclass(frozen=True)
class Check:
    """One thing a run needs, and what it was found to be."""

    name: str
    ok: bool
    line: str
    exit_code: int = 0


# A check: its name, and a coroutine function saying what it found (raising when it failed).
CheckFn = Callable[[Mapping[str, str]], Awaitable[str]]


async def _ledger(env: Mapping[str, str]) -> str:
    return await asyncio.to_thread(diagnose_ledger, ledger_settings_from_env(env))


async def _stripe(env: Mapping[str, str]) -> str:
    settings = stripe_settings_from_env(env)
    started = time.monotonic()
    async with StripeClient(settings, retry=DOCTOR_RETRY, timeout=DOCTOR_TIMEOUT) as client:
        # Listing one customer needs only the permission every backfill needs.
        await client.get("/v1/customers", {"limit": 1})
    mode = "live" if settings.livemode else "test"
    return (
        f"{mask_url(settings.api_base)}: the {mode}-mode key may read customers "
        f"({(time.monotonic() - started) * 1000:.0f} ms)"
    )


async def _customerio(env: Mapping[str, str]) -> str:
    settings = customerio_settings_from_env(env)
    started = time.monotonic()
    async with CustomerIOClient(settings, retry=DOCTOR_RETRY, timeout=DOCTOR_TIMEOUT) as client:
        await client.verify_region()
    return (
        f"{mask_url(settings.base_url)}: site id {settings.site_id!r} accepted, region "
        f"{settings.region!r} matches the workspace ({(time.monotonic() - started) * 1000:.0f} ms)"
    )


async def _prefect(env: Mapping[str, str]) -> str:
    orchestration = await asyncio.to_thread(import_module, f"{__package__}.orchestration")
    line: str = await orchestration.prefect_api_check(env)
    return line


CHECKS: tuple[tuple[str, CheckFn], ...] = (
    ("ledger", _ledger),
    ("Stripe", _stripe),
    ("Customer.io", _customerio),
    ("Prefect API", _prefect),
)


async def _run(name: str, check: CheckFn, env: Mapping[str, str]) -> Check:
    try:
        line = await check(env)
    except StripeCioError as exc:
        return Check(name, False, redact(str(exc)), exc.exit_code)
    except Exception as exc:  # a check must not stop the others
        problem = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return Check(name, False, redact(f"{type(exc).__name__}: {problem}"), 70)
    return Check(name, True, redact(line))


async def run_checks(env: Mapping[str, str]) -> list[Check]:
    """Every check, at once (they are independent), each failure caught and described."""
    return list(await asyncio.gather(*(_run(name, check, env) for name, check in CHECKS)))


def doctor_command() -> None:
    """Check that the ledger, Stripe, Customer.io and the Prefect API can be reached.

    Uses the settings in the environment and says what to do about each that cannot. Reads
    only.

    Exits 0 when all is well, else with the exit code of the first failure (docs/reliability.md).

    Example: stripe-cio doctor
    """
    console = Console(soft_wrap=True, highlight=False)
    checks = asyncio.run(run_checks(os.environ))
    width = max(len(c.name) for c in checks)
    for check in checks:
        mark = "[green]ok  [/green]" if check.ok else "[red]FAIL[/red]"
        console.print(f"{mark} {check.name:<{width}}  {check.line}", markup=True)
    failed = [c for c in checks if not c.ok]
    if failed:
        raise SystemExit(failed[0].exit_code)
