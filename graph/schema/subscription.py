"""The root Subscription: live updates over graphql-transport-ws, fed by the backends' events.

Each field yields the type the queries return (TroubleTicket, ProductOrder, Bill, Payment,
Service), read again through the subscriber's scope for every event
(:mod:`graph.resolvers.live`): only the principal's own objects -- a customer's, or for an
agent those of the customer named in ``customer``. Fields are checked by the channel policy
like a query's (assurance per selected field, depth, cost) before the subscription starts.

Two pieces of wiring make that work with strawberry:

- :class:`LiveExecutor`: graphql-core runs every event of a subscription with the context of
  the connection. A :class:`~graph.resolvers.live.Delivery` carries the context of its own
  event (that event's loaders and scope); the executor runs the event's fields in it, so they
  are read as fresh as the object, and no event's loaders leak into another's.
- :class:`graph.errors.ErrorCodes` codes each streamed result's errors too (graphql-transport-ws
  sends them as they are made, before the operation ends).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Annotated, Any, TypeVar, cast

import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from graph.auth.permissions import CanAct
from graph.context import Info
from graph.errors import Code, GraphError
from graph.ids import decode_global_id
from graph.resolvers import live
from graph.resolvers.live import Delivery

from .assurance import TroubleTicket
from .billing import Bill, Payment
from .fulfillment import ProductOrder
from .inventory import Service

__all__ = ["LiveExecutor", "Subscription"]

log = logging.getLogger("graph.errors")

R = TypeVar("R")
T = TypeVar("T")

CustomerArg = Annotated[
    strawberry.ID | None,
    strawberry.argument(
        description=(
            "The customer being assisted (global id or CRM reference): required for agents; "
            "customers leave it out."
        )
    ),
]
_WHO = (
    " Only the subscriber's own objects are sent: a customer's, or those of the customer an "
    "agent names. Permission: customers, and agents assisting one. If events may have been "
    "missed (the subscriber fell behind, or the event feed was interrupted) the subscription "
    "ends with a BACKEND_UNAVAILABLE error: subscribe again and reload."
)


class LiveExecutor(StrawberryGraphQLCoreExecutionContext):
    """Runs a subscription event in the context its :class:`Delivery` carries."""

    def build_per_event_executor(self, payload: Any) -> Any:
        if isinstance(payload, Delivery):
            executor = super().build_per_event_executor(payload.value)
            executor.context_value = payload.context
        else:
            executor = super().build_per_event_executor(payload)
        # graphql-core shares its memo of sub-selections with each event's copy, and every
        # event collects its fields afresh: the memo would grow by an entry per event for
        # the subscription's lifetime.
        executor._relevant_sub_fields = {}
        return executor


def _backend_id(given: strawberry.ID | None, type_name: str, argument: str) -> str | None:
    """The backend id of a global id of ``type_name``; BAD_USER_INPUT otherwise."""
    if given is None:
        return None
    kind, tmf_id = decode_global_id(str(given))
    if kind != type_name:
        raise GraphError(f"`{argument}` is not a {type_name} id.", Code.BAD_USER_INPUT)
    return tmf_id


async def _send(
    deliveries: AsyncGenerator[Delivery[R], None], build: Callable[[R], T]
) -> AsyncGenerator[T, None]:
    """Each record as its GraphQL type, still wrapped with its event's context (which
    :class:`LiveExecutor` unwraps): typed as the object for strawberry."""
    async with aclosing(deliveries) as closing:  # ends the subscriber's events with it
        async for delivery in closing:
            yield cast(T, Delivery(build(delivery.value), delivery.context))


@strawberry.type(description="Live updates of the subscriber's objects (graphql-transport-ws).")
class Subscription:
    @strawberry.subscription(
        description=(
            "A trouble ticket each time it changes (created, status moved, note added), as the "
            "ticketing system has it then." + _WHO
        ),
        permission_classes=[CanAct],
    )
    async def trouble_ticket_updated(
        self,
        info: Info,
        ticket: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only this ticket (its global id); default: all."),
        ] = None,
        customer: CustomerArg = None,
    ) -> AsyncGenerator[TroubleTicket, None]:
        ticket_id = _backend_id(ticket, "TroubleTicket", "ticket")
        updates = await live.ticket_updates(info, ticket_id, _text(customer))
        return _send(updates, TroubleTicket.from_record)

    @strawberry.subscription(
        description=(
            "A product order each time it progresses (acknowledged, in progress, completed or "
            "failed, cancelled)." + _WHO
        ),
        permission_classes=[CanAct],
    )
    async def product_order_progress(
        self,
        info: Info,
        order: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only this order (its global id); default: all."),
        ] = None,
        customer: CustomerArg = None,
    ) -> AsyncGenerator[ProductOrder, None]:
        order_id = _backend_id(order, "ProductOrder", "order")
        updates = await live.order_progress(info, order_id, _text(customer))
        return _send(updates, ProductOrder.from_record)

    @strawberry.subscription(
        description="Each new bill, when it is issued." + _WHO,
        permission_classes=[CanAct],
    )
    async def bill_issued(
        self, info: Info, customer: CustomerArg = None
    ) -> AsyncGenerator[Bill, None]:
        updates = await live.bills_issued(info, _text(customer))
        return _send(updates, Bill.from_record)

    @strawberry.subscription(
        description="Each new payment, and each change of a payment's status." + _WHO,
        permission_classes=[CanAct],
    )
    async def payment_status_changed(
        self, info: Info, customer: CustomerArg = None
    ) -> AsyncGenerator[Payment, None]:
        updates = await live.payment_changes(info, _text(customer))
        return _send(updates, Payment.from_record)

    @strawberry.subscription(
        description=(
            "A service whenever its health (see `Service.health`) differs from what this "
            "subscription last sent for it -- the first time it is concerned by an event, "
            "always: on changes of the service and of service problems affecting it." + _WHO
        ),
        permission_classes=[CanAct],
    )
    async def service_health_changed(
        self,
        info: Info,
        service: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only this service (its global id); default: all."),
        ] = None,
        customer: CustomerArg = None,
    ) -> AsyncGenerator[Service, None]:
        service_id = _backend_id(service, "Service", "service")
        updates = await live.health_changes(info, service_id, _text(customer))
        return _send(updates, Service.from_record)


def _text(given: strawberry.ID | None) -> str | None:
    return str(given) if given is not None else None
