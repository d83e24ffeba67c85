"""A local Customer.io Track API (v1 and v2) that records people and events for inspection.

`stripe-cio sandbox customerio --port P` serves it; see docs/sandbox-customerio.md.
"""

from .app import CioSandboxApp
from .server import serve
from .state import Store

__all__ = ["CioSandboxApp", "Store", "serve"]
