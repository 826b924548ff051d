"""What can stop a self-service action, as typed user errors.

An action refuses bad input or a business rule by raising :class:`ActionRefused` with one or
more :class:`Problem` s, each with a :class:`ProblemCode`, a message meant for the person (and
safe to show), and the path of the input field it is about. The mutation then answers with its
payload's ``errors`` and nothing else: a refusal happens before anything is sent to a backend.

When a backend fails *after* an action has changed something (a multi-step action, such as
registering a customer), the action raises :class:`ActionIncomplete` instead: its problems
state exactly what was done and what was not, and ``done`` carries the objects that exist, so
the payload shows them. Nothing is left half-done silently.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from graph.sources import BackendRejected

__all__ = ["ActionIncomplete", "ActionRefused", "Problem", "ProblemCode", "refusal_reason"]

MAX_REASON: Final = 200
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]+")


class ProblemCode(StrEnum):
    INVALID_INPUT = "INVALID_INPUT"  # malformed or out of range
    TOO_LONG = "TOO_LONG"  # a text over its limit
    NOT_FOUND = "NOT_FOUND"  # no such object among the customer's (or not theirs)
    INVALID_AMOUNT = "INVALID_AMOUNT"  # not positive, or more than two decimals
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    AMOUNT_EXCEEDS_REMAINING = "AMOUNT_EXCEEDS_REMAINING"
    NOTHING_TO_PAY = "NOTHING_TO_PAY"  # the bill is settled
    PAYMENT_METHOD_UNUSABLE = "PAYMENT_METHOD_UNUSABLE"  # inactive, expired, another's
    CARD_NUMBER_REFUSED = "CARD_NUMBER_REFUSED"  # a card number where a token belongs
    PAYMENT_METHOD_IN_USE = "PAYMENT_METHOD_IN_USE"  # a default, a plan's, the preferred, the last
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"  # same key, different input
    ACTION_IN_PROGRESS = "ACTION_IN_PROGRESS"  # same key, still running elsewhere
    TICKET_CLOSED = "TICKET_CLOSED"  # closed, cancelled or rejected: no more changes
    INVALID_TRANSITION = "INVALID_TRANSITION"  # e.g. confirming an unresolved ticket
    UNKNOWN_OFFERING = "UNKNOWN_OFFERING"
    OFFERING_NOT_SELLABLE = "OFFERING_NOT_SELLABLE"
    PRODUCT_NOT_ACTIVE = "PRODUCT_NOT_ACTIVE"
    ORDER_NOT_CANCELLABLE = "ORDER_NOT_CANCELLABLE"
    ALREADY_REGISTERED = "ALREADY_REGISTERED"
    INVALID_EMAIL = "INVALID_EMAIL"
    INVALID_PHONE = "INVALID_PHONE"
    INVALID_ADDRESS = "INVALID_ADDRESS"
    NOT_ALLOWED = "NOT_ALLOWED"  # this sign-in may not do this part of the action
    BACKEND_REFUSED = "BACKEND_REFUSED"  # the system of record said no (its reason shown)
    INCOMPLETE = "INCOMPLETE"  # a backend failed midway: what happened is in the message


@dataclass(frozen=True, slots=True)
class Problem:
    code: ProblemCode
    message: str
    field: tuple[str, ...] = ()  # path into the input, e.g. ("bills", "0", "amount")


class ActionRefused(Exception):
    """The action did nothing; the problems say why."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = tuple(problems)

    @classmethod
    def one(cls, code: ProblemCode, message: str, *field: str) -> ActionRefused:
        return cls([Problem(code, message, tuple(field))])


@dataclass
class ActionIncomplete(Exception):
    """A backend failed after part of the action was done: ``problems`` say what was and was
    not done; ``done`` holds the payload fields of what exists (records by payload field)."""

    problems: tuple[Problem, ...]
    done: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        Exception.__init__(self, "; ".join(p.message for p in self.problems))


def refusal_reason(refused: BackendRejected) -> str:
    """A backend's refusal as the person may read it: TMF's Error ``reason`` and ``message``
    are meant to be shown to a client user; on one line, bounded."""
    said = ": ".join(part for part in (refused.reason, refused.message) if part) or "no reason"
    said = _CONTROL.sub(" ", said).strip()
    return said if len(said) <= MAX_REASON else said[: MAX_REASON - 3] + "..."
