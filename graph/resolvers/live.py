"""Live updates for one subscriber: which backend events concern them, and what they are sent.

An event only says that something changed. What a subscriber is sent is read again, by id,
through the subscriber's own scope with loaders fresh for that event -- never taken from the
event's body: a record the scope does not admit (another customer's) is simply not sent, and
what is sent is the backends' state when the event is handled. Each :class:`Delivery` carries
the context its object's fields then resolve in (that event's loaders and scope; see
:class:`graph.schema.subscription.LiveExecutor`), so nested fields are as fresh as the object.

Who is sent what: a customer their own objects; an agent names the customer being assisted
and gets that customer's, read through the agent's observed sources (so the reads are in the
agent's access log). The permission classes on the fields admit nobody else.

A subscriber that falls behind, or a broadcast gap (:class:`graph.events.EventsMissed`), ends
the subscription with ``BACKEND_UNAVAILABLE``: events may have been missed, so the client
subscribes again and reloads. When the fan-out stops (shutdown) subscriptions end cleanly.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from graph.actions.actor import customer_reference
from graph.actions.problems import ActionRefused
from graph.auth.principal import Role
from graph.auth.scope import Scope
from graph.context import Context, Info
from graph.errors import Code, GraphError
from graph.events import ChangeEvent, EventFanout, EventsMissed
from graph.ids import BACKEND_ID
from graph.loaders import Loaders
from graph.sources import Sources
from graph.sources.assurance import TroubleTicket
from graph.sources.billing import CustomerBill, Payment
from graph.sources.fulfillment import ProductOrder
from graph.sources.inventory import Service

from .inventory import Health, health_from

__all__ = [
    "BILL_EVENTS",
    "EVENTS_MISSED",
    "PAYMENT_EVENTS",
    "Delivery",
    "EventView",
    "Watcher",
    "bills_issued",
    "health_changes",
    "order_progress",
    "payment_changes",
    "ticket_updates",
    "watcher_for",
]

T = TypeVar("T")

EVENTS_MISSED: Final = (
    "Live updates were interrupted and events may have been missed: subscribe again and "
    "reload what you show."
)
BILL_EVENTS: Final = frozenset({"CustomerBillCreateEvent"})
PAYMENT_EVENTS: Final = frozenset({"PaymentCreateEvent", "PaymentStateChangeEvent"})
REMEMBERED: Final = 256  # per subscription: what it last sent, for this many objects
MAX_AFFECTED: Final = 100  # services a problem event may make a subscription read


@dataclass(frozen=True, slots=True)
class Delivery(Generic[T]):
    """One object to send, and the context its fields resolve in."""

    value: T
    context: Context


@dataclass(frozen=True, slots=True)
class EventView:
    """What handling one event reads through: the subscriber's scope, with fresh loaders."""

    sources: Sources
    loaders: Loaders
    context: Context  # the connection's context with these sources and loaders

    def deliver(self, value: T) -> Delivery[T]:
        return Delivery(value, self.context)


class Watcher:
    """One subscription: the customer whose objects it is sent, and its events."""

    def __init__(
        self, context: Context, customer_id: str, raw: Sources, fanout: EventFanout
    ) -> None:
        self.context = context
        self.customer_id = customer_id
        self.raw = raw  # unscoped (a customer's), or the agent's observed sources
        self.fanout = fanout

    def fresh(self) -> EventView:
        """A view for one event: the customer's scope over fresh loaders, so ownership and
        every record are read as they are now."""
        loaders = Loaders()
        scope = Scope(self.customer_id, self.raw)
        scope.bind(loaders)
        context = dataclasses.replace(self.context, sources=scope.sources, loaders=loaders)
        return EventView(scope.sources, loaders, context)

    async def events(self, resources: frozenset[str]) -> AsyncGenerator[ChangeEvent, None]:
        """The events of ``resources`` from now on; ends when the fan-out stops."""
        with self.fanout.subscribe(resources) as subscriber:
            try:
                async for event in subscriber:
                    yield event
            except EventsMissed as exc:
                raise GraphError(EVENTS_MISSED, Code.BACKEND_UNAVAILABLE) from exc


async def watcher_for(info: Info, customer: str | None) -> Watcher:
    """The subscriber of this request: a customer for themselves (``customer`` left out, or
    their own), an agent for the customer named (required, and must exist)."""
    context = info.context
    principal = context.principal
    try:
        named = customer_reference(customer, "customer") if customer else None
    except ActionRefused as exc:
        raise GraphError(str(exc), Code.BAD_USER_INPUT) from None
    live = context.live
    if live is None:
        raise GraphError("Live updates are not running.", Code.BACKEND_UNAVAILABLE)
    raw, fanout = live.sources, live.fanout
    if principal.role is Role.CUSTOMER and principal.customer_id:
        if named is not None and named != principal.customer_id:
            raise GraphError("You can follow only your own account.", Code.NOT_FOUND)
        return Watcher(context, principal.customer_id, raw, fanout)
    if principal.role is Role.AGENT:
        if named is None:
            raise GraphError(
                "Name the customer you are assisting (`customer`).", Code.BAD_USER_INPUT
            )
        if await context.sources.customer.get(named) is None:
            raise GraphError("No such customer.", Code.NOT_FOUND)
        # The agent's sources are observed: what the subscription reads is in the access log.
        return Watcher(context, named, context.sources, fanout)
    # The permission classes admit nobody else; reaching here is a schema mistake.
    raise GraphError("Only customers and agents follow accounts.", Code.FORBIDDEN)


class _Sent(Generic[T]):
    """What a subscription last sent per object (bounded), so an unchanged one is not sent
    again (one change often comes as two events: a state change and an attribute change)."""

    def __init__(self) -> None:
        self._last: OrderedDict[str, T] = OrderedDict()

    def changed(self, key: str, value: T) -> bool:
        if key in self._last and self._last[key] == value:
            self._last.move_to_end(key)
            return False
        self._last[key] = value
        self._last.move_to_end(key)
        if len(self._last) > REMEMBERED:
            self._last.popitem(last=False)
        return True


async def _reloaded(
    watcher: Watcher,
    resource: str,
    wanted: Callable[[ChangeEvent], bool],
    source: Callable[[Sources], Any],
) -> AsyncGenerator[Delivery[Any], None]:
    """Each changed record of ``resource`` an event names, reloaded through the scope."""
    sent: _Sent[Any] = _Sent()
    async with aclosing(watcher.events(frozenset({resource}))) as events:
        async for event in events:
            if not wanted(event):
                continue
            view = watcher.fresh()
            record = await view.loaders.by_id(source(view.sources)).load(event.record_id)
            if record is not None and sent.changed(record["id"], record):
                yield view.deliver(record)


async def _require(
    watcher: Watcher, source: Callable[[Sources], Any], record_id: str, what: str
) -> None:
    view = watcher.fresh()
    if await view.loaders.by_id(source(view.sources)).load(record_id) is None:
        raise GraphError(f"No such {what}.", Code.NOT_FOUND)


async def ticket_updates(
    info: Info, ticket: str | None, customer: str | None
) -> AsyncGenerator[Delivery[TroubleTicket], None]:
    """The subscriber's trouble tickets (or the one named) each time one changes."""
    watcher = await watcher_for(info, customer)
    if ticket is not None:
        await _require(watcher, lambda s: s.ticket, ticket, "trouble ticket")
    return _reloaded(
        watcher,
        "troubleTicket",
        lambda event: ticket is None or event.record_id == ticket,
        lambda s: s.ticket,
    )


async def order_progress(
    info: Info, order: str | None, customer: str | None
) -> AsyncGenerator[Delivery[ProductOrder], None]:
    """The subscriber's product orders (or the one named) each time one changes."""
    watcher = await watcher_for(info, customer)
    if order is not None:
        await _require(watcher, lambda s: s.product_order, order, "product order")
    return _reloaded(
        watcher,
        "productOrder",
        lambda event: order is None or event.record_id == order,
        lambda s: s.product_order,
    )


async def bills_issued(
    info: Info, customer: str | None
) -> AsyncGenerator[Delivery[CustomerBill], None]:
    """Each new bill of the subscriber."""
    watcher = await watcher_for(info, customer)
    return _reloaded(
        watcher, "customerBill", lambda event: event.event_type in BILL_EVENTS, lambda s: s.bill
    )


async def payment_changes(
    info: Info, customer: str | None
) -> AsyncGenerator[Delivery[Payment], None]:
    """Each new payment of the subscriber, and each change of a payment's status."""
    watcher = await watcher_for(info, customer)
    return _reloaded(
        watcher, "payment", lambda event: event.event_type in PAYMENT_EVENTS, lambda s: s.payment
    )


async def health_changes(
    info: Info, service: str | None, customer: str | None
) -> AsyncGenerator[Delivery[Service], None]:
    """The subscriber's services (or the one named) whose health differs from what this
    subscription last sent for them (the first time: sent), on TMF638 service events and
    TMF656 service problem events (their affected services)."""
    watcher = await watcher_for(info, customer)
    if service is not None:
        await _require(watcher, lambda s: s.service, service, "service")
    return _health_changes(watcher, service)


async def _health_changes(
    watcher: Watcher, service: str | None
) -> AsyncGenerator[Delivery[Service], None]:
    sent: _Sent[Health] = _Sent()
    async with aclosing(watcher.events(frozenset({"service", "serviceProblem"}))) as events:
        async for event in events:
            view = watcher.fresh()
            candidates = await _affected(view, event)
            if service is not None:
                candidates = [c for c in candidates if c == service]
            found = await view.loaders.by_id(view.sources.service).load_many(candidates)
            services = [s for s in found if s is not None]  # None: not theirs, or gone
            healths = await asyncio.gather(*(_health(view, s) for s in services))  # one batch
            for record, health in zip(services, healths, strict=True):
                if sent.changed(record["id"], health):
                    yield view.deliver(record)


async def _affected(view: EventView, event: ChangeEvent) -> list[str]:
    """The services an event may have changed the health of: the service itself, or the
    services a problem affects -- as the event names them (they may have been removed since)
    and as the problem now is. Only candidates: each is read through the scope."""
    if event.resource == "service":
        return [event.record_id]
    problem = await view.loaders.by_id(view.sources.service_problem).load(event.record_id)
    named = _ref_ids(event.record.get("affectedService"))
    now = _ref_ids((problem or {}).get("affectedService"))
    return list(dict.fromkeys([*named, *now]))[:MAX_AFFECTED]


def _ref_ids(refs: Any) -> list[str]:
    """The well-formed ids of a list of references (an event body is not trusted)."""
    if not isinstance(refs, list):
        return []
    return [
        ref["id"]
        for ref in refs
        if isinstance(ref, dict)
        and isinstance(ref.get("id"), str)
        and BACKEND_ID.fullmatch(ref["id"])
    ]


async def _health(view: EventView, service: Service) -> Health:
    """As ``Service.health`` resolves it (:func:`graph.resolvers.inventory.service_health`),
    through the same loader, so the field then reads the problems from its cache."""
    if service.get("state") != "active":
        return "UNKNOWN"
    loader = view.loaders.by_ref(view.sources.service_problem, "affectedService.id")
    return health_from(service, await loader.load(service["id"]))
