"""Stored object bodies: orjson bytes, deflated on a worker thread with a per-resource dictionary.

A large account (100,000 customers, ~3 million objects) does not fit the memory budget as plain
JSON: objects average 2 KB. Objects of one resource share most of their text, so each is
deflated with a preset dictionary (an early object of the resource), down to ~350 bytes;
inflating one costs microseconds, cheap enough for 100-object pages. Deflating happens in
batches on a worker thread (zlib releases the GIL), so it overlaps with generation.
"""

from __future__ import annotations

import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

__all__ = ["BodyCodec"]

_RAW_FIRST_BYTE = ord("{")  # a JSON object; a zlib stream starts with 0x78, never "{"
_MIN_COMPRESSED = 200  # shorter bodies (stubs, small objects) gain nothing
_BATCH = 2048
_MAX_IN_FLIGHT = 8  # batches queued before put() waits: bounds the plain bodies held

_Packed = list[tuple[int, bytes, bytes]]  # (slot, plain body, deflated body)


def _deflate(dictionary: bytes, level: int, items: list[tuple[int, bytes]]) -> _Packed:
    packed = []
    for slot, body in items:
        deflater = zlib.compressobj(
            level, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, dictionary
        )
        packed.append((slot, body, deflater.compress(body) + deflater.flush()))
    return packed


class BodyCodec:
    """Queues bodies for deflating, swaps them in place when done, and decodes on read."""

    def __init__(self, *, compress: bool = False, level: int = 1) -> None:
        self.compress = compress
        self.level = level
        self._dictionaries: dict[str, bytes] = {}
        self._batches: dict[str, tuple[list[bytes], list[int]]] = {}
        self._in_flight: deque[tuple[list[bytes], Future[_Packed]]] = deque()
        self._pool = ThreadPoolExecutor(1, "stripe-sandbox-deflate") if compress else None

    def queue(self, resource: str, bodies: list[bytes], slot: int) -> None:
        """Deflate `bodies[slot]` later (the list is the resource's body table)."""
        if self._pool is None or len(bodies[slot]) < _MIN_COMPRESSED:
            return
        if resource not in self._dictionaries:
            self._dictionaries[resource] = bodies[slot]  # stays plain: it is the dictionary
            return
        _, slots = self._batches.setdefault(resource, (bodies, []))
        slots.append(slot)
        if len(slots) >= _BATCH:
            self._submit(resource)
        while self._in_flight and (
            self._in_flight[0][1].done() or len(self._in_flight) > _MAX_IN_FLIGHT
        ):
            self._apply(*self._in_flight.popleft())

    def _submit(self, resource: str) -> None:
        assert self._pool is not None
        bodies, slots = self._batches.pop(resource)
        items = [(slot, bodies[slot]) for slot in slots]
        args = (self._dictionaries[resource], self.level, items)
        self._in_flight.append((bodies, self._pool.submit(_deflate, *args)))

    @staticmethod
    def _apply(bodies: list[bytes], future: Future[_Packed]) -> None:
        for slot, plain, packed in future.result():
            if bodies[slot] is plain:  # not replaced by a newer version meanwhile
                bodies[slot] = packed

    def settle(self) -> None:
        """Finish all queued work; called before reads so none race with the worker."""
        if self._batches:
            for resource in list(self._batches):
                self._submit(resource)
        while self._in_flight:
            self._apply(*self._in_flight.popleft())

    def decode(self, resource: str, stored: bytes) -> bytes:
        if stored[0] == _RAW_FIRST_BYTE:
            return stored
        return zlib.decompressobj(zdict=self._dictionaries[resource]).decompress(stored)
