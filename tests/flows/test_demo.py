"""`stripe-cio demo` end to end, with a smaller account: every step runs and is reported."""

from __future__ import annotations

import re

import httpx
import pytest
from prefect.settings import PREFECT_API_URL
from rich.console import Console

from cli.demo import run_demo

pytestmark = pytest.mark.prefect


def test_the_demo_runs_the_pipeline_and_reports_it(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    # The harness's server stands in for the one the demo would otherwise start.
    monkeypatch.setenv("PREFECT_API_URL", str(PREFECT_API_URL.value()))
    monkeypatch.setenv("COLUMNS", "160")
    run_demo(Console(width=160), customers=150, months=4)
    said = capfd.readouterr().out

    pulled = re.search(r"│ customers\s+│\s+([\d,]+)", said)
    assert pulled is not None
    assert int(pulled.group(1).replace(",", "")) > 100
    enriched = re.search(r"2\. enrich-profiles: ([\d,]+) persons, ([\d,]+) accepted", said)
    assert enriched is not None
    assert enriched.group(1) == enriched.group(2) != "0"
    assert "3. The Stripe sandbox's clock moved one day" in said
    synced = re.search(r"4\. sync-stripe-events: ([\d,]+) Stripe events applied", said)
    assert synced is not None
    assert int(synced.group(1).replace(",", "")) > 0
    assert "Attributes Customer.io holds" in said
    assert "stripe_total_spent" in said
    assert "How long each step took" in said
    assert "Open backfill-history in the Prefect UI: http" in said
    assert "Open sync-stripe-events in the Prefect UI: http" in said
    assert re.search(r"Done in \d+\.\ds; the sandboxes are stopped", said)
    # Both sandboxes are gone.
    for url in re.findall(r"(?:Stripe|Customer\.io) (http://127\.0\.0\.1:\d+)", said):
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{url}/_sandbox/health", timeout=2)
