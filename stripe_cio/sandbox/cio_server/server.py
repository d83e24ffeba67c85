"""Run the Customer.io sandbox under uvicorn in this process (what the CLI calls)."""

from __future__ import annotations

import gc

from ...asgi import run_server
from .. import SANDBOX_CIO_API_KEY, SANDBOX_CIO_SITE_ID
from ..faults import FaultConfig
from .app import CioSandboxApp


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 12112,
    rps: float = 100.0,
    latency_ms: float = 0.0,
    fail_rate: float = 0.0,
    site_id: str = SANDBOX_CIO_SITE_ID,
    api_key: str = SANDBOX_CIO_API_KEY,
) -> None:
    """Serve until interrupted; `rps` 0 turns the rate limiter off.

    100 requests/s is Customer.io's Track API fair-use limit, for v1 and v2 alike
    (https://docs.customer.io/integrations/api/customerio-apis/, "Track API").
    """
    # The workspace is millions of small long-lived dicts; default GC thresholds would scan
    # them over and over while a batch allocates. Collect young objects far less often.
    gc.set_threshold(100_000, 50, 100)
    config = FaultConfig(rps=rps or None, latency_ms=latency_ms, fail_rate=fail_rate)
    app = CioSandboxApp(site_id=site_id, api_key=api_key, config=config)
    run_server(app, host=host, port=port, name="customerio sandbox")
