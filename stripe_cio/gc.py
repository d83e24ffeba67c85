"""Interpreter settings for bulk work: the garbage collector, and GIL hand-over between threads."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def rare_collections(threshold: int = 50_000) -> Iterator[None]:
    """Run the cyclic collector rarely while the block runs, and never over older objects.

    Parsing one page of 100 charges creates thousands of dicts and lists; with the default
    threshold (700 allocations) that starts several collections per page, which dominated the
    time of `orjson.loads` on a page (see docs/extraction.md). Page data holds no reference
    cycles, so little is lost by collecting rarely; objects alive on entry
    (modules, clients, the ledger's engine) are frozen, so the collections that do run skip
    them. Reference counting still frees everything else at once.
    """
    previous = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(threshold, previous[0]), *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while the block runs; it resumes if it was running.

    For work that allocates millions of objects making no reference cycles while a large live
    graph grows (rows read into frames, a synthetic account generated, a sandbox store filed):
    each allocation would count towards a collection that walks that graph again for nothing.
    Reference counting still frees everything that is dropped.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def quick_thread_switches(interval: float = 0.0005) -> Iterator[None]:
    """Let a thread waiting for the GIL get it after `interval` s (default 0.5 ms) while inside.

    An event loop sharing the process with a busy worker thread gives the GIL away at every
    system call (each send, recv and epoll) and then waits for the worker to hand it back,
    which the worker does only when the switch interval has passed: up to Python's default
    of 5 ms per system call, several per HTTP request (the convoy effect,
    https://bugs.python.org/issue7946).
    Source: https://docs.python.org/3/library/sys.html#sys.setswitchinterval
    """
    previous = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, previous))
    try:
        yield
    finally:
        sys.setswitchinterval(previous)
