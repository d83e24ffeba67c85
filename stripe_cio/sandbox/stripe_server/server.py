"""`serve()`: build the account (generated or from a fixtures file) and run it under uvicorn."""

from __future__ import annotations

import gc
import logging
import time
from pathlib import Path

from ...asgi import run_server
from ..faults import FaultConfig
from .accounts import ConnectPlatform
from .app import Account, StripeSandboxApp
from .fixtures import load_fixtures
from .shards import ShardedAccount
from .store import StripeStore
from .webhooks import WebhookConfig

log = logging.getLogger(__name__)

# From this many customers, bodies are compressed so that 100,000 customers fit in 3 GB; smaller
# accounts keep plain bodies, the fastest to serve.
COMPRESS_FROM_CUSTOMERS = 20_000
# From this many customers, SHARDS processes generate the account (see shards): one process
# takes minutes for 100,000 customers. The shard count is fixed, not the number of cores, so
# that an account stays the same for a seed on every machine. Three, on two cores: while one
# shard waits on its pipe or the server files a batch, another is ready to run, and a smaller
# shard's simulation fits the caches better (the shards' CPU per object is lower with three
# than with two; wall times overlap within the machine's noise, see docs/sandbox.md).
SHARD_FROM_CUSTOMERS = 20_000
SHARDS = 3


def build_app(
    *,
    seed: int = 42,
    customers: int = 1000,
    months: int = 12,
    fixtures: Path | None = None,
    now: int,
    rps: float | None = 25.0,
    latency_ms: float = 0.0,
    fail_rate: float = 0.0,
    api_key: str | None = None,
    webhooks: WebhookConfig | None = None,
    accounts: int = 0,
    restricted_accounts: int = 0,
    deauthorized_accounts: int = 0,
) -> StripeSandboxApp:
    """The sandbox app with its account loaded; raises ConfigError for a bad fixtures file.

    `accounts` > 0 makes it a Connect platform with that many connected accounts (see
    accounts), that many of them restricted or deauthorised from the start.
    """
    started, cpu_started = time.perf_counter(), time.process_time()
    account: Account | None = None
    if fixtures is not None:
        store = StripeStore()
        load_fixtures(fixtures, store)
    else:
        store = StripeStore(compress=customers >= COMPRESS_FROM_CUSTOMERS)
        if customers >= SHARD_FROM_CUSTOMERS:
            sharded = ShardedAccount(
                store, seed=seed, customers=customers, months=months, now=now, shards=SHARDS
            )
            sharded.generate()
            account = sharded
        else:
            from ..synthetic import SyntheticAccount  # lazy: only generated accounts need it

            single = SyntheticAccount(store, seed=seed, customers=customers, months=months, now=now)
            single.generate()
            account = single
        store.settle()
    load_seconds = time.perf_counter() - started
    log.info(
        "stripe sandbox account ready in %.1fs: %s",
        load_seconds,
        ", ".join(f"{n} {name}" for name, n in store.counts().items()),
    )
    faults = FaultConfig(rps=rps or None, latency_ms=latency_ms, fail_rate=fail_rate)
    connect = None
    if accounts:
        # Their data is generated on first use, so this costs next to nothing at start.
        connect = ConnectPlatform(
            seed=seed,
            customers=customers,
            months=months,
            now=now,
            count=accounts,
            restricted=restricted_accounts,
            deauthorized=deauthorized_accounts,
        )
    app = StripeSandboxApp(
        store,
        now=now,
        faults=faults,
        api_key=api_key,
        account=account,
        seed=seed,
        webhooks=webhooks,
        connect=connect,
    )
    app.load_seconds = load_seconds
    app.load_cpu_seconds = time.process_time() - cpu_started
    return app


def serve(
    *,
    host: str,
    port: int,
    seed: int,
    customers: int,
    months: int,
    fixtures: Path | None,
    now: int,
    rps: float,
    latency_ms: float,
    fail_rate: float,
    api_key: str | None,
    live_speed: float | None = None,
    webhooks: WebhookConfig | None = None,
    accounts: int = 0,
    restricted_accounts: int = 0,
    deauthorized_accounts: int = 0,
) -> None:
    """Load the account, then serve it until interrupted (one process, one event loop).

    `live_speed`: the account's clock runs with wall time, that many sandbox seconds to each
    second, generating the activity as it goes (what `POST /_sandbox/advance` does by hand).
    `webhooks`: where and how the events created from then on are delivered (see webhooks).
    `accounts`: connected accounts of a Connect platform (see build_app).
    """
    app = build_app(
        seed=seed,
        customers=customers,
        months=months,
        fixtures=fixtures,
        now=now,
        rps=rps,
        latency_ms=latency_ms,
        fail_rate=fail_rate,
        api_key=api_key,
        webhooks=webhooks,
        accounts=accounts,
        restricted_accounts=restricted_accounts,
        deauthorized_accounts=deauthorized_accounts,
    )
    # The account's millions of records live as long as this process: a full collection would
    # walk them all again for nothing, in the middle of a page (docs/sandbox.md, Scale).
    gc.freeze()
    clock = None if live_speed is None else (lambda: app.run_clock(live_speed))
    run_server(app, host=host, port=port, name="stripe sandbox", lifespan="on", companion=clock)
