"""What an operator is told when a run fails: one message, built purely, secrets masked."""

from .message import FailureReport

__all__ = ["FailureReport"]
