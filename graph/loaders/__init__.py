"""Per-request DataLoaders: every backend read of a GraphQL request goes through one.

There is one loader per (resource, key kind): by id, or by a reference path such as
``relatedParty.id`` or ``billingAccount.id``. All loads of one kind issued while a query level
resolves become one batched backend request (``id=a,b,c`` / ``billingAccount.id=a,b,c``), so the
number of backend requests follows the number of resource kinds in a query, not the number of
objects. Loaders are built per request by :class:`Loaders` (inside the context factory): their
caches must never outlive one principal's request.

Each loader may ask the backend for some attributes only (TMF ``fields=``): the operation's
projection, given before it executes (:meth:`Loaders.project`, planned by
:mod:`graph.schema.projection`). It is one set per resource -- the union over the whole
operation -- so batching is never split; a by-reference loader adds the attribute it groups
by. A resource the projection does not name is fetched whole.

A record the entity cache served stale (:class:`~graph.sources.cached.StaleRecord`) is
reported to the field that loads it (:func:`~graph.sources.cached.note_stale`), in the
loading field's own context -- not the batch's, which runs once for many fields.
"""

from __future__ import annotations

from asyncio import Future
from collections.abc import Mapping
from typing import Any, Generic, TypeAlias, TypeVar

from aiodataloader import DataLoader

from graph.sources import ResourceSource
from graph.sources.cached import StaleRecord, note_stale, stale_reads
from graph.sources.paths import group_by

__all__ = ["ByIdLoader", "ByRefLoader", "Loaders", "Projection"]

R = TypeVar("R", bound=Mapping[str, Any])
_TRACKING = stale_reads()

# resource -> the attributes to ask for; None, or a resource left out: whole records
Projection: TypeAlias = Mapping[str, frozenset[str] | None]


def _watch(future: Future[Any], check: Any) -> Future[Any]:
    """Report stale data to the loading field: now if loaded already, else when loaded."""
    if _TRACKING.get() is None:
        return future
    if future.done():
        if not future.cancelled() and future.exception() is None:
            check(future.result())
    else:
        future.add_done_callback(
            lambda f: check(f.result()) if not f.cancelled() and f.exception() is None else None
        )
    return future


class ByIdLoader(DataLoader[str, R | None], Generic[R]):
    """Records by id; a missing id loads as None."""

    def __init__(self, source: ResourceSource[R], fields: frozenset[str] | None = None) -> None:
        super().__init__()
        self.source = source
        self.fields = fields
        self._fields = sorted(fields) if fields is not None else None

    def load(self, key: str) -> Future[R | None]:
        return _watch(super().load(key), self._report)

    def _report(self, record: R | None) -> None:
        if isinstance(record, StaleRecord):
            note_stale(self.source.resource, record.age)

    async def batch_load_fn(self, keys: list[str]) -> list[R | None]:
        records = await self.source.by_ids(keys, self._fields)
        found = {record["id"]: record for record in records}
        return [found.get(key) for key in keys]


class ByRefLoader(DataLoader[str, list[R]], Generic[R]):
    """Records whose reference at ``path`` names the key, in backend order.

    Every record loaded is also primed into the by-id loader of the same resource, so a later
    lookup of one of them by id (a bill's applied payment among the account's payments) costs
    no request.
    """

    def __init__(self, source: ResourceSource[R], path: str, by_id: ByIdLoader[R]) -> None:
        """Asks for what ``by_id`` asks for (the records prime it), and the attribute the
        records are grouped by."""
        super().__init__()
        self.source = source
        self.path = path
        self.by_id = by_id
        self._segments = tuple(path.split("."))
        fields = by_id.fields
        self._fields = sorted(fields | {self._segments[0]}) if fields is not None else None
        self._stale: dict[str, float] = {}  # key -> age, where the cache served stale data

    def load(self, key: str) -> Future[list[R]]:
        return _watch(super().load(key), lambda _: self._report(key))

    def forget_stale(self) -> None:
        self._stale.clear()

    def _report(self, key: str) -> None:
        age = self._stale.get(key)
        if age is not None:
            note_stale(self.source.resource, age)

    async def batch_load_fn(self, keys: list[str]) -> list[list[R]]:
        records = await self.source.by_ref(self.path, keys, self._fields)
        for record in records:
            self.by_id.prime(record["id"], record)
        groups = group_by(records, self.path, keys)
        if any(isinstance(r, StaleRecord) for r in records):
            for key, group in groups.items():
                ages = [r.age for r in group if isinstance(r, StaleRecord)]
                if ages:
                    self._stale[key] = max(*ages, self._stale.get(key, 0.0))
        return [groups[key] for key in keys]


class Loaders:
    """The loaders of one request, created on first use."""

    def __init__(self) -> None:
        self._by_id: dict[int, ByIdLoader[Any]] = {}
        self._by_ref: dict[tuple[int, str], ByRefLoader[Any]] = {}
        self._projection: Projection | None = None
        self._projected = False

    def project(self, projection: Projection | None) -> None:
        """Load only these attributes per resource (None: whole records), from now on.

        Called once per operation before it executes. Where one set of loaders serves
        several operations (a WebSocket connection's), projections add up -- a resource
        another operation needs whole stays whole -- and a loader asking for less than the
        union now requires is replaced, with its cache: no operation ever sees a record cut
        to another operation's needs.
        """
        if not self._projected and not self._by_id:
            self._projection, self._projected = projection, True
            return
        current = self._projection if self._projected else None
        self._projection, self._projected = _merge(current, projection), True
        stale = {
            key
            for key, loader in self._by_id.items()
            if loader.fields != self._fields_for(loader.source)
        }
        for key in stale:
            del self._by_id[key]
        for ref_key in [k for k in self._by_ref if k[0] in stale]:
            del self._by_ref[ref_key]

    def _fields_for(self, source: ResourceSource[Any]) -> frozenset[str] | None:
        if self._projection is None:
            return None
        return self._projection.get(source.resource)

    def by_id(self, source: ResourceSource[R]) -> ByIdLoader[R]:
        loader = self._by_id.get(id(source))
        if loader is None:
            loader = self._by_id[id(source)] = ByIdLoader(source, self._fields_for(source))
        return loader

    def clear(self) -> None:
        """Forget everything loaded: after a write, reads must see the backends' new state."""
        for loader in self._by_id.values():
            loader.clear_all()
        for ref_loader in self._by_ref.values():
            ref_loader.clear_all()
            ref_loader.forget_stale()

    def by_ref(self, source: ResourceSource[R], path: str) -> ByRefLoader[R]:
        key = (id(source), path)
        loader = self._by_ref.get(key)
        if loader is None:
            loader = self._by_ref[key] = ByRefLoader(source, path, self.by_id(source))
        return loader


def _merge(first: Projection | None, second: Projection | None) -> Projection | None:
    """What serves both operations: the union of the attributes per resource; a resource
    either reads whole (or does not name) is read whole."""
    if first is None or second is None:
        return None
    merged: dict[str, frozenset[str] | None] = {}
    for resource in first.keys() & second.keys():
        a, b = first[resource], second[resource]
        if a is not None and b is not None:
            merged[resource] = a | b
    return merged
