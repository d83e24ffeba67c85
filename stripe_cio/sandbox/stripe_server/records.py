"""The records of one resource in the Stripe sandbox's store: its list and filter indexes.

A record is the tuple (created, id, handle, values): it sorts by (created, id) because ids are
unique within a resource, so the record itself is its sort key and no key objects are kept.
`locations[handle]` is where the current body sits in the resource's BodyTable (see bodies), so
a new version of an object whose created and filter values did not change only moves that
location. Other replacements append a new record; the old one stays in the lists as a stale
entry until the next read sorts the list and drops entries that are no longer the current
record of their id.
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterator
from typing import Any

from .bodies import BodyTable
from .resources import DEFAULT_VIEW, HIDDEN_SUBSCRIPTION_STATUSES, SPEC_BY_NAME, ResourceSpec

Record = tuple[int, str, int, tuple[str | None, ...] | None]
Probe = tuple[int, str]  # a position between records: (created, id)


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


FILTERS = {name: spec.filters for name, spec in SPEC_BY_NAME.items()}


class SortedRecords:
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


class ResourceRecords:
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
        self.listed = SortedRecords(self.records)
        self.indexes: dict[tuple[str, str], SortedRecords] = {}
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

    def index(self, field: str, value: str) -> SortedRecords:
        key = (field, value)
        found = self.indexes.get(key)
        if found is None:
            found = self.indexes[key] = SortedRecords(self.records)
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
