"""The entity cache: backend lookups by id and by reference, remembered per caller.

:class:`CachedSource` wraps a raw :class:`~graph.sources.ResourceSource` *below* the scope
(:mod:`graph.auth.scope`): every read still passes the scope's ownership check and an
agent's access log, cached or not. It caches the two lookups loaders make -- records by id,
records by a reference path -- one entry per key value, so a batch of 20 accounts' bills is
served from 20 entries, or fetched for just the values that are missing, in one backend
request. Searches and pages are not cached.

**Keys** (:mod:`graph.stores.entities`): the slot is (resource, key path, value); the variant
within it is (partition, backend filter, projection). The partition is the caller's --
``c:<customer id>`` for a customer, the role for staff, ``pub`` for the public catalogue --
taken from the operation's :class:`~graph.sources.identity.CallerIdentity`, so one customer's
entry is never even looked up for another, whatever the scope would then admit.

**Freshness**: per-resource TTLs (:class:`CachePolicy`). An entry past its TTL is refetched;
when that fails because the backend is unavailable (down, timing out, breaker open) and the
entry is younger than TTL + ``stale_seconds``, the entry is served *stale*: its records come
back as :class:`StaleRecord` and the read is noted (:func:`note_stale`) for the response's
``extensions.stale`` (:mod:`graph.schema.stale`).

**Coherence**: every write through the gateway drops the slots of what it wrote -- the
record's id and each reference it holds -- and of what the backend changes in consequence
(:data:`CONSEQUENCES`: a payment changes the bills it pays and the account's balance); the
backends' events drop the same slots (:meth:`EntityCache.invalidate_records`, called by the
listener). A write whose outcome is unknown drops them too.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar, cast

import orjson

from graph.stores.entities import EntityStore, Entry
from graph.stores.idempotency import StoreUnavailable

from . import Sources
from .client import ResourceSource
from .errors import BackendTimeout, BackendUnavailable
from .identity import current_identity
from .paths import group_by, values_at

__all__ = [
    "CONSEQUENCES",
    "DEFAULT_STALE_SECONDS",
    "DEFAULT_TTLS",
    "CachePolicy",
    "CachedSource",
    "EntityCache",
    "StaleRead",
    "StaleRecord",
    "note_stale",
    "slots_of",
    "stale_reads",
]

log = logging.getLogger(__name__)

R = TypeVar("R", bound=Mapping[str, Any])
Record = dict[str, Any]
# (result, how many key values): hit, miss, stale, error -> metrics
CacheObserver = Callable[[str, int], None]

# What a write of one resource changes elsewhere at the backend, as (resource changed, its
# key path whose slots drop, path in the written record to the values). TMF knowledge:
# a TMF676 payment settles the TMF678 bills it names and moves the TMF666 account's balance;
# a TMF666 account is listed in its TMF629 customer's ``account``. Backends' events of these
# resources drop the same slots: a change made outside the gateway is coherent too.
CONSEQUENCES: Final[Mapping[str, tuple[tuple[str, str, str], ...]]] = {
    "payment": (
        ("customerBill", "id", "paymentItem.item.id"),
        ("customerBill", "billingAccount.id", "account.id"),
        ("billingAccount", "id", "account.id"),
        ("billingAccount", "relatedParty.id", "payer.id"),
    ),
    "billingAccount": (("customer", "id", "relatedParty.id"),),
    # A TMF678 bill issued (a bill run) raises its account's balance.
    "customerBill": (
        ("billingAccount", "id", "billingAccount.id"),
        ("billingAccount", "relatedParty.id", "relatedParty.id"),
    ),
    # A TMF622 order, as it completes, adds, changes or ends the customer's TMF637 products
    # and the TMF638/639 services and resources realizing them.
    "productOrder": (
        ("product", "relatedParty.id", "relatedParty.id"),
        ("product", "id", "productOrderItem.product.id"),
        ("service", "relatedParty.id", "relatedParty.id"),
        ("resource", "relatedParty.id", "relatedParty.id"),
    ),
}


# Seconds a looked-up entry is fresh, per resource: how long a change made *outside* the
# gateway and announced by no event may go unseen. Catalogue and bill lines hardly change;
# tickets and orders move while a customer watches (their events invalidate sooner); agents'
# access records (partyInteraction) are never cached.
DEFAULT_TTLS: Final[Mapping[str, float]] = {
    "productOffering": 600.0,
    "productOfferingPrice": 600.0,
    "category": 600.0,
    "appliedCustomerBillingRate": 3600.0,
    "customerBill": 300.0,
    "customer": 300.0,
    "individual": 300.0,
    "billingAccount": 120.0,
    "payment": 300.0,
    "paymentMethod": 300.0,
    "usage": 120.0,
    "product": 120.0,
    "service": 60.0,
    "resource": 300.0,
    "troubleTicket": 30.0,
    "serviceProblem": 30.0,
    "productOrder": 30.0,
    "serviceOrder": 30.0,
    "partyInteraction": 0.0,
}
DEFAULT_STALE_SECONDS: Final = 900.0


class StaleRecord(dict[str, Any]):
    """A record served from the cache after its backend failed; ``age`` in seconds."""

    __slots__ = ("age",)

    def __init__(self, record: Mapping[str, Any], age: float) -> None:
        super().__init__(record)
        self.age = age


@dataclass(frozen=True, slots=True)
class StaleRead:
    resource: str
    age: float  # seconds since the data was read from the backend


# The stale reads of the GraphQL field being resolved (a list per async field, set by
# graph.schema.stale's executor); None outside an operation.
_STALE: Final[ContextVar[list[StaleRead] | None]] = ContextVar("csm_stale_reads", default=None)


def stale_reads() -> ContextVar[list[StaleRead] | None]:
    return _STALE


def note_stale(resource: str, age: float) -> None:
    """Tell the field being resolved that it got stale data."""
    reads = _STALE.get()
    if reads is not None:
        reads.append(StaleRead(resource, age))


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """Per-resource TTLs (seconds; 0 or absent: not cached) and the stale-if-error window."""

    ttls: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_TTLS))
    stale_seconds: float = DEFAULT_STALE_SECONDS

    def ttl(self, resource: str) -> float:
        return self.ttls.get(resource, 0.0)


def _ref_paths(record: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    """(``attr.id``, value) for every reference the record holds at its top level."""
    for attr, value in record.items():
        items = value if isinstance(value, list) else (value,)
        for item in items:
            if isinstance(item, Mapping):
                ref = item.get("id")
                if isinstance(ref, str) and ref:
                    yield f"{attr}.id", ref


def slot(resource: str, path: str, value: str) -> str:
    return f"{resource}|{path}={value}"


def slots_of(resource: str, record: Mapping[str, Any]) -> set[str]:
    """Every slot a change to ``record`` makes wrong: its id's, its references', and those of
    what the backend changes in consequence."""
    found: set[str] = set()
    record_id = record.get("id")
    if isinstance(record_id, str) and record_id:
        found.add(slot(resource, "id", record_id))
    for path, value in _ref_paths(record):
        found.add(slot(resource, path, value))
    for target, key_path, source_path in CONSEQUENCES.get(resource, ()):
        for value in values_at(record, tuple(source_path.split("."))):
            if isinstance(value, str) and value:
                found.add(slot(target, key_path, value))
    return found


def _signature(extra: Mapping[str, str] | None, fields: Iterable[str] | None) -> str:
    filters = "&".join(f"{k}={v}" for k, v in sorted(extra.items())) if extra else ""
    projection = ",".join(sorted(set(fields))) if fields else "*"
    return f"{filters}|{projection}"


class EntityCache:
    """The gateway's entity cache: wraps sources, and drops what changed."""

    def __init__(
        self,
        store: EntityStore,
        policy: CachePolicy,
        observe: CacheObserver | None = None,
        public: frozenset[str] = frozenset(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store, self.policy, self.public, self.clock = store, policy, public, clock
        self.observe: CacheObserver = observe or (lambda result, n: None)

    def wrap(self, sources: Sources) -> Sources:
        """``sources`` with every cached resource's lookups through this cache."""
        return dataclasses.replace(
            sources,
            **{
                f.name: CachedSource(getattr(sources, f.name), self)
                for f in dataclasses.fields(sources)
            },
        )

    async def invalidate_records(self, resource: str, records: Iterable[Mapping[str, Any]]) -> None:
        """Drop every slot a change to these records of ``resource`` makes wrong."""
        slots: set[str] = set()
        for record in records:
            slots |= slots_of(resource, record)
        await self.invalidate(slots)

    async def invalidate(self, slots: Iterable[str]) -> None:
        wanted = list(slots)
        if not wanted:
            return
        try:
            await self.store.invalidate(wanted)
        except StoreUnavailable as exc:
            self.observe("error", len(wanted))
            log.warning(
                "entity cache: %d entries not invalidated (%s); they expire", len(wanted), exc
            )

    def partition(self, resource: str) -> str:
        if resource in self.public:
            return "pub"
        identity = current_identity()
        if identity is None:
            return "system"
        if identity.role == "customer":
            return f"c:{identity.customer_id or ''}"
        return identity.role


class CachedSource(ResourceSource[R]):
    """``inner`` with its lookups by id and by reference cached (see the module)."""

    def __init__(self, inner: ResourceSource[R], cache: EntityCache) -> None:
        super().__init__(inner.client, inner.resource)
        self.inner = inner
        self.cache = cache
        self.ttl = cache.policy.ttl(inner.resource)

    async def get(self, record_id: str, fields: Iterable[str] | None = None) -> R | None:
        found = await self.by_ids([record_id], fields)
        return found[0] if found else None

    async def by_ids(
        self,
        ids: Sequence[str],
        fields: Iterable[str] | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> list[R]:
        if self.ttl <= 0:
            return await self.inner.by_ids(ids, fields, extra)
        return await self._lookup(
            "id", ids, fields, extra, lambda missing: self.inner.by_ids(missing, fields, extra)
        )

    async def by_ref(
        self,
        path: str,
        values: Sequence[str],
        fields: Iterable[str] | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> list[R]:
        if self.ttl <= 0:
            return await self.inner.by_ref(path, values, fields, extra)
        return await self._lookup(
            path,
            values,
            fields,
            extra,
            lambda missing: self.inner.by_ref(path, missing, fields, extra),
        )

    async def _lookup(
        self,
        path: str,
        values: Sequence[str],
        fields: Iterable[str] | None,
        extra: Mapping[str, str] | None,
        fetch: Callable[[list[str]], Awaitable[list[R]]],
    ) -> list[R]:
        unique = [v for v in dict.fromkeys(values) if v and "," not in v]
        if not unique:
            return []
        cache = self.cache
        resource = self.resource
        variant = f"{cache.partition(resource)}|{_signature(extra, fields)}"
        slots = [slot(resource, path, v) for v in unique]
        try:
            entries = await cache.store.get_many([(s, variant) for s in slots])
        except StoreUnavailable:
            cache.observe("error", len(unique))
            entries = [None] * len(unique)
        now = cache.clock()
        fresh: list[bytes] = []
        stale: dict[str, Entry] = {}
        missing: list[str] = []
        for value, entry in zip(unique, entries, strict=True):
            if entry is not None and now - entry[0] < self.ttl:
                fresh.append(entry[1])
                continue
            missing.append(value)
            if entry is not None and now - entry[0] < self.ttl + cache.policy.stale_seconds:
                stale[value] = entry
        if fresh:
            cache.observe("hit", len(fresh))
        records: list[R] = [r for payload in fresh for r in orjson.loads(payload)]
        if missing:
            cache.observe("miss", len(missing))
            records += await self._fetch(path, variant, missing, stale, fetch, now)
        if len(unique) == 1:
            return records
        seen: set[str] = set()
        distinct: list[R] = []
        for record in records:
            record_id = record.get("id")
            if isinstance(record_id, str):
                if record_id in seen:
                    continue
                seen.add(record_id)
            distinct.append(record)
        return distinct

    async def _fetch(
        self,
        path: str,
        variant: str,
        missing: list[str],
        stale: dict[str, Entry],
        fetch: Callable[[list[str]], Awaitable[list[R]]],
        now: float,
    ) -> list[R]:
        cache = self.cache
        started = cache.clock()
        try:
            fetched = await fetch(missing)
        except (BackendUnavailable, BackendTimeout):
            if not stale or len(stale) < len(missing):
                raise
            return self._serve_stale(stale, now)
        groups = group_by(fetched, path, missing)
        await self._store(
            [(slot(self.resource, path, value), group) for value, group in groups.items()],
            variant,
            started,
        )
        return fetched

    def _serve_stale(self, stale: dict[str, Entry], now: float) -> list[R]:
        self.cache.observe("stale", len(stale))
        oldest = max(now - stored_at for stored_at, _ in stale.values())
        note_stale(self.resource, oldest)
        served: list[R] = []
        for stored_at, payload in stale.values():
            age = now - stored_at
            served += [cast(R, StaleRecord(r, age)) for r in orjson.loads(payload)]
        return served

    async def _store(
        self, entries: list[tuple[str, list[R]]], variant: str, started: float
    ) -> None:
        cache = self.cache
        keep = self.ttl + cache.policy.stale_seconds
        try:
            await cache.store.put_many(
                [(s, variant, (started, orjson.dumps(group))) for s, group in entries],
                started,
                keep,
            )
        except StoreUnavailable:
            cache.observe("error", len(entries))

    # -- writes: the write, then what it made wrong ----------------------------------------

    async def create(self, body: Record) -> R:
        try:
            created = await self.inner.create(body)
        except BaseException:
            await self.cache.invalidate_records(self.resource, [body])  # it may have landed
            raise
        await self.cache.invalidate_records(self.resource, [body, created])
        return created

    async def patch(self, record_id: str, body: Record) -> R:
        try:
            updated = await self.inner.patch(record_id, body)
        except BaseException:
            await self.cache.invalidate_records(self.resource, [{**body, "id": record_id}])
            raise
        await self.cache.invalidate_records(self.resource, [{**body, "id": record_id}, updated])
        return updated

    async def delete(self, record_id: str) -> None:
        # The record's references name the lists it leaves: read them first (uncached).
        before = await self.inner.get(record_id)
        gone: list[Mapping[str, Any]] = [before or {"id": record_id}]
        try:
            await self.inner.delete(record_id)
        finally:
            await self.cache.invalidate_records(self.resource, gone)

    async def search(
        self, params: Mapping[str, str], fields: Iterable[str] | None = None
    ) -> list[R]:
        return await self.inner.search(params, fields)

    async def page(self, params: Mapping[str, str], offset: int, limit: int) -> tuple[list[R], int]:
        return await self.inner.page(params, offset, limit)
