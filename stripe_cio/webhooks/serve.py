"""`stripe-cio webhooks serve`: the receiver and its delivery loop in one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping

from ..asgi import run_server
from ..exceptions import ConfigError
from ..jobs.common import Connections
from ..jobs.runner import PlainRunner
from ..runs import RunSummary
from ..settings_base import ENV_NAMES
from ..stripe_api import STRIPE_API_VERSION
from .delivery import deliver_webhook_events
from .receiver import FLUSH_SECONDS, DeliveryLoop, Receiver
from .store import add_counts

log = logging.getLogger(__name__)
NAME = "stripe-cio webhooks"


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
    linger: float = 0.05,
    on_summary: Callable[[RunSummary], None] | None = None,
) -> None:
    """Serve `POST /webhooks/stripe` and deliver what arrives, until interrupted."""
    secrets = webhook_secrets(conns)
    conns.customerio_settings()  # fail now, not at the first delivery
    ledger = conns.open_ledger()
    runner = PlainRunner(NAME, on_summary=on_summary)

    async def deliver(event_ids: set[str]) -> None:
        await deliver_webhook_events(conns, runner, event_ids)

    loop = DeliveryLoop(deliver, linger=linger)
    receiver = Receiver(ledger.engine, secrets, STRIPE_API_VERSION, loop.add)

    def count(counts: Mapping[str, int]) -> None:
        receiver.unflushed.update(counts)

    async def flushing() -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            try:
                await asyncio.to_thread(receiver.flush)
            except Exception as exc:  # the ledger is away a moment: the next flush retries
                log.warning("the webhook counters could not be written: %s", type(exc).__name__)

    async def companion() -> None:
        await asyncio.gather(loop.run(on_round=count), flushing())

    try:
        run_server(receiver, host=host, port=port, name=NAME, lifespan="on", companion=companion)
    finally:
        with contextlib.suppress(Exception):
            receiver.flush()
        if loop.pending:
            log.warning(
                "%d received events were not delivered before the receiver stopped: the next "
                "sync sends them",
                loop.pending,
            )
            with contextlib.suppress(Exception):
                add_counts(ledger.engine, {"undelivered_at_stop": loop.pending})
        ledger.close()
