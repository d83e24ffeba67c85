"""Prefect task computing every person's attributes from the ledger."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from stripe_cio import LedgerSettings, ledger_settings_from_env
from stripe_cio.attributes import (
    AttributeResult,
    AttributeSettings,
    attribute_settings_from_env,
    load_frames,
)
from stripe_cio.attributes import compute_attributes as compute
from stripe_cio.ledger import Ledger

__all__ = ["compute_attributes"]


def _run(
    ledger_settings: LedgerSettings, settings: AttributeSettings, as_of: int
) -> AttributeResult:
    ledger = Ledger.open(ledger_settings)
    try:
        frames = load_frames(ledger.engine, settings)
    finally:
        ledger.close()
    return compute(frames, as_of, settings)


@task(name="compute-attributes", cache_policy=NO_CACHE)
async def compute_attributes(
    as_of: int | datetime,
    database_url: str | None = None,
    prefix: str | None = None,
    identifier: str | None = None,
) -> AttributeResult:
    """Every person's attributes as of `as_of`, from the ledger at `database_url` (else
    STRIPE_CIO_DATABASE_URL or the default SQLite file); `prefix` and `identifier` default to
    STRIPE_CIO_ATTRIBUTE_PREFIX and STRIPE_CIO_IDENTIFIER."""
    logger = get_run_logger()
    ledger_settings = (
        LedgerSettings.load({"database_url": database_url})
        if database_url
        else ledger_settings_from_env()
    )
    from_env = attribute_settings_from_env()
    settings = AttributeSettings.load(
        {
            "prefix": from_env.prefix if prefix is None else prefix,
            "identifier": identifier or from_env.identifier,
        }
    )
    seconds = int(as_of.timestamp()) if isinstance(as_of, datetime) else int(as_of)
    started = time.perf_counter()
    # Loading and computing are CPU-bound: keep the event loop free for Prefect meanwhile.
    result = await asyncio.to_thread(_run, ledger_settings, settings, seconds)
    logger.info(
        "attributes of %d persons from %s in %.1fs; skipped %s",
        len(result.attributes),
        ledger_settings.display_url,
        time.perf_counter() - started,
        result.skipped.as_dict(),
    )
    return result
