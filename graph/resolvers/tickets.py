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
the ticket's notes plus the new one. So that two notes sent at once both stay, the gateway's
writers of a ticket take turns (:class:`~graph.actions.records.RecordLocks`): each reads the
notes afresh in its turn, writes, and reads back that its note is there. Creating a ticket with
an idempotency key stores a correlator derived from it in ``externalId``, so a repeat whose
first outcome was lost (a timed-out POST) finds that ticket instead of raising a second one --
if it is the same report (subject and description); a ticket found by the key's correlator
about something else means the key was reused (``IDEMPOTENCY_KEY_REUSED``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from graph.actions import ActionRefused, Actor, Done, ProblemCode, Touched
from graph.actions.records import RecordLocks, backend_refusal, channel_ref, lost_write, ref
from graph.sources import BackendNotFound, BackendRejected, ResourceSource, Sources
from graph.sources.assurance import TroubleTicket

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
            _same_report(earlier[0], request)
            return _created(earlier[0], kind, subject, replayed=True)
    ticket_type = request.ticket_type or kind.default_type
    severity = request.severity or ("Major" if ticket_type == "incident" else "Minor")
    subject_name = str(subject.get(kind.name_key) or subject["id"])
    role = kind.role if ticket_type == kind.default_type else "related" + kind.referred_type
    entity = ref(subject, kind.referred_type, name=subject_name, role=role)
    body: dict[str, Any] = {
        "@type": "TroubleTicket",
        "name": request.name or f"{TICKET_TYPES[ticket_type]}: {subject_name}"[:MAX_NAME],
        "description": request.description,
        "ticketType": ticket_type,
        "severity": severity,
        "priority": PRIORITY_OF[severity],
        "channel": channel_ref(actor),
        "relatedEntity": [entity],
        "relatedParty": [await _reporter(actor)],
    }
    if corr is not None:
        body["externalId"] = corr
    ticket = await _refused_as_problem(actor.sources.ticket.create(body), "subject")
    return _created(ticket, kind, subject, replayed=False)


async def _reporter(actor: Actor) -> dict[str, Any]:
    """The customer as the ticket's related party, as the ticketing system's own tickets name
    them (role reporter)."""
    customer = await actor.loaders.by_id(actor.sources.customer).load(actor.customer_id)
    return ref(customer or {"id": actor.customer_id}, "Customer", role="reporter")


def _same_report(ticket: TroubleTicket, request: CreateTicket) -> None:
    """A ticket found by this key's correlator must be this report's: about the same subject,
    in the same words. Otherwise the key was used for another report whose outcome the
    idempotency store has forgotten."""
    about = {str(e.get("id")) for e in ticket.get("relatedEntity") or ()}
    if request.subject.record_id not in about or ticket.get("description") != request.description:
        raise ActionRefused.one(
            ProblemCode.IDEMPOTENCY_KEY_REUSED,
            "This idempotency key was already used for a different report.",
            "idempotencyKey",
        )


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


async def add_note(actor: Actor, request: AddNote, locks: RecordLocks) -> Done:
    async with locks.turn("troubleTicket", request.ticket_id, "ticket"):
        ticket = await _ticket(actor, request.ticket_id)
        _require_open(ticket, "it takes no more notes. Raise a new ticket instead.")
        await _change(actor, ticket, {}, request.text)
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


async def move_ticket(actor: Actor, request: MoveTicket, locks: RecordLocks) -> Done:
    """Cancel, confirm (close) or reopen a ticket, from the statuses CUSTOMER_MOVES allows."""
    move = _MOVES[request.target]
    async with locks.turn("troubleTicket", request.ticket_id, "ticket"):
        ticket = await _ticket(actor, request.ticket_id)
        status = _require_open(ticket, "it can no longer be changed.")
        if status not in CUSTOMER_MOVES[request.target]:
            raise ActionRefused.one(
                ProblemCode.INVALID_TRANSITION, f"{move.rule}; this one is {status}.", "ticket"
            )
        patch: dict[str, Any] = {"status": request.target, "statusChangeReason": move.reason}
        await _change(actor, ticket, patch, request.note)
    return Done(
        outcome={"ticket": ticket["id"]},
        summary=f"{move.done} ticket {ticket['id']}",
        touched=[Touched("troubleTicket", ticket["id"], move.done)],
    )


async def _ticket(actor: Actor, ticket_id: str) -> TroubleTicket:
    """The ticket as it is now (read in the writer's turn: not from the request's loaders)."""
    ticket = await actor.sources.ticket.get(ticket_id)
    if ticket is None:
        raise ActionRefused.one(ProblemCode.NOT_FOUND, "No such ticket on your account.", "ticket")
    return ticket


def _require_open(ticket: TroubleTicket, then: str) -> str | None:
    """The ticket's status, unless it is closed, cancelled or rejected (TICKET_CLOSED)."""
    status = ticket.get("status")
    if status in TERMINAL_STATUSES:
        raise ActionRefused.one(
            ProblemCode.TICKET_CLOSED, f"This ticket is {status}: {then}", "ticket"
        )
    return status


async def _change(
    actor: Actor, ticket: TroubleTicket, patch: dict[str, Any], note: str | None
) -> None:
    """Patch the ticket, with ``note`` added to its notes; then check the note stayed."""
    notes = ticket.get("note") or []
    if note is not None:
        patch["note"] = [*notes, {"author": author(actor), "text": note}]
    await _refused_as_problem(actor.sources.ticket.patch(ticket["id"], patch), "ticket")
    if note is None:
        return
    now = await actor.sources.ticket.get(ticket["id"])
    mine = [n for n in (now or {}).get("note") or () if n.get("text") == note]
    if len(mine) <= sum(1 for n in notes if n.get("text") == note):
        raise lost_write("The note", "the ticket")


async def _refused_as_problem(write: Awaitable[TroubleTicket], *field: str) -> TroubleTicket:
    """The write's result; the ticketing system's refusal as a user error with its reason."""
    try:
        return await write
    except BackendNotFound:  # gone since it was read
        raise ActionRefused.one(
            ProblemCode.NOT_FOUND, "This is no longer on your account.", *field
        ) from None
    except BackendRejected as refused:
        said = "The ticketing system refused this: {reason}. Nothing was changed."
        raise backend_refusal(refused, said, *field) from None
