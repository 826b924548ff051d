"""Object-level authorization, by construction: what a principal's requests can ever return.

Each request gets :class:`Sources` wrapped for its principal before anything else sees them,
so every read -- through loaders, or by a resolver written carelessly -- is scoped:

- staff (agents, analysts) read everything;
- anonymous callers read only the public catalogue; anything else returns nothing, without a
  backend request;
- a customer reads only their own records. Where a resource names its customer
  (``relatedParty``), the backend request itself carries ``relatedParty.id=<customer>``, so the
  backend never even sends another customer's records; every record that comes back is then
  checked again against an ownership rule per resource (defence in depth). A record that fails
  the check is dropped: another customer's object is indistinguishable from a missing one.

Writes are scoped the same way: a customer's create must name the customer (``relatedParty``)
or, for a payment, one of the customer's accounts; a change or a deletion first reads the
record through the scope, so another customer's record is "not found" before any write is
sent; and a change cannot take a record away from the customer. Anonymous callers write
nothing.

Ownership that a record does not state itself (a bill line's account, a payment's account, a
service problem's services, the customer's person) is checked against the customer's own
accounts, services and customer record, loaded through the request's loaders -- the same loads
the query makes anyway, so scoping adds no backend request to a typical query.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar

from graph.auth.principal import Principal, Role
from graph.errors import Code, GraphError
from graph.sources import BackendNotFound, ResourceSource, Sources
from graph.sources.paths import ids_at

if TYPE_CHECKING:
    from graph.auth.audit import AccessLog
    from graph.loaders import Loaders

__all__ = ["PUBLIC", "Registration", "Scope", "registration_for", "scoped_sources", "sources_for"]

R = TypeVar("R", bound=Mapping[str, Any])
_log = logging.getLogger(__name__)

PUBLIC: Final = frozenset({"productOffering", "productOfferingPrice", "category"})
# Resources that name their customer in relatedParty (checked in the seeded data and the specs).
BY_RELATED_PARTY: Final = frozenset({
    "billingAccount", "customerBill", "paymentMethod", "usage", "troubleTicket", "productOrder",
    "product", "serviceOrder", "service", "resource", "partyInteraction",
})  # fmt: skip


Rule = Callable[[Mapping[str, Any]], bool]
# Resources whose ownership rule looks records up (the customer's accounts, services, person).
LOOKED_UP: Final = frozenset(
    {"individual", "appliedCustomerBillingRate", "payment", "serviceProblem"}
)


def _retrieved(lookup: asyncio.Future[Rule]) -> None:
    if not lookup.cancelled():
        lookup.exception()


class Scope:
    """The read scope of one customer principal's request."""

    def __init__(self, customer_id: str, raw: Sources) -> None:
        self.customer_id = customer_id
        self.raw = raw
        self.sources: Sources = scoped_sources(raw, self)
        self._loaders: weakref.ref[Loaders] | None = None
        self._rule_of = self._rules()  # resource -> its ownership rule, built once

    def bind(self, loaders: Loaders) -> None:
        """Ownership lookups go through the request's loaders, shared with the query. Held
        weakly: the loaders hold this scope (through its sources), and a cycle would keep
        every record the request loaded alive until the garbage collector ran."""
        self._loaders = weakref.ref(loaders)

    def backend_filter(self, resource: str) -> dict[str, str] | None:
        if resource in BY_RELATED_PARTY:
            return {"relatedParty.id": self.customer_id}
        return None

    def prepare(self, resource: str) -> asyncio.Future[Rule] | None:
        """Start the ownership lookup a read of ``resource`` will need (the customer's accounts,
        services or person), so that it runs alongside the read instead of after it: one
        backend round less on the critical path."""
        if resource not in LOOKED_UP:
            return None
        lookup = asyncio.ensure_future(self._rule_of[resource]())
        lookup.add_done_callback(_retrieved)  # a failure surfaces where it is awaited, if it is
        return lookup

    async def admit(
        self, resource: str, records: Sequence[R], prepared: asyncio.Future[Rule] | None = None
    ) -> list[R]:
        if not records or resource in PUBLIC:
            return list(records)
        rule = self._rule_of.get(resource)
        if rule is None:
            return []  # a resource without an ownership rule is never shown to a customer
        allowed = await (prepared if prepared is not None else rule())
        return [r for r in records if allowed(r)]

    async def check_write(self, resource: str, body: Mapping[str, Any]) -> None:
        """Refuse a created or changed body that would not be the customer's own."""
        if resource in BY_RELATED_PARTY:
            if self.customer_id in ids_at(body, "relatedParty.id"):
                return
        elif resource == "payment":
            rule = await self._on_my_accounts("account.id")()
            if rule(body):
                return
        raise GraphError(
            f"A customer cannot write this {resource}: it would not be their own.", Code.FORBIDDEN
        )

    def _rules(self) -> dict[str, Callable[[], Awaitable[Callable[[Mapping[str, Any]], bool]]]]:
        return {
            **dict.fromkeys(BY_RELATED_PARTY, self._mine),
            "customer": self._self,
            "individual": self._person,
            "appliedCustomerBillingRate": self._on_my_accounts("billingAccount.id"),
            "payment": self._on_my_accounts("account.id"),
            "serviceProblem": self._on_my_services,
        }

    async def _mine(self) -> Callable[[Mapping[str, Any]], bool]:
        return lambda r: self.customer_id in ids_at(r, "relatedParty.id")

    async def _self(self) -> Callable[[Mapping[str, Any]], bool]:
        return lambda r: r.get("id") == self.customer_id

    async def _person(self) -> Callable[[Mapping[str, Any]], bool]:
        customer = await self._require_loaders().by_id(self.sources.customer).load(self.customer_id)
        person = ((customer or {}).get("engagedParty") or {}).get("id")
        return lambda r: person is not None and r.get("id") == person

    def _on_my_accounts(
        self, path: str
    ) -> Callable[[], Awaitable[Callable[[Mapping[str, Any]], bool]]]:
        async def rule() -> Callable[[Mapping[str, Any]], bool]:
            loaders = self._require_loaders()
            accounts = await loaders.by_ref(self.sources.billing_account, "relatedParty.id").load(
                self.customer_id
            )
            mine = {a["id"] for a in accounts}
            return lambda r: bool(ids_at(r, path) & mine)

        return rule

    async def _on_my_services(self) -> Callable[[Mapping[str, Any]], bool]:
        loaders = self._require_loaders()
        services = await loaders.by_ref(self.sources.service, "relatedParty.id").load(
            self.customer_id
        )
        mine = {s["id"] for s in services}
        return lambda r: bool(ids_at(r, "affectedService.id") & mine)

    def _require_loaders(self) -> Loaders:
        loaders = self._loaders() if self._loaders is not None else None
        if loaders is None:
            raise RuntimeError("scope used before its request's loaders were bound")
        return loaders


class ScopedSource(ResourceSource[R]):
    """A resource source that reads only what the scope admits."""

    def __init__(self, inner: ResourceSource[R], scope: Scope) -> None:
        super().__init__(inner.client, inner.resource)
        self.inner = inner  # e.g. an agent's observed source: its reads are still recorded
        self.scope = scope

    def _extra(self, extra: Mapping[str, str] | None) -> dict[str, str] | None:
        scoped = self.scope.backend_filter(self.resource)
        if scoped is None:
            return dict(extra) if extra else None
        return {**(extra or {}), **scoped}

    async def get(self, record_id: str, fields: Iterable[str] | None = None) -> R | None:
        found = await self.by_ids([record_id], fields)
        return found[0] if found else None

    async def by_ids(
        self,
        ids: Sequence[str],
        fields: Iterable[str] | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> list[R]:
        prepared = self.scope.prepare(self.resource)
        records = await self.inner.by_ids(ids, _with_keys(fields), self._extra(extra))
        return await self.scope.admit(self.resource, records, prepared)

    async def by_ref(
        self,
        path: str,
        values: Sequence[str],
        fields: Iterable[str] | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> list[R]:
        prepared = self.scope.prepare(self.resource)
        records = await self.inner.by_ref(path, values, _with_keys(fields), self._extra(extra))
        return await self.scope.admit(self.resource, records, prepared)

    async def search(
        self, params: Mapping[str, str], fields: Iterable[str] | None = None
    ) -> list[R]:
        records = await self.inner.search(self._extra(params) or {}, _with_keys(fields))
        return await self.scope.admit(self.resource, records)

    async def page(self, params: Mapping[str, str], offset: int, limit: int) -> tuple[list[R], int]:
        records, total = await self.inner.page(self._extra(params) or {}, offset, limit)
        admitted = await self.scope.admit(self.resource, records)
        return admitted, total - (len(records) - len(admitted))

    async def create(self, body: dict[str, Any]) -> R:
        await self.scope.check_write(self.resource, body)
        return await self.inner.create(body)

    async def patch(self, record_id: str, body: dict[str, Any]) -> R:
        await self._require_own(record_id)
        if "relatedParty" in body or "account" in body:
            await self.scope.check_write(self.resource, body)
        return await self.inner.patch(record_id, body)

    async def delete(self, record_id: str) -> None:
        await self._require_own(record_id)
        await self.inner.delete(record_id)

    async def _require_own(self, record_id: str) -> None:
        if await self.get(record_id) is None:
            raise BackendNotFound(self.api, 404, "Not found", f"{self.resource} {record_id}")


class ObservedSource(ResourceSource[R]):
    """An agent's source: reads everything, and reports every record a read (or a write)
    returns to the request's access log -- here, at the source boundary, so that no resolver
    can read for an agent without it being recorded."""

    def __init__(self, inner: ResourceSource[R], access: AccessLog) -> None:
        super().__init__(inner.client, inner.resource)
        self.inner = inner
        self.access = access

    def _seen(self, records: list[R]) -> list[R]:
        self.access.observe(self.resource, records)
        return records

    async def get(self, record_id: str, fields: Iterable[str] | None = None) -> R | None:
        record = await self.inner.get(record_id, _with_keys(fields))
        if record is not None:
            self._seen([record])
        return record

    async def by_ids(
        self,
        ids: Sequence[str],
        fields: Iterable[str] | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> list[R]:
        return self._seen(await self.inner.by_ids(ids, _with_keys(fields), extra))

    async def by_ref(
        self,
        path: str,
        values: Sequence[str],
        fields: Iterable[str] | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> list[R]:
        return self._seen(await self.inner.by_ref(path, values, _with_keys(fields), extra))

    async def search(
        self, params: Mapping[str, str], fields: Iterable[str] | None = None
    ) -> list[R]:
        return self._seen(await self.inner.search(params, _with_keys(fields)))

    async def page(self, params: Mapping[str, str], offset: int, limit: int) -> tuple[list[R], int]:
        records, total = await self.inner.page(params, offset, limit)
        return self._seen(records), total

    async def create(self, body: dict[str, Any]) -> R:
        return self._seen([await self.inner.create(body)])[0]

    async def patch(self, record_id: str, body: dict[str, Any]) -> R:
        return self._seen([await self.inner.patch(record_id, body)])[0]

    async def delete(self, record_id: str) -> None:
        record = await self.inner.get(record_id)
        if record is not None:
            self._seen([record])
        await self.inner.delete(record_id)


class DeniedSource(ResourceSource[R]):
    """Anonymous callers: nothing but the public catalogue, and no backend request at all."""

    async def get(self, record_id: str, fields: Iterable[str] | None = None) -> R | None:
        return None

    async def by_ids(
        self,
        ids: Sequence[str],
        fields: Iterable[str] | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> list[R]:
        return []

    async def by_ref(
        self,
        path: str,
        values: Sequence[str],
        fields: Iterable[str] | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> list[R]:
        return []

    async def search(
        self, params: Mapping[str, str], fields: Iterable[str] | None = None
    ) -> list[R]:
        return []

    async def page(self, params: Mapping[str, str], offset: int, limit: int) -> tuple[list[R], int]:
        return [], 0

    async def create(self, body: dict[str, Any]) -> R:
        raise GraphError("Sign in first.", Code.UNAUTHENTICATED)

    async def patch(self, record_id: str, body: dict[str, Any]) -> R:
        raise GraphError("Sign in first.", Code.UNAUTHENTICATED)

    async def delete(self, record_id: str) -> None:
        raise GraphError("Sign in first.", Code.UNAUTHENTICATED)


# The attributes ownership rules read; a projected request must still bring them back.
_OWNERSHIP_KEYS: Final = (
    "relatedParty",
    "billingAccount",
    "account",
    "affectedService",
    "engagedParty",
)


def _with_keys(fields: Iterable[str] | None) -> list[str] | None:
    return None if fields is None else [*fields, *_OWNERSHIP_KEYS]


def scoped_sources(raw: Sources, scope: Scope) -> Sources:
    return _map_sources(raw, lambda source: ScopedSource(source, scope))


def _map_sources(
    raw: Sources, wrap: Callable[[ResourceSource[Any]], ResourceSource[Any]]
) -> Sources:
    return dataclasses.replace(
        raw, **{f.name: wrap(getattr(raw, f.name)) for f in dataclasses.fields(raw)}
    )


def sources_for(
    principal: Principal, raw: Sources, access: AccessLog | None = None
) -> tuple[Sources, Scope | None]:
    """The sources a principal's request may use, and its scope (None: unrestricted/denied).

    An agent reads everything, observed: every record a read returns is reported to the
    request's ``access`` log, from which :class:`graph.auth.audit.AuditWriter` records the
    agent's access as TMF683 party interactions. Analysts read everything, unrecorded (they
    do not act for a customer; see :mod:`graph.auth.audit`).
    """
    if principal.role is Role.AGENT:
        if access is None:
            _log.warning("agent %s: no access log, reads NOT recorded", principal.subject)
            return raw, None
        return _map_sources(
            raw, lambda s: s if s.resource in PUBLIC else ObservedSource(s, access)
        ), None
    if principal.role is Role.ANALYST:
        return raw, None
    if principal.role is Role.CUSTOMER and principal.customer_id:
        scope = Scope(principal.customer_id, raw)
        return scope.sources, scope
    return _map_sources(
        raw,
        lambda s: s if s.resource in PUBLIC else DeniedSource(s.client, s.resource),
    ), None


@dataclass(frozen=True, slots=True)
class Registration:
    """What registering a new customer may write: the person, the customer, the billing
    account -- the one action that writes before any customer exists to scope it to."""

    individual: ResourceSource[Any]
    customer: ResourceSource[Any]
    billing_account: ResourceSource[Any]


def registration_for(principal: Principal, raw: Sources, scoped: Sources) -> Registration | None:
    """Anonymous callers register themselves (raw sources, three resources only); an agent
    registers a customer through the agent's observed sources; nobody else registers."""
    if principal.role is Role.ANONYMOUS:
        chosen = raw
    elif principal.role is Role.AGENT:
        chosen = scoped
    else:
        return None
    return Registration(chosen.individual, chosen.customer, chosen.billing_account)
