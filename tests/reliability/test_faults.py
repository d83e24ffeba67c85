"""Fault soak: with both sandboxes failing a fifth of their requests with 5xx, opening bursts of
429s, dropping 1% of connections and holding some answers 2 seconds, the pipeline (backfill →
enrich → sync, restarted when a phase fails after the clients' retries, as Prefect's task
retries or the next scheduled run would) ends exactly as a run without faults (issue 9, part 2).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from stripe_cio.sandbox import SandboxProcess
from tests.reliability._crash._compare import Reference, assert_same_end_state
from tests.reliability._crash._harness import Account, PipelineRun
from tests.reliability._crash._zygote import Zygote

CI_ACCOUNT = Account(customers=120, months=2, rounds=2)
SOAK_ACCOUNT = Account(customers=1000, months=6, rounds=3)

FAULTS = {
    "fail_rate": 0.2,  # 20% 5xx
    "rate_limit_burst_rate": 0.03,  # bursts of 429s
    "rate_limit_burst_length": 5,
    "drop_rate": 0.01,  # 1% dropped connections
    "slow_rate": 0.02,  # 2-second latency spikes
    "slow_ms": 2000,
}


def configure(url: str, settings: dict[str, Any]) -> None:
    with httpx.Client(base_url=url, timeout=30) as http:
        http.post("/_sandbox/config", json=settings).raise_for_status()


def statuses(url: str, api: str) -> dict[str, int]:
    """Answers by HTTP status over the sandbox's life ("0": a dropped connection)."""
    with httpx.Client(base_url=url, timeout=30) as http:
        if api == "stripe":
            counts: dict[str, int] = http.get("/_sandbox/stats").json()["requests"]
            return counts
        by_endpoint = http.get("/_sandbox/requests").json()["by_endpoint"]
    total: dict[str, int] = {}
    for endpoint, by_status in by_endpoint.items():
        if endpoint.startswith(("POST /api/", "GET /api/")):
            for status, count in by_status.items():
                total[status] = total.get(status, 0) + count
    return total


@pytest.mark.parametrize(
    "account",
    [
        pytest.param(CI_ACCOUNT, id="ci"),
        pytest.param(SOAK_ACCOUNT, id="soak", marks=pytest.mark.soak),
    ],
)
def test_faults_on_both_apis_end_as_a_clean_run(
    account: Account,
    zygote: Zygote,
    stripe_boxes: Any,
    reference_run: Callable[[Account], Reference],
    cio_box: SandboxProcess,
    database_url: str,
    tmp_path: Path,
) -> None:
    reference = reference_run(account)
    stripe_box = stripe_boxes.take(account)
    url = database_url
    try:
        configure(stripe_box.url, FAULTS)
        configure(cio_box.url, FAULTS)
        run = PipelineRun(zygote, account, stripe_box.url, cio_box.url, url, tmp_path / "run")
        tally = run.run()
        stripe_seen = statuses(stripe_box.url, "stripe")
    finally:
        stripe_box.stop()
    cio_seen = statuses(cio_box.url, "customerio")
    print(
        f"\nfault soak ({url.partition(':')[0]}): {tally.seconds:.1f}s, "
        f"{tally.failed_restarts} phases restarted after failing; "
        f"Stripe answered {stripe_seen}, Customer.io {cio_seen}"
    )
    assert_same_end_state(reference, cio_box.url, url)
    # The faults happened. The Stripe sandbox draws them from a stream seeded by the account's
    # seed, so over its hundred-odd requests they are the same on every run; Customer.io gets
    # a dozen requests (batches are large), too few to require each kind of fault there.
    assert stripe_seen.get("500", 0) > 0
    assert stripe_seen.get("429", 0) > 0
