"""Kill points: engine functions wrapped, in the child only, so that their N-th call SIGKILLs it.

A kill point is `(target, n, position)`: the child dies at the `n`-th call of `target`, either
just before the real call or just after it returned. Before dying it appends one JSON line to the
hits file (the page cache outlives the process), so the parent knows which point fired. Every
call of every target is also logged in the calls file (phase, child, target), so the parent can
aim the next `n` at calls that are likely still to come.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

__all__ = ["ANY", "KINDS", "TARGETS", "KillPoint", "instrument"]

# target -> kind. A target is "module:attribute" or "module:Class.method".
TARGETS: dict[str, str] = {
    # during extraction: a Stripe request about to go out, or answered and not yet used
    "stripe_cio.stripe_api.client:StripeClient.get": "extraction",
    # during ledger writes: rows upserted inside an open transaction, a committed page whose
    # slice is not marked, a slice mark, lifecycle events being marked handled
    "stripe_cio.ledger.write:write_batch": "ledger_write",
    "stripe_cio.ledger.ledger:Ledger.write_objects": "ledger_write",
    "stripe_cio.ledger.ledger:Ledger.mark_slice_done": "ledger_write",
    "stripe_cio.lifecycle.pending:mark_handled": "ledger_write",
    # between delivery and the snapshot: Customer.io accepted a batch, nothing recorded yet
    "stripe_cio.cio_api.client:CustomerIOClient.batch": "delivery",
    "stripe_cio.deliver.store:DeliveryStore.record": "delivery",
    # during cursor advance: the cursor row written inside its transaction, or just committed
    "stripe_cio.ledger.events:advance_cursor": "cursor",
    "stripe_cio.ledger.ledger:Ledger.apply_events": "cursor",
    "stripe_cio.runs.touched:advance_attributes_mark": "cursor",
}
KINDS = ("extraction", "ledger_write", "delivery", "cursor")
ANY = "*"  # a kill point's target: the n-th moment (a call or a return) of any target


@dataclass(frozen=True)
class KillPoint:
    """Die at the `n`-th call of `target`, `position` "before" or "after" the real call; with
    target ANY, at the `n`-th moment (a call or a return) of any target."""

    target: str
    n: int
    position: str


class _Recorder:
    def __init__(
        self, point: KillPoint | None, hits: Path, calls: Path, phase: str, child: int
    ) -> None:
        self.point = point
        self.child = child
        self.hits = hits
        self.calls_file = calls.open("a", encoding="utf-8")
        self.phase = phase
        self.counts: dict[str, int] = {}
        self.moments = 0  # calls and returns of every target so far

    def call(self, target: str, position: str) -> None:
        self.moments += 1
        if position == "before":
            self.counts[target] = self.counts.get(target, 0) + 1
            self.calls_file.write(f"{self.phase}\t{self.child}\t{target}\n")
            self.calls_file.flush()
        point = self.point
        if point is None or not self._due(point, target, position):
            return
        line = {"phase": self.phase, "kind": TARGETS[target], "target": target, "n": point.n,
                "position": position}  # fmt: skip
        with self.hits.open("a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")
        os.kill(os.getpid(), signal.SIGKILL)

    def _due(self, point: KillPoint, target: str, position: str) -> bool:
        if point.target == ANY:
            return self.moments == point.n
        same = point.target == target and point.position == position
        return same and self.counts.get(target, 0) == point.n


def _wrap(original: Callable[..., Any], target: str, recorder: _Recorder) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def wrapped_async(*args: Any, **kwargs: Any) -> Any:
            recorder.call(target, "before")
            result = await original(*args, **kwargs)
            recorder.call(target, "after")
            return result

        return wrapped_async

    @functools.wraps(original)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        recorder.call(target, "before")
        result = original(*args, **kwargs)
        recorder.call(target, "after")
        return result

    return wrapped


def instrument(point: KillPoint | None, hits: Path, calls: Path, phase: str, child: int) -> None:
    """Wrap every target, also where a module imported it by name (`from x import f`)."""
    recorder = _Recorder(point, hits, calls, phase, child)
    for target in TARGETS:
        module_name, _, qualname = target.partition(":")
        module = import_module(module_name)
        if "." in qualname:
            class_name, method = qualname.split(".")
            owner = getattr(module, class_name)
            setattr(owner, method, _wrap(getattr(owner, method), target, recorder))
            continue
        original = getattr(module, qualname)
        wrapped = _wrap(original, target, recorder)
        for loaded in list(sys.modules.values()):
            name = getattr(loaded, "__name__", "")
            ours = name.startswith(("stripe_cio", "tasks", "flows"))
            if ours and getattr(loaded, qualname, None) is original:
                setattr(loaded, qualname, wrapped)
