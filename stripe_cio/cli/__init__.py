"""The `stripe-cio` command line."""

from .root import app, main

__all__ = ["app", "main"]
