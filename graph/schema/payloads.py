"""What every action's payload shares: typed user errors, and turning refusals into them.

A mutation answers with its payload: the objects the action produced, or ``errors`` saying why
it did not happen (or, rarely, what part of it did -- code ``INCOMPLETE``). Input that is wrong
is a user error in the payload, not a GraphQL error: the client shows it next to the field it
names. GraphQL errors are left for what the client cannot fix (not signed in, a backend down).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

import strawberry

from graph.actions import ActionIncomplete, ActionRefused, Problem, ProblemCode

__all__ = ["UserError", "UserErrorCode", "respond", "user_errors"]

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
