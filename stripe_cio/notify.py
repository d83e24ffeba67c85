"""What an operator is told when a run fails: flow, run, failing step, error and a link, in one
short text, built purely, secrets masked."""

from __future__ import annotations

from dataclasses import dataclass

from .redaction import redact

# An error longer than this is a dump, not a message; the run's page and logs have the rest.
_MAX_ERROR = 1_500


def _shorten(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class FailureReport:
    """A run that ended Failed or Crashed, as the operator should read it."""

    flow: str
    run: str  # the run's name, e.g. "silly-fox"
    run_id: str
    state: str  # "Failed" or "Crashed"
    error: str
    step: str | None = None  # the task run that failed; None when the flow itself failed
    url: str | None = None  # the run in the Prefect UI, when a UI URL is known

    @property
    def subject(self) -> str:
        """One line: which flow, which run, what happened."""
        return redact(f"stripe-cio: {self.flow} run {self.run!r} {self.state.lower()}")

    @property
    def body(self) -> str:
        """Flow, run, failing step, error and link, one per line, secrets masked."""
        lines = [
            f"Flow: {self.flow}",
            f"Run: {self.run} ({self.run_id})",
            f"State: {self.state}",
            f"Failing step: {self.step or 'the flow itself (no task failed)'}",
            f"Error: {_shorten(self.error, _MAX_ERROR) or '(no message)'}",
        ]
        if self.url:
            lines.append(f"Run page: {self.url}")
        return redact("\n".join(lines))
