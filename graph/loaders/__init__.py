"""Per-request DataLoaders: every backend read of a GraphQL request goes through one.

There is one loader per (resource, key kind): by id, or by a reference path such as
``relatedParty.id`` or ``billingAccount.id``. All loads of one kind issued while a query level
resolves become one batched backend request (``id=a,b,c`` / ``billingAccount.id=a,b,c``), so the
number of backend requests follows the number of resource kinds in a query, not the number of
objects. Loaders are built per request by :class:`Loaders` (inside the context factory): their
caches must never outlive one principal's request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from aiodataloader import DataLoader

from graph.sources import ResourceSource
from graph.sources.paths import values_at

__all__ = ["ByIdLoader", "ByRefLoader", "Loaders"]

R = TypeVar("R", bound=Mapping[str, Any])


class ByIdLoader(DataLoader[str, R | None], Generic[R]):
    """Records by id; a missing id loads as None."""

    def __init__(self, source: ResourceSource[R]) -> None:
        super().__init__()
        self.source = source

    async def batch_load_fn(self, keys: list[str]) -> list[R | None]:
        found = {record["id"]: record for record in await self.source.by_ids(keys)}
        return [found.get(key) for key in keys]


class ByRefLoader(DataLoader[str, list[R]], Generic[R]):
    """Records whose reference at ``path`` names the key, in backend order.

    Every record loaded is also primed into the by-id loader of the same resource, so a later
    lookup of one of them by id (a bill's applied payment among the account's payments) costs
    no request.
    """

    def __init__(self, source: ResourceSource[R], path: str, by_id: ByIdLoader[R]) -> None:
        super().__init__()
        self.source = source
        self.path = path
        self.by_id = by_id
        self._segments = tuple(path.split("."))

    async def batch_load_fn(self, keys: list[str]) -> list[list[R]]:
        groups: dict[str, list[R]] = {key: [] for key in keys}
        for record in await self.source.by_ref(self.path, keys):
            self.by_id.prime(record["id"], record)
            for value in dict.fromkeys(values_at(record, self._segments)):
                group = groups.get(value) if isinstance(value, str) else None
                if group is not None:
                    group.append(record)
        return [groups[key] for key in keys]


class Loaders:
    """The loaders of one request, created on first use."""

    def __init__(self) -> None:
        self._by_id: dict[int, ByIdLoader[Any]] = {}
        self._by_ref: dict[tuple[int, str], ByRefLoader[Any]] = {}

    def by_id(self, source: ResourceSource[R]) -> ByIdLoader[R]:
        loader = self._by_id.get(id(source))
        if loader is None:
            loader = self._by_id[id(source)] = ByIdLoader(source)
        return loader

    def clear(self) -> None:
        """Forget everything loaded: after a write, reads must see the backends' new state."""
        for loader in self._by_id.values():
            loader.clear_all()
        for ref_loader in self._by_ref.values():
            ref_loader.clear_all()

    def by_ref(self, source: ResourceSource[R], path: str) -> ByRefLoader[R]:
        key = (id(source), path)
        loader = self._by_ref.get(key)
        if loader is None:
            loader = self._by_ref[key] = ByRefLoader(source, path, self.by_id(source))
        return loader
