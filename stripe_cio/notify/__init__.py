"""What an operator is told when a run fails: one message, built purely, secrets masked."""

from ._message import FailureReport

__all__ = ["FailureReport"]
