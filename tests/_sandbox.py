"""What several test folders share about the sandboxes."""

from __future__ import annotations

# The Customer.io sandbox's fault settings, all off (`POST /_sandbox/config`).
NO_FAULTS = {
    "rps": None,
    "burst": None,
    "fail_rate": 0,
    "drop_rate": 0,
    "latency_ms": 0,
    "slow_rate": 0,
    "rate_limit_burst_rate": 0,
}
