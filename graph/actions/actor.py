"""Who acts, and for which customer: the scope every action reads and writes through.

A customer acts for themselves. An agent (assisted service) names the customer being assisted;
the action then runs in that customer's scope exactly as if the customer had sent it, so the
ownership checks of :mod:`graph.auth.scope` apply to agents too (an agent helping one customer
cannot pay another's bill by mistake), and every record read or written is also observed for
the agent's access log. The permission classes of the mutation fields admit only these two
roles; this module resolves the customer, it does not decide who may act.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from graph.auth.principal import Principal, Role
from graph.auth.scope import Scope
from graph.context import Info
from graph.errors import Code, GraphError
from graph.ids import BACKEND_ID, decode_global_id
from graph.loaders import Loaders
from graph.sources import Sources

from .problems import ActionRefused, ProblemCode

__all__ = ["Actor", "actor_for", "customer_reference"]


@dataclass(frozen=True, slots=True)
class Actor:
    principal: Principal
    customer_id: str
    sources: Sources  # scoped to the customer (and observed, for an agent)
    loaders: Loaders  # the loaders of those sources

    @property
    def agent(self) -> str | None:
        """The assisting agent's subject; None when the customer acts alone."""
        return self.principal.subject if self.principal.role is Role.AGENT else None

    @property
    def channel(self) -> str:
        return self.principal.channel or "web"

    def correlator(self, idempotency_key: str) -> str:
        """What a record an action creates carries (TMF ``correlatorId`` / ``externalId``) so
        that a repeat whose first outcome was lost finds it: the same for the same customer
        and key, and revealing neither."""
        digest = hashlib.sha256(f"{self.customer_id}\n{idempotency_key}".encode()).hexdigest()
        return "csm-" + digest[:32]


def customer_reference(given: str, *field: str) -> str:
    """A Customer global id's backend id, or a CRM reference given as it is."""
    try:
        type_name, tmf_id = decode_global_id(given)
    except GraphError:
        if BACKEND_ID.fullmatch(given):
            return given
        raise ActionRefused.one(ProblemCode.INVALID_INPUT, "Not a customer id.", *field) from None
    if type_name != "Customer":
        raise ActionRefused.one(ProblemCode.INVALID_INPUT, "Not a customer id.", *field)
    return tmf_id


async def actor_for(info: Info, customer: str | None) -> Actor:
    """The actor of this request, acting for ``customer`` (input field ``customer``): agents
    must name one, customers may only name themselves."""
    context = info.context
    principal = context.principal
    named = customer_reference(customer, "customer") if customer else None
    if principal.role is Role.CUSTOMER and principal.customer_id:
        if named is not None and named != principal.customer_id:
            raise ActionRefused.one(
                ProblemCode.NOT_FOUND, "You can act only on your own account.", "customer"
            )
        return Actor(principal, principal.customer_id, context.sources, context.loaders)
    if principal.role is Role.AGENT:
        if named is None:
            raise ActionRefused.one(
                ProblemCode.INVALID_INPUT,
                "Name the customer you are assisting (`customer`).",
                "customer",
            )
        if await context.loaders.by_id(context.sources.customer).load(named) is None:
            raise ActionRefused.one(ProblemCode.NOT_FOUND, "No such customer.", "customer")
        scope = Scope(named, context.sources)
        loaders = Loaders()
        scope.bind(loaders)
        return Actor(principal, named, scope.sources, loaders)
    # The permission classes admit nobody else; reaching here is a schema mistake.
    raise GraphError("Only customers and agents act on accounts.", Code.FORBIDDEN)
