"""The failure message: every line the operator needs, secrets masked, long errors cut."""

from __future__ import annotations

from stripe_cio import register_secret
from stripe_cio.notify import FailureReport


def test_the_message_names_flow_run_step_error_and_link() -> None:
    report = FailureReport(
        flow="sync-stripe-events",
        run="brave-otter",
        run_id="0b1c",
        state="Crashed",
        error="StripeAuthError: Stripe refused the key",
        step="sync-stripe-events-task",
        url="http://prefect.local/runs/flow-run/0b1c",
    )
    assert report.subject == "stripe-cio: sync-stripe-events run 'brave-otter' crashed"
    assert report.body.splitlines() == [
        "Flow: sync-stripe-events",
        "Run: brave-otter (0b1c)",
        "State: Crashed",
        "Failing step: sync-stripe-events-task",
        "Error: StripeAuthError: Stripe refused the key",
        "Run page: http://prefect.local/runs/flow-run/0b1c",
    ]


def test_secrets_are_masked_and_long_errors_cut() -> None:
    register_secret("cio-registered-secret-42")
    report = FailureReport(
        flow="f", run="r", run_id="1", state="Failed",
        error="key sk_live_abcdefgh12345678 and cio-registered-secret-42 " + "x" * 5_000,
    )  # fmt: skip
    body = report.body
    assert "sk_live_abcdefgh12345678" not in body
    assert "cio-registered-secret-42" not in body
    assert "Failing step: the flow itself (no task failed)" in body
    assert "Run page" not in body
    assert len(body) < 2_000
    assert body.endswith("…")
