"""Why a pipeline run stopped or did nothing.

                                  exit code
StripeCioError
├── RunInProgressError           75   another run holds the ledger's lock; this one did nothing
└── RunFailedError                1   the run ended without doing all its work (summary published)
    ├── BackfillIncompleteError   slices stayed unreadable; resume the run to read them
    ├── EventsIncompleteError     an events page stayed unreadable; the cursor stayed
    ├── HistoriesIncompleteError  a customer's history could not be read; nothing of it sent
    └── RejectRateExceededError   more rejects than STRIPE_CIO_MAX_REJECT_RATE allows
"""

from __future__ import annotations

from ..exceptions import StripeCioError


class RunInProgressError(StripeCioError):
    """Another run holds the ledger's lock; this one was refused before doing anything."""

    exit_code = 75  # EX_TEMPFAIL (sysexits.h): try again later
    label = "refused"


class RunFailedError(StripeCioError):
    """A run stopped short of its work; what it did is in its published summary."""

    exit_code = 1
    label = "run failed"


class BackfillIncompleteError(RunFailedError):
    """Some slices of a backfill could not be read; the run can be resumed to read them."""


class EventsIncompleteError(RunFailedError):
    """An events page stayed unreadable: the cursor stays before it, the next sync reads it."""


class HistoriesIncompleteError(RunFailedError):
    """Some customers' histories could not be read from Stripe; their persons were not sent."""


class RejectRateExceededError(RunFailedError):
    """A run rejected more of its input than the configured share (STRIPE_CIO_MAX_REJECT_RATE)."""
