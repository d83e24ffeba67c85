"""A notification webhook on loopback for tests: a real HTTP server keeping what is POSTed.

The class is plain (no Prefect); `save_webhook_block` saves a Prefect block pointing at it, and
the root conftest's `webhook` fixture starts and stops one per test.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Webhook", "save_webhook_block"]


class Webhook:
    """A real HTTP server on loopback that keeps the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/notify"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def wait_for(self, count: int, seconds: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + seconds
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.received

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def save_webhook_block(webhook: Webhook, name: str) -> None:
    """Save a custom-webhook notification block called `name` that posts to `webhook`."""
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    CustomWebhookNotificationBlock(
        name=name, url=webhook.url, json_data={"subject": "{{subject}}", "body": "{{body}}"}
    ).save(name, overwrite=True)
