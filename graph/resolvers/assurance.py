"""Trouble tickets (TMF621) and service problems (TMF656)."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, TypeVar

from graph.context import Info
from graph.sources import ResourceSource, Sources
from graph.sources.assurance import ServiceProblem, TroubleTicket
from graph.sources.records import Ref

__all__ = [
    "CLOSED_PROBLEM_STATUSES",
    "CLOSED_TICKET_STATUSES",
    "problem_is_open",
    "problem_priority",
    "problems_affecting",
    "ref_ids",
    "ticket_is_open",
    "tickets_by_ids",
    "tickets_of_problem",
    "trouble_tickets_of",
]

# TMF621 TroubleTicketStatusType values after which nobody works on the ticket any more.
CLOSED_TICKET_STATUSES: Final = frozenset({"resolved", "closed", "cancelled", "rejected"})
# TMF656 ServiceProblemStateType enumerates the same eight values as TMF621; the same four end
# the work on a problem (the sandbox keeps acknowledged, inProgress and held problems open).
CLOSED_PROBLEM_STATUSES: Final = frozenset({"resolved", "closed", "cancelled", "rejected"})

_EPOCH: Final = datetime.datetime.min.replace(tzinfo=datetime.UTC)

T = TypeVar("T", TroubleTicket, ServiceProblem)


def _instant(value: object) -> datetime.datetime:
    """A TMF date-time for sorting; anything unparseable sorts as the oldest."""
    if not isinstance(value, str) or not value:
        return _EPOCH
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return _EPOCH
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def _newest_first(records: Iterable[T]) -> list[T]:
    return sorted(records, key=lambda r: _instant(r.get("creationDate")), reverse=True)


def ref_ids(refs: Iterable[Ref] | None) -> list[str]:
    """The ids of references, in order, without the ones that have none."""
    return [ref["id"] for ref in refs or () if ref.get("id")]


def ticket_is_open(ticket: TroubleTicket) -> bool:
    """Open unless resolved, closed, cancelled or rejected (an unknown status counts as open)."""
    return ticket.get("status") not in CLOSED_TICKET_STATUSES


def problem_is_open(problem: ServiceProblem) -> bool:
    """Open unless resolved, closed, cancelled or rejected (an unknown status counts as open)."""
    return problem.get("status") not in CLOSED_PROBLEM_STATUSES


def problem_priority(problem: ServiceProblem) -> int | None:
    """TMF656 priority, 1 (highest) to 10 (lowest); None when missing or not a whole number."""
    value: object = problem.get("priority")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


async def trouble_tickets_of(info: Info, customer_id: str) -> list[TroubleTicket]:
    """The tickets whose related party is the customer, newest creationDate first."""
    ctx = info.context
    tickets = await ctx.loaders.by_ref(ctx.sources.ticket, "relatedParty.id").load(customer_id)
    return _newest_first(tickets)


async def tickets_by_ids(info: Info, ids: Sequence[str]) -> list[TroubleTicket]:
    """Tickets by backend id, in the order given; ids that do not exist are left out."""
    ctx = info.context
    found = await ctx.loaders.by_id(ctx.sources.ticket).load_many(ids)
    return [ticket for ticket in found if ticket is not None]


async def tickets_of_problem(info: Info, problem: ServiceProblem) -> list[TroubleTicket]:
    """The trouble tickets a service problem was raised from or is linked to."""
    return await tickets_by_ids(info, ref_ids(problem.get("troubleTicket")))


async def problems_affecting(info: Info, service_id: str) -> list[ServiceProblem]:
    """The service problems naming the service as affected, newest creationDate first."""
    ctx = info.context
    loader = ctx.loaders.by_ref(ctx.sources.service_problem, "affectedService.id")
    return _newest_first(await loader.load(service_id))


# The TMF type a ticket's related entity names -> (GraphQL type name, where it is loaded from).
_ENTITY_KINDS: Final[dict[str, tuple[str, Callable[[Sources], ResourceSource[Any]]]]] = {
    "Product": ("Product", lambda s: s.product),
    "Service": ("Service", lambda s: s.service),
    "CustomerBill": ("Bill", lambda s: s.bill),
    "Resource": ("Resource", lambda s: s.resource),
}


async def related_entity(
    info: Info, referred_type: str | None, entity_id: str
) -> tuple[str, Mapping[str, Any]] | None:
    """The object a ticket's related-entity reference names, with its GraphQL type name;
    None for a type the gateway does not serve or an entity that no longer exists."""
    kind = _ENTITY_KINDS.get(referred_type or "")
    if kind is None or not entity_id:
        return None
    type_name, source = kind
    ctx = info.context
    record: Mapping[str, Any] | None = await ctx.loaders.by_id(source(ctx.sources)).load(entity_id)
    return (type_name, record) if record is not None else None
