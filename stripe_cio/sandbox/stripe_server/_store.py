"""StripeStore: the sandbox's in-memory account, pre-serialised, with sorted list indexes.

Order of every list, as on Stripe: newest first, i.e. `created` descending; objects created in
the same second come in descending `id` order (Stripe does not document its tie-break; ours is
deterministic so that cursors are stable). Each index is a list of records sorted ascending by
(created, id), read backwards; a page is two bisections and a slice, O(log n + limit).

A record is the tuple (created, id, handle, values): it sorts by (created, id) because ids are
unique within a resource, so the record itself is its sort key and no key objects are kept.
`locations[handle]` is where the current body sits in the resource's BodyTable (see _bodies), so
a new version of an object whose created and filter values did not change only moves that
location. Other replacements append a new record; the old one stays in the lists as a stale
entry until the next read sorts the list and drops entries that are no longer the current
record of their id.
"""

from __future__ import annotations

import heapq
import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from ._bodies import BLOCK_BODIES, CACHE_BLOCKS, OPEN_BLOCKS, Block, BodyCodec, BodyTable
from ._resources import DEFAULT_VIEW, HIDDEN_SUBSCRIPTION_STATUSES, SPEC_BY_NAME, ResourceSpec

__all__ = ["Located", "Prepared", "Probe", "Record", "StripeStore", "filter_text"]

Record = tuple[int, str, int, tuple[str | None, ...] | None]
Probe = tuple[int, str]  # a position between records: (created, id)
# (id, created or None for a deleted stub, list-filter values or None when deleted, JSON body)
Prepared = tuple[str, int | None, tuple[str | None, ...] | None, bytes]
# (id, created or None, list-filter values or None, the body's location): see put_located
Located = tuple[str, int | None, tuple[str | None, ...] | None, int]


def filter_text(value: Any) -> str | None:
    """A list-filter value as the query string spells it: expanded objects by their id."""
    kind = type(value)
    if kind is str:
        return sys.intern(value)  # customer ids, statuses, types repeat across many objects
    if value is None:
        return None
    if kind is dict:
        return filter_text(value.get("id"))
    if kind is bool:
        return "true" if value else "false"
    return str(value) if kind is int else None


_FILTERS = {name: spec.filters for name, spec in SPEC_BY_NAME.items()}


class _SortedRecords:
    """An append-only list of records, sorted and purged of stale entries when read."""

    __slots__ = ("_current", "_dirty", "_records", "_stale")

    def __init__(self, current: dict[str, Record]) -> None:
        self._records: list[Record] = []
        self._current = current
        self._dirty = False
        self._stale = 0

    def add(self, record: Record) -> None:
        records = self._records
        if records and record < records[-1]:
            self._dirty = True
        records.append(record)

    def extend(self, records: list[Record]) -> None:
        if records:
            self._dirty = True  # a batch is rarely in order: late objects come with it
            self._records.extend(records)

    def mark_stale(self) -> None:
        self._stale += 1
        self._dirty = True
        if self._stale > 1000 and self._stale > len(self._records) // 2:
            self._purge()  # keep replaced bodies from piling up between reads

    def _purge(self) -> None:
        current = self._current
        self._records = [r for r in self._records if current.get(r[1]) is r]
        self._stale = 0

    def sorted(self) -> list[Record]:
        if self._dirty:
            if self._stale:
                self._purge()
            self._records.sort()
            self._dirty = False
        return self._records

    def __len__(self) -> int:
        return len(self._records) - self._stale

    def __contains__(self, record: Record) -> bool:
        records = self.sorted()
        index = bisect_left(records, record)
        return index < len(records) and records[index] is record


class _Resource:
    """One resource's records, its list in `created` order, and its filter indexes.

    A filter's indexes are built on the first list call that uses the filter, in one pass over
    the sorted list, and kept up to date from then on: generating a large account then pays no
    index upkeep per object, and fields nobody filters on cost nothing.
    """

    __slots__ = ("bodies", "built", "indexes", "listed", "locations", "records", "spec")

    def __init__(self, spec: ResourceSpec, bodies: BodyTable) -> None:
        self.spec = spec
        self.bodies = bodies
        self.locations = array("q")  # by handle: 8 bytes an object, not a Python int
        self.records: dict[str, Record] = {}
        self.listed = _SortedRecords(self.records)
        self.indexes: dict[tuple[str, str], _SortedRecords] = {}
        self.built: list[tuple[int, str]] = []  # (position in spec.filters, field) with indexes

    def entries(self, record: Record) -> Iterator[tuple[str, str]]:
        """The (field, value) index entries of `record`, for the fields built so far."""
        values = record[3]
        if values is None:
            return
        for position, field in self.built:
            value = values[position]
            if value is not None:
                yield field, value
                if (
                    field == "status"
                    and self.spec.name == "subscriptions"
                    and value not in HIDDEN_SUBSCRIPTION_STATUSES
                ):
                    yield "status", DEFAULT_VIEW

    def index(self, field: str, value: str) -> _SortedRecords:
        key = (field, value)
        found = self.indexes.get(key)
        if found is None:
            found = self.indexes[key] = _SortedRecords(self.records)
        return found

    def build(self, field: str) -> None:
        """Index `field` now if it is not yet (see the class doc)."""
        position = self.spec.filters.index(field)
        if (position, field) in self.built:
            return
        default_view = field == "status" and self.spec.name == "subscriptions"
        # Records come sorted, so every index fills in order and never needs sorting.
        for record in self.listed.sorted():
            value = record[3][position]  # type: ignore[index]  # listed records have values
            if value is not None:
                self.index(field, value).add(record)
                if default_view and value not in HIDDEN_SUBSCRIPTION_STATUSES:
                    self.index(field, DEFAULT_VIEW).add(record)
        self.built.append((position, field))


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
            name: _Resource(spec, self._codec.table()) for name, spec in SPEC_BY_NAME.items()
        }

    @property
    def codec(self) -> BodyCodec:
        """How bodies are blocked and compressed (shard processes block them the same way)."""
        return self._codec

    # --- writing -----------------------------------------------------------------------------

    def put(self, resource: str, obj: dict[str, Any]) -> None:
        """Insert or replace `obj` by its id; it is serialised at once and never read again."""
        object_id, created, values, body = self.prepare(resource, obj)
        # A copy: orjson returns bytes inside an allocation several times their length (a 2 KB
        # body holds ~8 KB). Bodies that crossed a pipe (see _shards) are exact already.
        self.put_prepared(resource, object_id, created, values, memoryview(body).tobytes())

    @staticmethod
    def prepare(resource: str, obj: dict[str, Any]) -> Prepared:
        """What `put_prepared` needs of `obj`: its id, `created`, list-filter values and body.

        A pure function of the object, so another process can run it (see _shards).
        """
        get = obj.get
        created = get("created")
        values = (
            tuple(map(filter_text, map(get, _FILTERS[resource])))
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
        if created is None:  # deleted stubs carry no `created`
            created = old[0] if old is not None else 0
        self._file(res, old, object_id, created, values, res.bodies.append(body, created))

    def put_located(self, resource: str, located: list[Located]) -> None:
        """Insert or replace objects whose bodies sit in blocks filled by `fill_block`, in order.

        A shard process blocks and compresses the bodies itself (see _shard_worker). A run of
        new objects, the usual case while an account is generated, is filed in bulk.
        """
        res = self._resources[resource]
        records = res.records
        ids, created, values, locations = zip(*located, strict=True)
        if (
            not res.built
            and None not in created
            and None not in values
            and not any(map(records.__contains__, ids))
            and len(set(ids)) == len(ids)
        ):
            handles = range(len(res.locations), len(res.locations) + len(ids))
            res.locations.extend(locations)
            batch: list[Record] = list(zip(created, ids, handles, values, strict=True))
            records.update(zip(ids, batch, strict=True))
            res.listed.extend(batch)
            return
        for object_id, when, filters, location in located:
            old = records.get(object_id)
            if when is None:  # deleted stubs carry no `created`
                when = old[0] if old is not None else 0
            self._file(res, old, object_id, when, filters, location)

    def fill_block(self, resource: str, number: int, block: Block, plain_bytes: int) -> None:
        """Block `number` of `resource`'s bodies, sealed elsewhere (see `put_located`)."""
        self._resources[resource].bodies.fill(number, block, plain_bytes)

    @staticmethod
    def _file(
        res: _Resource,
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
        base: list[_SortedRecords],
        others: list[list[_SortedRecords]],
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
