"""In-memory collections with secondary indexes on reference paths.

A GET by id is a dict lookup; a filter on an indexed path (``relatedParty.id``,
``billingAccount.id``...) or on ``id`` starts from the index entries for its values, so a
customer-scoped list costs the size of the answer, not of the collection. Filters on other
attributes scan what the indexed filters left (or the whole collection when none applies).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from .query import Filter, ListQuery, values_at

__all__ = ["Collection", "Record"]

Record = dict[str, Any]


class Collection:
    """Records of one resource kind, in insertion order, with indexes on declared paths."""

    def __init__(self, name: str, indexed_paths: Iterable[str]) -> None:
        self.name = name
        self._records: dict[str, Record] = {}
        self._order: dict[str, int] = {}
        self._next = 0
        self._indexes: dict[str, dict[str, set[str]]] = {p: {} for p in indexed_paths}
        self._paths = {p: tuple(p.split(".")) for p in self._indexes}

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._records

    def get(self, record_id: str) -> Record | None:
        return self._records.get(record_id)

    def insert(self, record: Record) -> None:
        record_id = record["id"]
        if record_id in self._records:
            self._unindex(self._records[record_id])
        else:
            self._order[record_id] = self._next
            self._next += 1
        self._records[record_id] = record
        self._index(record)

    def replace(self, record: Record) -> None:
        """Store a new version of an existing record, keeping its position."""
        self.insert(record)

    def delete(self, record_id: str) -> Record | None:
        record = self._records.pop(record_id, None)
        if record is not None:
            self._unindex(record)
            del self._order[record_id]
        return record

    def indexed(self, path: str) -> bool:
        return path == "id" or path in self._indexes

    def find(self, query: ListQuery) -> list[Record]:
        """All records matching the query's filters, in insertion order or the asked sort."""
        candidates: set[str] | None = None
        rest: list[Filter] = []
        for flt in query.filters:
            dotted = flt.dotted
            if flt.op == "eq" and self.indexed(dotted):
                ids = self._lookup(dotted, flt.values)
                candidates = ids if candidates is None else candidates & ids
            else:
                rest.append(flt)
        if candidates is None:
            pool: Iterable[Record] = self._records.values()
        else:
            order = self._order
            pool = [self._records[i] for i in sorted(candidates, key=order.__getitem__)]
        found = [r for r in pool if all(f.matches(r) for f in rest)] if rest else list(pool)
        for path, descending in reversed(query.sort):
            found.sort(key=partial(_sort_key, path=path), reverse=descending)
        return found

    def _lookup(self, dotted: str, values: Iterable[str]) -> set[str]:
        if dotted == "id":
            return {v for v in values if v in self._records}
        index = self._indexes[dotted]
        found: set[str] = set()
        for value in values:
            found |= index.get(value, set())
        return found

    def _index(self, record: Record) -> None:
        record_id = record["id"]
        for dotted, index in self._indexes.items():
            for value in values_at(record, self._paths[dotted]):
                if isinstance(value, str):
                    index.setdefault(value, set()).add(record_id)

    def _unindex(self, record: Record) -> None:
        record_id = record["id"]
        for dotted, index in self._indexes.items():
            for value in values_at(record, self._paths[dotted]):
                if isinstance(value, str) and value in index:
                    index[value].discard(record_id)
                    if not index[value]:
                        del index[value]


def _sort_key(record: Record, path: tuple[str, ...]) -> tuple[int, Any]:
    """Missing values sort last; numbers and strings each sort naturally."""
    for value in values_at(record, path):
        if isinstance(value, bool) or value is None:
            return (1, str(value))
        if isinstance(value, int | float):
            return (0, (0, value, ""))
        return (0, (1, 0, str(value)))
    return (2, "")
