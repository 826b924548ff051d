"""Self-service actions: what every mutation shares.

An action runs for an :class:`~.actor.Actor` (the customer, or an agent assisting them, in the
customer's scope), refuses bad input with typed problems (:mod:`.problems`, checked by
:mod:`.checks`) before any backend write, runs at most once per idempotency key and is recorded
as a TMF683 party interaction (:mod:`.runner`, :mod:`.recording`). The actions themselves live
with the resolvers of their domain; the schema turns their outcomes into payloads.
"""

from __future__ import annotations

from .actor import Actor, actor_for, customer_reference
from .problems import ActionIncomplete, ActionRefused, Problem, ProblemCode, refusal_reason
from .recording import Touched
from .runner import Done, perform

__all__ = [
    "ActionIncomplete",
    "ActionRefused",
    "Actor",
    "Done",
    "Problem",
    "ProblemCode",
    "Touched",
    "actor_for",
    "customer_reference",
    "perform",
    "refusal_reason",
]
