"""Trouble ticket actions (TMF621): report an issue, add a note, cancel, confirm or reopen.

A customer raises a ticket about one of their own products, services or bills, and moves it
along the part of the TMF621 life cycle that is theirs to move: cancelling a ticket still being
handled, and -- once customer care has resolved it -- confirming the resolution (closed) or
reopening it (in progress). Every other move belongs to customer care.

Each action reads the ticket (or the subject) through the actor's scope first, so another
customer's object is "not found" before anything is written, and checks the ticket's status
against :data:`CUSTOMER_MOVES`: the gateway never sends a write that the ticketing system would
refuse for a reason known beforehand. A refusal the gateway could not foresee (the ticket moved
meanwhile) comes back as ``BACKEND_REFUSED`` with the ticketing system's reason.

TMF621 notes are an array, and a JSON merge patch replaces arrays: a note is added by sending
the ticket's notes as read plus the new one. Creating a ticket with an idempotency key stores a
correlator derived from it in ``externalId``, so a repeat whose first outcome was lost (a
timed-out POST) finds that ticket instead of raising a second one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from graph.actions import ActionRefused, Actor, Done, ProblemCode, Touched, refusal_reason
from graph.auth.audit import CHANNEL_NAMES
from graph.sources import BackendNotFound, BackendRejected, ResourceSource, Sources
from graph.sources.assurance import TroubleTicket
from graph.sources.records import Note, Ref

__all__ = [
    "CUSTOMER_MOVES",
    "SUBJECT_KINDS",
    "TERMINAL_STATUSES",
    "AddNote",
    "CreateTicket",
    "MoveTicket",
    "Subject",
    "add_note",
    "create_ticket",
    "move_ticket",
]

# Statuses after which a ticket takes no more changes, not even a note.
TERMINAL_STATUSES: Final = frozenset({"closed", "cancelled", "rejected"})
# The moves a customer makes: target status -> the statuses it may be made from. A subset of
# TMF621's life cycle (and of the sandbox's TICKET_TRANSITIONS, which a test compares).
CUSTOMER_MOVES: Final[Mapping[str, frozenset[str]]] = {
    "cancelled": frozenset({"acknowledged", "inProgress", "pending", "held"}),
    "closed": frozenset({"resolved"}),  # the customer confirms the resolution
    "inProgress": frozenset({"resolved"}),  # the customer reopens it
}


@dataclass(frozen=True, slots=True)
class SubjectKind:
    """What a ticket may be about: where it is read, and how the ticket refers to it."""

    source: Callable[[Sources], ResourceSource[Any]]
    resource: str  # TMF resource name, for the record of the action
    referred_type: str  # the @referredType the ticketing system checks references by
    default_type: str  # the ticket type when none is given
    role: str  # the entity's role on a ticket of that type (on others: "related<Type>")
    name_key: str  # the attribute that names it to a person


# GraphQL type name -> kind. The seeded tickets refer to services and products they are about
# as affectedService / affectedProduct, and to a bill they dispute as disputedBill.
SUBJECT_KINDS: Final[Mapping[str, SubjectKind]] = {
    "Product": SubjectKind(
        lambda s: s.product, "product", "Product", "incident", "affectedProduct", "name"
    ),
    "Service": SubjectKind(
        lambda s: s.service, "service", "Service", "incident", "affectedService", "name"
    ),
    "Bill": SubjectKind(
        lambda s: s.bill, "customerBill", "CustomerBill", "complaint", "disputedBill", "billNo"
    ),
}
# Ticket types in use (TMF621 leaves them to the operator), with the label a title starts with.
TICKET_TYPES: Final = {"incident": "Fault", "complaint": "Complaint", "request": "Request"}
PRIORITY_OF: Final = {"Critical": "High", "Major": "Medium", "Minor": "Low"}
MAX_NAME: Final = 100


@dataclass(frozen=True, slots=True)
class Subject:
    kind: str  # a key of SUBJECT_KINDS
    record_id: str


@dataclass(frozen=True, slots=True)
class CreateTicket:
    subject: Subject
    description: str
    ticket_type: str | None  # a key of TICKET_TYPES; None: by the subject
    severity: str | None  # a key of PRIORITY_OF; None: Major for an incident, else Minor
    name: str | None
    idempotency_key: str | None

    def fingerprint(self) -> dict[str, Any]:
        """What a repeat with the same key must match."""
        return {
            "subject": [self.subject.kind, self.subject.record_id],
            "description": self.description,
            "type": self.ticket_type,
            "severity": self.severity,
            "name": self.name,
        }


@dataclass(frozen=True, slots=True)
class AddNote:
    ticket_id: str
    text: str


@dataclass(frozen=True, slots=True)
class MoveTicket:
    """Move a ticket to ``target`` (a key of CUSTOMER_MOVES), with the customer's words (a
    reason, a remark) as a note."""

    ticket_id: str
    target: str
    note: str | None = None


def author(actor: Actor) -> str:
    """Who a note is by: the assisting agent, or the customer."""
    return actor.agent or "customer"


# -- creating --------------------------------------------------------------------------------


async def create_ticket(actor: Actor, request: CreateTicket) -> Done:
    kind = SUBJECT_KINDS[request.subject.kind]
    source = kind.source(actor.sources)
    subject = await actor.loaders.by_id(source).load(request.subject.record_id)
    if subject is None:
        raise ActionRefused.one(
            ProblemCode.NOT_FOUND,
            f"No such {request.subject.kind.lower()} on your account.",
            "subject",
        )
    corr = actor.correlator(request.idempotency_key) if request.idempotency_key else None
    if corr is not None:
        earlier = await actor.sources.ticket.search({"externalId": corr})
        if earlier:
            return _created(earlier[0], kind, subject, replayed=True)
    ticket_type = request.ticket_type or kind.default_type
    severity = request.severity or ("Major" if ticket_type == "incident" else "Minor")
    subject_name = str(subject.get(kind.name_key) or subject["id"])
    role = kind.role if ticket_type == kind.default_type else "related" + kind.referred_type
    entity: Ref = {"id": subject["id"], "role": role, "@referredType": kind.referred_type}
    if subject.get("href"):
        entity["href"] = subject["href"]
    entity["name"] = subject_name
    body: dict[str, Any] = {
        "@type": "TroubleTicket",
        "name": request.name or f"{TICKET_TYPES[ticket_type]}: {subject_name}"[:MAX_NAME],
        "description": request.description,
        "ticketType": ticket_type,
        "severity": severity,
        "priority": PRIORITY_OF[severity],
        "channel": {"id": actor.channel, "name": CHANNEL_NAMES.get(actor.channel, actor.channel)},
        "relatedEntity": [entity],
        "relatedParty": [await _reporter(actor)],
    }
    if corr is not None:
        body["externalId"] = corr
    ticket = await _refused_as_problem(actor.sources.ticket.create(body), "subject")
    return _created(ticket, kind, subject, replayed=False)


async def _reporter(actor: Actor) -> Ref:
    """The customer as the ticket's related party, as the ticketing system's own tickets name
    them (role reporter)."""
    ref: Ref = {"id": actor.customer_id, "role": "reporter", "@referredType": "Customer"}
    customer = await actor.loaders.by_id(actor.sources.customer).load(actor.customer_id)
    if customer is not None:
        if customer.get("href"):
            ref["href"] = customer["href"]
        if customer.get("name"):
            ref["name"] = customer["name"]
    return ref


def _created(
    ticket: TroubleTicket, kind: SubjectKind, subject: Mapping[str, Any], *, replayed: bool
) -> Done:
    return Done(
        outcome={"ticket": ticket["id"]},
        summary=f"reported a {ticket.get('ticketType', 'ticket')} about "
        f"{kind.referred_type} {subject['id']} (ticket {ticket['id']})",
        touched=[
            Touched("troubleTicket", ticket["id"], "found again" if replayed else "created"),
            Touched(kind.resource, str(subject["id"]), "reported"),
        ],
    )


# -- changing --------------------------------------------------------------------------------


async def add_note(actor: Actor, request: AddNote) -> Done:
    ticket = await _ticket(actor, request.ticket_id)
    status = ticket.get("status")
    if status in TERMINAL_STATUSES:
        raise ActionRefused.one(
            ProblemCode.TICKET_CLOSED,
            f"This ticket is {status}: it takes no more notes. Raise a new ticket instead.",
            "ticket",
        )
    patch = {"note": _with_note(ticket, actor, request.text)}
    await _refused_as_problem(actor.sources.ticket.patch(ticket["id"], patch), "ticket")
    return Done(
        outcome={"ticket": ticket["id"]},
        summary=f"added a note to ticket {ticket['id']}",
        touched=[Touched("troubleTicket", ticket["id"], "noted")],
    )


@dataclass(frozen=True, slots=True)
class _Move:
    done: str  # what the action did, for its record
    rule: str  # when it may be done, for a refusal
    reason: str  # the status change's reason, worded as the ticketing system's own


_MOVES: Final = {
    "cancelled": _Move(
        "cancelled",
        "Only a ticket still being handled can be cancelled",
        "Cancelled at the customer's request",
    ),
    "closed": _Move(
        "confirmed", "Only a resolved ticket can be confirmed", "Confirmed by the customer"
    ),
    "inProgress": _Move(
        "reopened", "Only a resolved ticket can be reopened", "Reopened by the customer"
    ),
}


async def move_ticket(actor: Actor, request: MoveTicket) -> Done:
    """Cancel, confirm (close) or reopen a ticket, from the statuses CUSTOMER_MOVES allows."""
    move = _MOVES[request.target]
    ticket = await _ticket(actor, request.ticket_id)
    status = ticket.get("status")
    if status in TERMINAL_STATUSES:
        raise ActionRefused.one(
            ProblemCode.TICKET_CLOSED,
            f"This ticket is {status}: it can no longer be changed.",
            "ticket",
        )
    if status not in CUSTOMER_MOVES[request.target]:
        raise ActionRefused.one(
            ProblemCode.INVALID_TRANSITION, f"{move.rule}; this one is {status}.", "ticket"
        )
    patch: dict[str, Any] = {"status": request.target, "statusChangeReason": move.reason}
    if request.note:
        patch["note"] = _with_note(ticket, actor, request.note)
    await _refused_as_problem(actor.sources.ticket.patch(ticket["id"], patch), "ticket")
    return Done(
        outcome={"ticket": ticket["id"]},
        summary=f"{move.done} ticket {ticket['id']}",
        touched=[Touched("troubleTicket", ticket["id"], move.done)],
    )


async def _ticket(actor: Actor, ticket_id: str) -> TroubleTicket:
    ticket = await actor.loaders.by_id(actor.sources.ticket).load(ticket_id)
    if ticket is None:
        raise ActionRefused.one(ProblemCode.NOT_FOUND, "No such ticket on your account.", "ticket")
    return ticket


def _with_note(ticket: TroubleTicket, actor: Actor, text: str) -> list[Note]:
    """The ticket's notes as read, and the new one (the ticketing system dates it)."""
    return [*ticket.get("note", []), {"author": author(actor), "text": text}]


async def _refused_as_problem(write: Awaitable[TroubleTicket], *field: str) -> TroubleTicket:
    """The write's result; the ticketing system's refusal as a user error with its reason."""
    try:
        return await write
    except BackendNotFound:  # gone since it was read
        raise ActionRefused.one(
            ProblemCode.NOT_FOUND, "This is no longer on your account.", *field
        ) from None
    except BackendRejected as refused:
        if refused.status not in (409, 422):
            raise  # a malformed request is the gateway's fault, not the person's
        raise ActionRefused.one(
            ProblemCode.BACKEND_REFUSED,
            f"The ticketing system refused this: {refusal_reason(refused)}. Nothing was changed.",
            *field,
        ) from None
