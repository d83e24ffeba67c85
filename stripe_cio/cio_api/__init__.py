"""Access to Customer.io's Track API."""

from ._client import CustomerIOClient

__all__ = ["CustomerIOClient"]
