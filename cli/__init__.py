"""The `stripe-cio` command line: every command, each imported only when it runs."""

from .root import app, main

__all__ = ["app", "main"]
