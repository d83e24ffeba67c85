"""Which task failures Prefect retries: unavailability yes, settings and 4xx never."""

from __future__ import annotations

from typing import Any

import pytest

from stripe_cio import (
    ConfigError,
    CustomerIOAuthError,
    CustomerIORequestError,
    CustomerIOUnavailableError,
    LedgerAccessError,
    LedgerDamagedError,
    LedgerUnavailableError,
    LedgerVersionError,
    PrefectUnavailableError,
    StripeAuthError,
    StripeRequestError,
    StripeUnavailableError,
)
from stripe_cio.extract import ExtractionStopped
from tasks.steps import transient_only


class FailedState:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    def result(self, *, raise_on_failure: bool, _sync: bool) -> Any:
        assert raise_on_failure is False
        assert _sync is True
        return self.error


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (StripeUnavailableError("down", status_code=503), True),
        (CustomerIOUnavailableError("throttled", status_code=429), True),
        (TimeoutError("slow"), True),
        (StripeAuthError("bad key", status_code=401), False),
        (CustomerIOAuthError("wrong region", status_code=401), False),
        (StripeRequestError("bad param", status_code=400), False),
        (ConfigError("STRIPE_API_KEY", "is empty", "set it"), False),
        (ExtractionStopped("rk_ key lacks read permission on charges"), False),
        (ValueError("a bug"), False),
        # A region mismatch found by the region check carries no HTTP status: still permanent.
        (CustomerIORequestError("the workspace is in region 'eu'"), False),
        (LedgerUnavailableError("the ledger's server did not answer"), True),
        (LedgerAccessError("password authentication failed"), False),
        (LedgerDamagedError("file is not a database"), False),
        (LedgerVersionError("schema version 9"), False),
        (PrefectUnavailableError("the Prefect API did not answer"), True),
    ],
)
def test_only_transient_failures_are_retried(error: BaseException, retry: bool) -> None:
    assert transient_only(None, None, FailedState(error)) is retry
