"""`stripe-cio webhooks serve` in its own process, as the webhook tests run it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from stripe_cio.sandbox import SandboxProcess, sandbox_environment
from stripe_cio.webhooks import signature_header
from stripe_cio.webhooks.store import read_counts
from tests.jobs._world import World

SECRET = "whsec_test_receiver_secret"
STRIPE_CIO = str(Path(sys.executable).with_name("stripe-cio"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Receiver:
    """`stripe-cio webhooks serve` in its own process, and a client posting to it."""

    def __init__(
        self,
        world: World,
        stripe_box: SandboxProcess,
        cio_box: SandboxProcess,
        port: int | None = None,
    ) -> None:
        self.world = world
        self.port = port or _free_port()
        env = sandbox_environment(os.environ, stripe_box.url, cio_box.url, world.ledger_url)
        env.update(STRIPE_REQUESTS_PER_SECOND="500", STRIPE_WEBHOOK_SECRET=SECRET)
        self.env = env
        self.process: subprocess.Popen[str] | None = None
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)

    def start(self, *extra: str) -> None:
        self.process = subprocess.Popen(
            [STRIPE_CIO, "webhooks", "serve", "--port", str(self.port), *extra],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert "listening on" in line, line

    def stop(self, sig: int = signal.SIGINT) -> str:
        assert self.process is not None
        self.process.send_signal(sig)
        out, _ = self.process.communicate(timeout=60)
        return out

    def post(self, body: bytes, header: str | None) -> httpx.Response:
        headers = {"content-type": "application/json"}
        if header is not None:
            headers["stripe-signature"] = header
        return self.http.post("/webhooks/stripe", content=body, headers=headers)

    def deliver(self, event: dict[str, Any]) -> httpx.Response:
        body = orjson.dumps(event)
        return self.post(body, signature_header(body, [SECRET], int(time.time())))

    def counts(self) -> dict[str, int]:
        with self.world.ledger() as ledger:
            return read_counts(ledger.engine)

    def wait_delivered(self, events: int, timeout: float = 120.0) -> dict[str, int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            counts = self.counts()
            if counts.get("delivered", 0) >= events:
                return counts
            time.sleep(0.2)
        raise AssertionError(f"not delivered in {timeout} s: {self.counts()}")
