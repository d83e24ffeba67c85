"""A fork server for crash tests: imports the pipeline once, then runs each requested phase in a
forked child that it can SIGKILL, so that a restart costs no interpreter start or import (over
ten seconds on a loaded two-core machine).

Protocol (JSON lines): the parent writes a request on stdin; the server answers
`{"event": "started", "pid": P}` and then `{"event": "ended", "status": ..., "seconds": ...}`
with status "completed", "cancelled", "failed" (see the child's log) or "killed".
Request keys: phase, label (names the phase in the calls and hits files), child (its number),
via ("engine"/"flows"), now, env (set in the child), kill (a kill point, or null), kill_after
(seconds after which the server SIGKILLs the child, or null), hits, calls, log (paths).

Run as `python -m tests.reliability._crash._zygote`; it must stay single-threaded (it forks).
`Zygote` is the parent's side: it starts the server and sends it requests.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import IO, Any

EXIT_COMPLETED, EXIT_FAILED, EXIT_CANCELLED = 0, 1, 3
REPO = Path(__file__).resolve().parents[3]

__all__ = ["Zygote"]


def _preload() -> None:
    # Everything a phase imports, so that a forked child imports nothing.
    import flows.backfill
    import flows.sync  # noqa: F401
    import stripe_cio.jobs
    import stripe_cio.lifecycle.pending  # noqa: F401
    import tasks.steps  # noqa: F401

    from . import _killpoints, _pipeline  # noqa: F401


def _child(request: dict[str, Any]) -> None:
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    code = EXIT_FAILED
    try:
        import logging

        from ._killpoints import KillPoint, instrument
        from ._pipeline import run_phase

        os.environ.update(request["env"])
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
        kill = request["kill"]
        point = KillPoint(kill["target"], kill["n"], kill["position"]) if kill else None
        label = request.get("label", request["phase"])
        instrument(point, Path(request["hits"]), Path(request["calls"]), label, request["child"])
        outcome = asyncio.run(run_phase(request["phase"], request["now"], request["via"]))
        code = EXIT_CANCELLED if outcome == "cancelled" else EXIT_COMPLETED
    except BaseException:
        print(f"child {request['child']} ({request.get('label')}) failed:", file=sys.stderr)
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _wait(pid: int, kill_after: float | None) -> int:
    deadline = None if kill_after is None else time.monotonic() + kill_after
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if deadline is not None and time.monotonic() >= deadline:
            os.kill(pid, signal.SIGKILL)
            return os.waitpid(pid, 0)[1]
        time.sleep(0.005)


def _status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return "killed" if os.WTERMSIG(status) == signal.SIGKILL else "failed"
    code = os.WEXITSTATUS(status)
    return {EXIT_COMPLETED: "completed", EXIT_CANCELLED: "cancelled"}.get(code, "failed")


def _say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> None:
    _preload()
    _say({"event": "ready", "threads": threading.active_count()})
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            _child(request)
        _say({"event": "started", "pid": pid})
        status = _wait(pid, request.get("kill_after"))
        _say({"event": "ended", "status": _status(status),
              "seconds": round(time.monotonic() - started, 3)})  # fmt: skip


class Zygote:
    """The fork server (`_zygote.py`) in a subprocess; `run()` one phase in a child."""

    def __init__(self, env: dict[str, str] | None = None, log_path: Path | None = None) -> None:
        self._log = log_path.open("ab") if log_path else None
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability._crash._zygote"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log or subprocess.DEVNULL,
            cwd=REPO,
            env={**os.environ, **(env or {})},
            text=True,
        )
        ready = self._read()
        if ready.get("event") != "ready":
            raise RuntimeError(f"the fork server did not start: {ready}")

    def _read(self) -> dict[str, Any]:
        stdout: IO[str] | None = self._process.stdout
        assert stdout is not None
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"the fork server exited ({self._process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def run(self, request: dict[str, Any]) -> dict[str, Any]:
        stdin = self._process.stdin
        assert stdin is not None
        stdin.write(json.dumps(request) + "\n")
        stdin.flush()
        started = self._read()
        assert started["event"] == "started", started
        return self._read()

    def close(self) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._log:
            self._log.close()


if __name__ == "__main__":
    main()
