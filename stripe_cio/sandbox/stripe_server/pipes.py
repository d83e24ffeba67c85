"""Duplex: a message channel over two OS pipes, for the sandbox's generator processes."""

from __future__ import annotations

from multiprocessing.connection import Connection
from typing import Any


class Duplex:
    """Both ends a process talks through: one pipe to write to, one to read from."""

    def __init__(self, *, write_fd: int, read_fd: int) -> None:
        self.writer = Connection(write_fd, readable=False)
        self.reader = Connection(read_fd, writable=False)

    def send(self, message: Any) -> None:
        """Pickle `message` and write it whole."""
        self.writer.send(message)

    def recv(self) -> Any:
        """Read one whole message; EOFError once the other side has closed its end."""
        return self.reader.recv()

    def close(self) -> None:
        self.writer.close()
        self.reader.close()
