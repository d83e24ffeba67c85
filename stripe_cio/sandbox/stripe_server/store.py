"""StripeStore: the sandbox's in-memory account, pre-serialised, with sorted list indexes.

Order of every list, as on Stripe: newest first, i.e. `created` descending; objects created in
the same second come in descending `id` order (Stripe does not document its tie-break; ours is
deterministic so that cursors are stable). Each index is a list of records sorted ascending by
(created, id), read backwards; a page is two bisections and a slice, O(log n + limit).

Records, lists and filter indexes are in _records.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Iterable
from typing import Any, cast

import orjson

from .bodies import BLOCK_BODIES, CACHE_BLOCKS, OPEN_BLOCKS, Block, BodyCodec
from .records import FILTERS, Probe, Record, ResourceRecords, SortedRecords, filter_text
from .resources import DEFAULT_VIEW, SPEC_BY_NAME

# (id, created or None for a deleted stub, list-filter values or None when deleted, JSON body)
Prepared = tuple[str, int | None, tuple[str | None, ...] | None, bytes]
# Columns of objects filed by put_located: ids, created (None for a deleted stub), list-filter
# values (None when deleted), and the bodies' locations.
Located = tuple[list[str], list[int | None], list[tuple[str | None, ...] | None], list[int]]


class StripeStore:
    """Holds one Stripe account; `put` is the sink the synthetic generator writes into."""

    def __init__(
        self,
        *,
        compress: bool = False,
        block_bodies: int = BLOCK_BODIES,
        cache_blocks: int = CACHE_BLOCKS,
        open_blocks: int = OPEN_BLOCKS,
    ) -> None:
        self._codec = BodyCodec(
            compress=compress,
            block_bodies=block_bodies,
            cache_blocks=cache_blocks,
            open_blocks=open_blocks,
        )
        self._resources = {
            name: ResourceRecords(spec, self._codec.table()) for name, spec in SPEC_BY_NAME.items()
        }
        self._new_events: list[str] | None = None  # see watch_events

    @property
    def codec(self) -> BodyCodec:
        """How bodies are blocked and compressed (shard processes block them the same way)."""
        return self._codec

    # --- writing -----------------------------------------------------------------------------

    def watch_events(self) -> None:
        """Keep the ids of events filed from now on, for `take_new_events` (the webhooks).

        Off while an account is generated: its history is never sent.
        """
        if self._new_events is None:
            self._new_events = []

    def take_new_events(self) -> list[str]:
        """The ids of the events first filed since the last call, in filing order."""
        if self._new_events is None:
            return []
        taken, self._new_events = self._new_events, []
        return taken

    def put(self, resource: str, obj: dict[str, Any]) -> None:
        """Insert or replace `obj` by its id; it is serialised at once and never read again."""
        object_id, created, values, body = self.prepare(resource, obj)
        # A copy: orjson returns bytes inside an allocation several times their length, which
        # the stored body would hold. Bodies that crossed a pipe (see shards) are exact already.
        self.put_prepared(resource, object_id, created, values, memoryview(body).tobytes())

    @staticmethod
    def prepare(resource: str, obj: dict[str, Any]) -> Prepared:
        """What `put_prepared` needs of `obj`: its id, `created`, list-filter values and body.

        A pure function of the object, so another process can run it (see shards).
        """
        get = obj.get
        created = get("created")
        values = (
            tuple(map(filter_text, map(get, FILTERS[resource])))
            if get("deleted") is not True
            else None
        )
        return (
            obj["id"],
            created if isinstance(created, int) else None,
            values,
            orjson.dumps(obj),
        )

    def put_prepared(
        self,
        resource: str,
        object_id: str,
        created: int | None,
        values: tuple[str | None, ...] | None,
        body: bytes,
    ) -> None:
        """Insert or replace one prepared object (see `prepare`)."""
        res = self._resources[resource]
        old = res.records.get(object_id)
        if self._new_events is not None and old is None and resource == "events":
            self._new_events.append(object_id)
        if created is None:  # deleted stubs carry no `created`
            created = old[0] if old is not None else 0
        self._file(res, old, object_id, created, values, res.bodies.append(body, created))

    def put_located(self, resource: str, located: Located) -> None:
        """Insert or replace objects whose bodies sit in blocks filled by `fill_block`, in order.

        A shard process blocks and compresses the bodies itself (see shard_worker) and sends
        its objects as columns. A run of new objects, the usual case while an account is
        generated, is filed in bulk.
        """
        res = self._resources[resource]
        records = res.records
        ids, created, values, locations = located
        new_events = self._new_events if resource == "events" else None
        if (
            not res.built
            and None not in created
            and None not in values
            and records.keys().isdisjoint(ids)
            and len(set(ids)) == len(ids)
        ):
            handles = range(len(res.locations), len(res.locations) + len(ids))
            res.locations.extend(locations)
            # No None in `created` or `values`: checked above.
            batch = cast(list[Record], list(zip(created, ids, handles, values, strict=True)))
            records.update(zip(ids, batch, strict=True))
            res.listed.extend(batch)
            if new_events is not None:
                new_events.extend(ids)
            return
        for object_id, when, filters, location in zip(*located, strict=True):
            old = records.get(object_id)
            if new_events is not None and old is None:
                new_events.append(object_id)
            if when is None:  # deleted stubs carry no `created`
                when = old[0] if old is not None else 0
            self._file(res, old, object_id, when, filters, location)

    def fill_block(self, resource: str, number: int, block: Block, plain_bytes: int) -> None:
        """Block `number` of `resource`'s bodies, sealed elsewhere (see `put_located`)."""
        self._resources[resource].bodies.fill(number, block, plain_bytes)

    @staticmethod
    def _file(
        res: ResourceRecords,
        old: Record | None,
        object_id: str,
        created: int,
        values: tuple[str | None, ...] | None,
        location: int,
    ) -> None:
        if old is None:
            handle = len(res.locations)
            res.locations.append(location)
        else:
            handle = old[2]
            res.bodies.discard(res.locations[handle])
            res.locations[handle] = location
            if old[0] == created and old[3] == values:
                return  # same place in every list: the new location was all
        record: Record = (created, object_id, handle, values)
        res.records[object_id] = record
        if old is not None and old[3] is not None:
            res.listed.mark_stale()
            if res.built:
                for field, value in res.entries(old):
                    res.index(field, value).mark_stale()
        if values is not None:
            res.listed.add(record)
            if res.built:
                for field, value in res.entries(record):
                    res.index(field, value).add(record)

    # --- reading -----------------------------------------------------------------------------

    def get(self, resource: str, object_id: str) -> tuple[int, bytes] | None:
        """(created, JSON body) of one object, deleted stubs included; None when unknown."""
        res = self._resources[resource]
        record = res.records.get(object_id)
        if record is None:
            return None
        self._codec.reap()
        return record[0], res.bodies.get(res.locations[record[2]])

    def created(self, resource: str, object_id: str) -> int | None:
        record = self._resources[resource].records.get(object_id)
        return None if record is None else record[0]

    def values(self, resource: str, field: str) -> list[str]:
        """Every value of an indexed field present in the store (e.g. all event types)."""
        self._resources[resource].build(field)
        return sorted(
            value
            for (name, value), index in self._resources[resource].indexes.items()
            if name == field and value != DEFAULT_VIEW and len(index)
        )

    def counts(self) -> dict[str, int]:
        """Objects per resource, deleted stubs included."""
        return {name: len(res.records) for name, res in self._resources.items()}

    def settle(self) -> None:
        """Wait until every full block is compressed (reads never wait: they use plain copies)."""
        self._codec.reap(wait=True)

    def storage(self) -> dict[str, Any]:
        """Body storage: bytes held, garbage left by replacements, block cache misses."""
        self._codec.reap()
        tables = {name: res.bodies.stats() for name, res in self._resources.items()}
        totals = {key: sum(t[key] for t in tables.values()) for key in next(iter(tables.values()))}
        return {
            "compressed": self._codec.compress,
            **totals,
            "inflated_blocks": self._codec.inflated,
            "resources": tables,
        }

    def page(
        self,
        resource: str,
        *,
        low: Probe,
        high: Probe,
        limit: int,
        ascending: bool = False,
        filters: dict[str, tuple[str, ...]] | None = None,
    ) -> tuple[list[bytes], bool]:
        """One list page: bodies newest first within [low, high), and whether more remain.

        `filters` maps a field to the values it may take (several values: any of them); all
        fields must match. `ascending` takes the page from the low end, for `ending_before`.
        """
        res = self._resources[resource]
        for field in filters or ():
            res.build(field)
        groups = [
            [res.indexes[(field, value)] for value in values if (field, value) in res.indexes]
            for field, values in (filters or {}).items()
        ] or [[res.listed]]
        groups.sort(key=lambda group: sum(len(index) for index in group))
        base, others = groups[0], groups[1:]
        if len(base) == 1 and not others:
            records = base[0].sorted()
            start, stop = bisect_left(records, low), bisect_left(records, high)
            if ascending:
                chosen = records[start : min(stop, start + limit)]
                more = start + limit < stop
            else:
                chosen = records[max(start, stop - limit) : stop]
                more = stop - limit > start
            chosen.reverse()
        else:
            found = self._scan(base, others, low, high, limit + 1, ascending)
            chosen, more = found[:limit], len(found) > limit
            if ascending:
                chosen.reverse()
        self._codec.reap()
        body, locations = res.bodies.get, res.locations
        return [body(locations[record[2]]) for record in chosen], more

    @staticmethod
    def _scan(
        base: list[SortedRecords],
        others: list[list[SortedRecords]],
        low: Probe,
        high: Probe,
        wanted: int,
        ascending: bool,
    ) -> list[Record]:
        """Walk the union of `base` in page order, keeping records that every other group has."""
        streams: list[Iterable[Record]] = []
        for index in base:
            records = index.sorted()
            start, stop = bisect_left(records, low), bisect_left(records, high)
            span = range(start, stop) if ascending else range(stop - 1, start - 1, -1)
            streams.append(map(records.__getitem__, span))
        merged = heapq.merge(*streams, reverse=not ascending)
        found: list[Record] = []
        for record in merged:
            if all(any(record in index for index in group) for group in others):
                found.append(record)
                if len(found) == wanted:
                    break
        return found
