"""The reject-rate threshold through the real `sync-stripe-events` flow over the hostile corpus.

A sync whose rejects exceed the threshold (5% by default) fails before pushing anything, with
one line naming the rate, the threshold and the top reasons, and the failure notification
carries it; the same events with the threshold raised push what is good.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.client.schemas.objects import State

from flows import sync_stripe_events
from stripe_cio import LedgerSettings
from stripe_cio.ledger import Ledger
from stripe_cio.runs import RejectRateExceededError, RunSummary, attributes_mark
from stripe_cio.sandbox import SANDBOX_CIO_API_KEY, SANDBOX_CIO_SITE_ID, SandboxProcess
from tests._webhook import Webhook, save_webhook_block
from tests.reliability._crash._state import sandbox_call

from .hostile.corpus import CASES, NOW

pytestmark = pytest.mark.prefect
DAY = 86_400


def state_of(run: Any) -> State[Any]:
    async def wait() -> State[Any]:
        return await run  # type: ignore[no-any-return]

    return asyncio.run(wait())


def test_a_sync_over_the_reject_threshold_fails_notifies_and_pushes_nothing(
    hostile_stripe_box: SandboxProcess,
    hostile_cio_box: SandboxProcess,
    webhook: Webhook,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    for name, value in {
        "STRIPE_API_KEY": "sk_test_hostileflow0000",
        "STRIPE_API_BASE": hostile_stripe_box.url,
        "STRIPE_REQUESTS_PER_SECOND": "500",
        "CUSTOMERIO_SITE_ID": SANDBOX_CIO_SITE_ID,
        "CUSTOMERIO_API_KEY": SANDBOX_CIO_API_KEY,
        "CUSTOMERIO_TRACK_URL": hostile_cio_box.url,
        "STRIPE_CIO_DATABASE_URL": ledger_url,
    }.items():
        monkeypatch.setenv(name, value)
    sandbox_call(hostile_cio_box.url, "reset", {})
    # The sync's events listing answers a gateway's HTML page once: read again, then whole.
    broken = {"path": "/v1/events", "body": "html", "times": 1, "after": 1}
    sandbox_call(hostile_stripe_box.url, "config", {"corrupt_pages": [broken]})
    save_webhook_block(webhook, "hostile-ops")
    since = datetime.fromtimestamp(NOW - 29 * DAY, UTC)

    state = state_of(
        sync_stripe_events(
            since=since,
            notify_block=CustomWebhookNotificationBlock.load("hostile-ops"),
            return_state=True,
        )
    )

    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, RejectRateExceededError)
    message = str(error)
    events = [e for case in CASES for e in case.events]
    refused = [e for case in CASES for e in case.events if case.expect[f"event:{e['id']}"]
               .startswith("reject:")]  # fmt: skip
    assert message.startswith("sync-stripe-events: reject rate ")
    assert f" of {len(events)} records) exceeds the threshold of 5.0%; top reasons: " in message
    assert "Stripe event: " in message
    assert "\n" not in message
    [note] = webhook.wait_for(1, 15)
    assert note["subject"].startswith("stripe-cio: sync-stripe-events run '")
    assert f"Error: RejectRateExceededError: {message}" in note["body"]
    # It recorded what it read (events applied, cursor moved) and pushed nothing.
    with Ledger.open(LedgerSettings.load({"database_url": ledger_url})) as ledger:
        assert ledger.events_cursor() == max(e["created"] for e in events)
        assert attributes_mark(ledger.engine) is None  # the next run pushes their persons
        with ledger.engine.connect() as conn:
            processed = conn.exec_driver_sql("SELECT count(*) FROM processed_events").scalar()
    assert processed == len(events) - len(refused)
    assert sandbox_call(hostile_cio_box.url, "people") == []
    assert sandbox_call(hostile_cio_box.url, "events") == []
    assert sandbox_call(hostile_stripe_box.url, "config")["corrupt_pages"][0]["times"] == 0

    # The operator looked at the rejects and accepts them: the next run pushes the good records.
    summary = asyncio.run(sync_stripe_events(max_reject_rate=1.0))
    assert isinstance(summary, RunSummary)
    assert summary.persons_sent > 0
    delivered = sandbox_call(hostile_cio_box.url, "events")
    sent = Counter(e["data"]["stripe_event_id"] for e in delivered if e["type"] == "event")
    assert sent
    assert max(sent.values()) == 1
    assert summary.events_delivered == sum(sent.values())
    assert set(sent) <= {e["id"] for e in events} - {e["id"] for e in refused}
    # The malformed events, listed again within the overlap, are not rejected a second time.
    assert not [reason for reason in summary.rejected if reason.startswith("Stripe event")]
