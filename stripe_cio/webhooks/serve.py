"""`stripe-cio webhooks serve`: the receiver, and its delivery rounds in a process of their own.

The two share nothing but the ledger: the receiver queues each new event there
(`webhook_pending`) in the transaction that records it, and the delivery process takes the queue
a round at a time. Apart, a burst's delivery rounds (the ledger reads, the attributes, the
Customer.io requests) no longer hold up the acknowledgments Stripe waits for, and a restarted
receiver delivers what an earlier one had queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
from collections.abc import Callable, Mapping

from ..asgi import run_server
from ..exceptions import ConfigError
from ..jobs.common import Connections
from ..jobs.runner import PlainRunner
from ..runs import RunSummary
from ..settings_base import ENV_NAMES
from ..stripe_api import STRIPE_API_VERSION
from .delivery import DeliveryLoop, deliver_webhook_events
from .receiver import FLUSH_SECONDS, Receiver
from .store import add_counts

log = logging.getLogger(__name__)
NAME = "stripe-cio webhooks"
# How long a stopping receiver lets its delivery process finish the round it is in.
STOP_SECONDS = 30.0


def webhook_secrets(conns: Connections) -> list[str]:
    """The endpoint's signing secrets, or the one-line error saying how to give them."""
    secrets = [secret.get_secret_value() for secret in conns.stripe_settings().webhook_secrets]
    if not secrets:
        raise ConfigError(
            ENV_NAMES[("stripe", "webhook_secrets")],
            "is not set",
            "give the endpoint's signing secret (whsec_..., Stripe's dashboard: Developers > "
            "Webhooks > the endpoint > Signing secret) in it or in the Stripe credentials "
            "block's webhook_secrets",
        )
    return secrets


def serve_webhooks(
    conns: Connections,
    *,
    host: str,
    port: int,
    poll: float = 0.05,
    on_summary: Callable[[RunSummary], None] | None = None,
    setup: Callable[[], None] | None = None,
) -> None:
    """Serve `POST /webhooks/stripe` and deliver what arrives, until interrupted.

    `on_summary` gets each delivery round's summary and `setup` (logging, say) runs first, both
    in the delivery process: they must be picklable (module-level functions, or partials of
    them).
    """
    secrets = webhook_secrets(conns)
    conns.customerio_settings()  # fail now, not at the first delivery
    ledger = conns.open_ledger()
    receiver = Receiver(ledger.engine, secrets, STRIPE_API_VERSION)

    def started() -> multiprocessing.process.BaseProcess:
        # Spawned, not forked: the parent has threads (the ledger's, uvicorn's) by then.
        process = multiprocessing.get_context("spawn").Process(
            target=deliver_rounds,
            args=(conns, poll, os.getpid(), on_summary, setup),
            name=f"{NAME} delivery",
            daemon=True,
        )
        process.start()
        return process

    delivery: multiprocessing.process.BaseProcess | None = None

    async def companion() -> None:
        """The delivery process, once the receiver listens (its start-up, importing the
        attribute engine, would otherwise delay the receiver's); then every FLUSH_SECONDS: the
        counters to the ledger, and a delivery process that died replaced (its queue waits in
        the ledger meanwhile)."""
        nonlocal delivery
        delivery = await asyncio.to_thread(started)
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            try:
                await asyncio.to_thread(receiver.flush)
            except Exception as exc:  # the ledger is away a moment: the next flush retries
                log.warning("the webhook counters could not be written: %s", type(exc).__name__)
            if delivery is None or not delivery.is_alive():
                log.warning(
                    "the webhook delivery process exited (code %s); starting another",
                    None if delivery is None else delivery.exitcode,
                )
                delivery = await asyncio.to_thread(started)

    try:
        run_server(receiver, host=host, port=port, name=NAME, lifespan="on", companion=companion)
    finally:
        with contextlib.suppress(Exception):
            receiver.flush()
        if delivery is not None:
            _stop(delivery)
        ledger.close()


def _stop(delivery: multiprocessing.process.BaseProcess) -> None:
    """Let the delivery process end its round and stop (SIGINT, as Ctrl-C gives it); kill it
    past STOP_SECONDS. What it leaves stays queued for the next start, and the sync sends it."""
    if delivery.pid is not None and delivery.is_alive():
        with contextlib.suppress(ProcessLookupError):
            os.kill(delivery.pid, signal.SIGINT)
    delivery.join(STOP_SECONDS)
    if delivery.is_alive():
        delivery.kill()
        delivery.join()


def deliver_rounds(
    conns: Connections,
    poll: float,
    parent: int,
    on_summary: Callable[[RunSummary], None] | None,
    setup: Callable[[], None] | None,
) -> None:
    """The delivery process: rounds of `deliver_webhook_events` over the queued events, until
    interrupted or the receiver `parent` is gone (killed: the next receiver starts its own)."""
    if setup is not None:
        setup()
    runner = PlainRunner(NAME, on_summary=on_summary)
    ledger = conns.open_ledger()

    async def deliver(event_ids: set[str]) -> None:
        await deliver_webhook_events(conns, runner, event_ids)

    def count(counts: Mapping[str, int]) -> None:
        with contextlib.suppress(Exception):  # a counter is not worth a failed round
            add_counts(ledger.engine, counts)

    loop = DeliveryLoop(ledger.engine, deliver, poll=poll)
    try:
        asyncio.run(loop.run(on_round=count, alive=lambda: os.getppid() == parent))
    except KeyboardInterrupt:
        pass
    finally:
        ledger.close()
