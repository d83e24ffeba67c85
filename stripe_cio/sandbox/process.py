"""Run a sandbox server in its own process on a free loopback port, for tests, demo and bench."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on `host`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class SandboxProcess:
    """``with SandboxProcess("stripe", "--customers", "200") as sandbox: sandbox.url ...``

    Starts `stripe-cio sandbox <api> --port P ...` and waits until `GET /_sandbox/health`
    answers; stops the process on exit. The server's output goes to `log_path` when given.
    """

    def __init__(
        self,
        api: str,
        *args: str,
        host: str = "127.0.0.1",
        startup_timeout: float = 120.0,
        log_path: Path | None = None,
    ) -> None:
        self.api = api
        self.args = args
        self.host = host
        self.port = free_port(host)
        self.url = f"http://{host}:{self.port}"
        self.startup_timeout = startup_timeout
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "stripe_cio.sandbox",
            self.api,
            "--host",
            self.host,
            "--port",
            str(self.port),
            *self.args,
        ]
        output = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command, stdout=output, stderr=subprocess.STDOUT, env={**os.environ}
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"sandbox {self.api} exited with code {self._process.returncode} at start"
                )
            try:
                if httpx.get(f"{self.url}/_sandbox/health", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"sandbox {self.api} did not start within {self.startup_timeout:g}s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
