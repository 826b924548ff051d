"""Services (TMF638) and the resources supporting them (TMF639), and how healthy a service is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal

from graph.context import Info
from graph.resolvers.assurance import (
    problem_is_open,
    problem_priority,
    problems_affecting,
    ref_ids,
)
from graph.sources.assurance import ServiceProblem
from graph.sources.inventory import Resource, Service

__all__ = [
    "HIGHEST_PROBLEM_PRIORITY",
    "Health",
    "affected_services_of",
    "health_from",
    "resources_by_ids",
    "service_health",
    "services_by_ids",
    "services_of_customer",
    "supporting_resources_of",
]

Health = Literal["HEALTHY", "DEGRADED", "DOWN", "UNKNOWN"]

# TMF656 priority runs from 1 (highest) to 10 (lowest).
HIGHEST_PROBLEM_PRIORITY: Final = 1


async def services_by_ids(info: Info, ids: list[str]) -> list[Service]:
    """Services by backend id, in the order given; ids that do not exist are left out."""
    ctx = info.context
    found = await ctx.loaders.by_id(ctx.sources.service).load_many(ids)
    return [service for service in found if service is not None]


async def resources_by_ids(info: Info, ids: list[str]) -> list[Resource]:
    """Resources by backend id, in the order given; ids that do not exist are left out."""
    ctx = info.context
    found = await ctx.loaders.by_id(ctx.sources.resource).load_many(ids)
    return [resource for resource in found if resource is not None]


async def services_of_customer(info: Info, customer_id: str) -> list[Service]:
    """The services whose related party is the customer, in inventory order."""
    ctx = info.context
    return await ctx.loaders.by_ref(ctx.sources.service, "relatedParty.id").load(customer_id)


async def supporting_resources_of(info: Info, service: Service) -> list[Resource]:
    return await resources_by_ids(info, ref_ids(service.get("supportingResource")))


async def affected_services_of(info: Info, problem: ServiceProblem) -> list[Service]:
    return await services_by_ids(info, ref_ids(problem.get("affectedService")))


def health_from(service: Service, problems: Sequence[ServiceProblem]) -> Health:
    """The health rule (see ``Service.health`` in the schema for the documented version).

    - UNKNOWN when the service is not ``active`` (designed, reserved, feasibilityChecked: not
      running yet; inactive: suspended on purpose; terminated: gone; or an unknown state).
    - DOWN when it has failed by TMF638's own definition (``hasStarted`` and not
      ``isServiceEnabled``), or when any open problem affecting it has TMF656's highest
      priority (1).
    - DEGRADED when any other open problem affects it.
    - HEALTHY otherwise.
    """
    if service.get("state") != "active":
        return "UNKNOWN"
    if service.get("hasStarted") is True and service.get("isServiceEnabled") is False:
        return "DOWN"
    open_problems = [p for p in problems if problem_is_open(p)]
    if any(problem_priority(p) == HIGHEST_PROBLEM_PRIORITY for p in open_problems):
        return "DOWN"
    return "DEGRADED" if open_problems else "HEALTHY"


async def service_health(info: Info, service: Service) -> Health:
    if service.get("state") != "active":
        return "UNKNOWN"  # no need to ask for problems
    return health_from(service, await problems_affecting(info, service["id"]))
