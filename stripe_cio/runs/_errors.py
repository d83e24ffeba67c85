"""Why a pipeline run stopped or did nothing."""

from __future__ import annotations

from .._exceptions import StripeCioError

__all__ = ["BackfillIncompleteError", "RunInProgressError"]


class RunInProgressError(StripeCioError):
    """Another run holds the ledger's lock; this one was refused before doing anything."""


class BackfillIncompleteError(StripeCioError):
    """Some slices of a backfill could not be read; the run can be resumed to read them."""
