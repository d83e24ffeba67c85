"""The secret-masking log filter, put in place inside each flow run's own process."""

from __future__ import annotations

from typing import Any

from stripe_cio import install_log_redaction


def redact_run_logs(flow: Any, flow_run: Any, state: Any) -> None:
    """Flow hook: mask secrets in every log handler of this process, run logs to the API included.

    A worker or `serve` starts each run in a process of its own, after Prefect configured its
    logging and without the `stripe-cio` CLI that installs the filter otherwise, so the flow
    does it as it starts running. Secrets are never logged on purpose; this is the net.
    """
    install_log_redaction()
