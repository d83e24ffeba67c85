"""Why a pipeline run stopped or did nothing."""

from __future__ import annotations

from .._exceptions import StripeCioError

__all__ = ["BackfillIncompleteError", "RejectRateExceededError", "RunInProgressError"]


class RunInProgressError(StripeCioError):
    """Another run holds the ledger's lock; this one was refused before doing anything."""


class BackfillIncompleteError(StripeCioError):
    """Some slices of a backfill could not be read; the run can be resumed to read them."""


class RejectRateExceededError(StripeCioError):
    """A run rejected more of its input than the configured share (STRIPE_CIO_MAX_REJECT_RATE)."""
