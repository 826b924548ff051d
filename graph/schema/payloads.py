"""What every action's mutation shares: running it, typed user errors, and its payload.

A mutation answers with its payload: the objects the action produced, or ``errors`` saying why
it did not happen (or, rarely, what part of it did -- code ``INCOMPLETE``). Input that is wrong
is a user error in the payload, not a GraphQL error: the client shows it next to the field it
names. GraphQL errors are left for what the client cannot fix (not signed in, a backend down).

Every action runs the same way (:func:`act`): for the actor the request names (a customer, or
an agent with ``customer``), once per idempotency key and recorded (:func:`~graph.actions.
perform`); then the payload re-reads what the outcome names (:func:`reloaded`), as it now is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final, Protocol, TypeVar

import strawberry

from graph.actions import (
    ActionIncomplete,
    ActionRefused,
    Actor,
    Done,
    Problem,
    ProblemCode,
    actor_for,
    checks,
    perform,
)
from graph.context import Info
from graph.sources import ResourceSource

__all__ = [
    "ASSISTED_CUSTOMER",
    "UserError",
    "UserErrorCode",
    "act",
    "optional_text",
    "reloaded",
    "respond",
    "user_errors",
]

ASSISTED_CUSTOMER: Final = "The customer being assisted (agents); customers leave it out."

R = TypeVar("R", bound=Mapping[str, Any])
T = TypeVar("T")

UserErrorCode = strawberry.enum(
    ProblemCode,
    name="UserErrorCode",
    description="Why an action was refused, or what stopped it midway (INCOMPLETE).",
)


@strawberry.type(description="A problem with an action's input, or why it did not happen.")
class UserError:
    code: ProblemCode = strawberry.field(description="What kind of problem this is.")
    message: str = strawberry.field(description="What went wrong, for the person to read.")
    field: list[str] | None = strawberry.field(
        description='Path of the input field concerned, e.g. ["bills", "0", "amount"].'
    )


def user_errors(problems: Sequence[Problem]) -> list[UserError]:
    return [
        UserError(code=p.code, message=p.message, field=list(p.field) or None) for p in problems
    ]


class _Payload(Protocol):
    errors: list[UserError]


P = TypeVar("P", bound=_Payload)


async def respond(
    payload: Callable[..., P],
    action: Awaitable[P],
    partial: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> P:
    """The action's payload; its refusal as a payload with ``errors``; an incomplete action as
    a payload with what exists (``partial`` turns its records into payload fields)."""
    try:
        return await action
    except ActionRefused as refused:
        return payload(errors=user_errors(refused.problems))
    except ActionIncomplete as incomplete:
        fields = partial(incomplete.done) if partial else {}
        return payload(errors=user_errors(incomplete.problems), **fields)


async def act(
    info: Info,
    customer: str | None,
    action: str,
    run: Callable[[Actor], Awaitable[Done]],
    *,
    key: str | None = None,
    request: Any = None,
) -> tuple[Actor, dict[str, Any]]:
    """Run ``action`` for the actor of this request, acting for ``customer`` (the input's
    ``customer`` field; agents name one): once per idempotency ``key`` (``request``: what a
    repeat must match) and recorded. The actor (whose loaders then read afresh) and the
    action's outcome."""
    actor = await actor_for(info, str(customer) if customer else None)
    outcome = await perform(
        info, actor, action, lambda: run(actor), idempotency_key=key, request=request
    )
    return actor, outcome


async def reloaded(
    actor: Actor, source: ResourceSource[R], record_id: str | None, build: Callable[[R], T]
) -> T | None:
    """The record ``record_id`` (from an outcome) as it is now, as a GraphQL object."""
    if record_id is None:
        return None
    record = await actor.loaders.by_id(source).load(record_id)
    return build(record) if record is not None else None


def optional_text(value: str | None, limit: int, *field: str) -> str | None:
    """A checked text (:func:`graph.actions.checks.text`), or None when left out or blank."""
    if value is None or not value.strip():
        return None
    return checks.text(value, limit, *field)
