"""Assurance actions: reporting an issue and following a trouble ticket through (TMF621).

A customer (or an agent assisting them) raises a ticket about one of their products, services
or bills, adds notes, cancels it, and confirms or rejects (reopens) its resolution. Inputs are
checked here -- ids, text lengths, card numbers -- before anything reaches a backend; the
actions themselves are in :mod:`graph.resolvers.tickets`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Annotated, Final

import strawberry

from graph.actions import ActionRefused, Actor, Done, ProblemCode, checks
from graph.actions.records import record_locks
from graph.auth.permissions import CanAct
from graph.context import Info
from graph.errors import GraphError
from graph.ids import decode_global_id
from graph.resolvers import tickets

from .assurance import TroubleTicket
from .payloads import ASSISTED_CUSTOMER, UserError, act, optional_text, reloaded, respond

__all__ = [
    "AddTicketNoteInput",
    "AddTicketNotePayload",
    "AssuranceActions",
    "CancelTroubleTicketInput",
    "CancelTroubleTicketPayload",
    "ConfirmTicketResolutionInput",
    "ConfirmTicketResolutionPayload",
    "CreateTroubleTicketInput",
    "CreateTroubleTicketPayload",
    "ReopenTroubleTicketInput",
    "ReopenTroubleTicketPayload",
    "TicketSeverity",
    "TicketType",
]

MAX_TEXT: Final = 2000  # a description, a note, a reason

_TICKET_DESCRIPTION: Final = "The trouble ticket's global id; one of the customer's own tickets."


@strawberry.enum(description="What kind of issue a trouble ticket reports.")
class TicketType(Enum):
    INCIDENT = strawberry.enum_value(
        "incident", description="Something does not work: a fault of a product or service."
    )
    COMPLAINT = strawberry.enum_value(
        "complaint", description="The customer disagrees, e.g. with a bill or a charge."
    )
    REQUEST = strawberry.enum_value(
        "request", description="The customer asks for something, or asks a question."
    )


@strawberry.enum(description="How badly the issue affects the customer.")
class TicketSeverity(Enum):
    CRITICAL = strawberry.enum_value("Critical", description="Nothing works at all.")
    MAJOR = strawberry.enum_value("Major", description="Seriously impaired.")
    MINOR = strawberry.enum_value("Minor", description="A nuisance; it mostly works.")


# -- inputs ----------------------------------------------------------------------------------


@strawberry.input(
    description="Report an issue with one of the customer's products, services or bills."
)
class CreateTroubleTicketInput:
    subject: strawberry.ID = strawberry.field(
        description="What the issue is about: the global id of one of the customer's "
        "products, services or bills."
    )
    description: str = strawberry.field(
        description=f"The issue, in the customer's words; 1 to {MAX_TEXT} characters."
    )
    ticket_type: TicketType | None = strawberry.field(
        default=None,
        description="What kind of issue. Default: COMPLAINT about a bill, INCIDENT otherwise.",
    )
    severity: TicketSeverity | None = strawberry.field(
        default=None, description="How bad it is. Default: MAJOR for an incident, MINOR otherwise."
    )
    name: str | None = strawberry.field(
        default=None,
        description="A short title, at most 100 characters. Default: the kind of issue and "
        "the subject's name.",
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Optional: a fresh key (e.g. a UUID) per report. Sending the same report "
        "with the same key again -- after a timeout -- raises one ticket and answers the same.",
    )
    customer: strawberry.ID | None = strawberry.field(default=None, description=ASSISTED_CUSTOMER)


@strawberry.input(description="Add a note to one of the customer's open trouble tickets.")
class AddTicketNoteInput:
    ticket: strawberry.ID = strawberry.field(description=_TICKET_DESCRIPTION)
    text: str = strawberry.field(description=f"The note; 1 to {MAX_TEXT} characters.")
    customer: strawberry.ID | None = strawberry.field(default=None, description=ASSISTED_CUSTOMER)


@strawberry.input(description="Cancel a trouble ticket that is still being handled.")
class CancelTroubleTicketInput:
    ticket: strawberry.ID = strawberry.field(description=_TICKET_DESCRIPTION)
    reason: str | None = strawberry.field(
        default=None,
        description=f"Why, in the customer's words (added as a note); at most {MAX_TEXT} "
        "characters.",
    )
    customer: strawberry.ID | None = strawberry.field(default=None, description=ASSISTED_CUSTOMER)


@strawberry.input(description="Confirm that a resolved trouble ticket's issue is gone.")
class ConfirmTicketResolutionInput:
    ticket: strawberry.ID = strawberry.field(description=_TICKET_DESCRIPTION)
    note: str | None = strawberry.field(
        default=None, description=f"An optional closing remark; at most {MAX_TEXT} characters."
    )
    customer: strawberry.ID | None = strawberry.field(default=None, description=ASSISTED_CUSTOMER)


@strawberry.input(description="Reopen a resolved trouble ticket: the issue is not gone.")
class ReopenTroubleTicketInput:
    ticket: strawberry.ID = strawberry.field(description=_TICKET_DESCRIPTION)
    reason: str = strawberry.field(
        description=f"What is still wrong (added as a note); 1 to {MAX_TEXT} characters."
    )
    customer: strawberry.ID | None = strawberry.field(default=None, description=ASSISTED_CUSTOMER)


# -- payloads --------------------------------------------------------------------------------

_TICKET_AFTER: Final = "The ticket, as it stands after the action; null when refused."
_ERRORS: Final = "Why nothing was done; empty on success."


@strawberry.type(description="The result of `createTroubleTicket`.")
class CreateTroubleTicketPayload:
    ticket: TroubleTicket | None = strawberry.field(
        default=None, description="The ticket raised; null when refused."
    )
    errors: list[UserError] = strawberry.field(default_factory=list, description=_ERRORS)


@strawberry.type(description="The result of `addTicketNote`.")
class AddTicketNotePayload:
    ticket: TroubleTicket | None = strawberry.field(default=None, description=_TICKET_AFTER)
    errors: list[UserError] = strawberry.field(default_factory=list, description=_ERRORS)


@strawberry.type(description="The result of `cancelTroubleTicket`.")
class CancelTroubleTicketPayload:
    ticket: TroubleTicket | None = strawberry.field(default=None, description=_TICKET_AFTER)
    errors: list[UserError] = strawberry.field(default_factory=list, description=_ERRORS)


@strawberry.type(description="The result of `confirmTicketResolution`.")
class ConfirmTicketResolutionPayload:
    ticket: TroubleTicket | None = strawberry.field(default=None, description=_TICKET_AFTER)
    errors: list[UserError] = strawberry.field(default_factory=list, description=_ERRORS)


@strawberry.type(description="The result of `reopenTroubleTicket`.")
class ReopenTroubleTicketPayload:
    ticket: TroubleTicket | None = strawberry.field(default=None, description=_TICKET_AFTER)
    errors: list[UserError] = strawberry.field(default_factory=list, description=_ERRORS)


# -- input checks ----------------------------------------------------------------------------


def _subject(value: str) -> tickets.Subject:
    try:
        type_name, tmf_id = decode_global_id(value)
    except GraphError:
        type_name, tmf_id = "", ""
    if type_name not in tickets.SUBJECT_KINDS:
        raise ActionRefused.one(
            ProblemCode.INVALID_INPUT, "Not a product, service or bill id.", "subject"
        )
    return tickets.Subject(type_name, tmf_id)


def _ticket_id(value: strawberry.ID) -> str:
    return checks.global_id(str(value), "TroubleTicket", "ticket")


def _create_request(given: CreateTroubleTicketInput) -> tickets.CreateTicket:
    return tickets.CreateTicket(
        subject=_subject(str(given.subject)),
        description=checks.text(given.description, MAX_TEXT, "description"),
        ticket_type=str(given.ticket_type.value) if given.ticket_type else None,
        severity=str(given.severity.value) if given.severity else None,
        name=checks.text(given.name, tickets.MAX_NAME, "name") if given.name else None,
        idempotency_key=given.idempotency_key,
    )


# -- running ---------------------------------------------------------------------------------


async def _ticket_after(
    info: Info,
    customer: strawberry.ID | None,
    action: str,
    run: Callable[[Actor], Awaitable[Done]],
    *,
    idempotency_key: str | None = None,
    request: object = None,
) -> TroubleTicket | None:
    """Run a ticket action (:func:`act`); the ticket as it stands afterwards."""
    actor, outcome = await act(info, customer, action, run, key=idempotency_key, request=request)
    return await reloaded(actor, actor.sources.ticket, outcome["ticket"], TroubleTicket.from_record)


async def _create(info: Info, given: CreateTroubleTicketInput) -> CreateTroubleTicketPayload:
    request = _create_request(given)
    ticket = await _ticket_after(
        info,
        given.customer,
        "createTroubleTicket",
        lambda actor: tickets.create_ticket(actor, request),
        idempotency_key=request.idempotency_key,
        request=request.fingerprint(),
    )
    return CreateTroubleTicketPayload(ticket=ticket)


async def _note(info: Info, given: AddTicketNoteInput) -> AddTicketNotePayload:
    request = tickets.AddNote(_ticket_id(given.ticket), checks.text(given.text, MAX_TEXT, "text"))
    locks = record_locks(info)
    ticket = await _ticket_after(
        info, given.customer, "addTicketNote", lambda actor: tickets.add_note(actor, request, locks)
    )
    return AddTicketNotePayload(ticket=ticket)


async def _move(
    info: Info, customer: strawberry.ID | None, action: str, request: tickets.MoveTicket
) -> TroubleTicket | None:
    locks = record_locks(info)
    return await _ticket_after(
        info, customer, action, lambda actor: tickets.move_ticket(actor, request, locks)
    )


async def _cancel(info: Info, given: CancelTroubleTicketInput) -> CancelTroubleTicketPayload:
    request = tickets.MoveTicket(
        _ticket_id(given.ticket), "cancelled", optional_text(given.reason, MAX_TEXT, "reason")
    )
    ticket = await _move(info, given.customer, "cancelTroubleTicket", request)
    return CancelTroubleTicketPayload(ticket=ticket)


async def _confirm(
    info: Info, given: ConfirmTicketResolutionInput
) -> ConfirmTicketResolutionPayload:
    request = tickets.MoveTicket(
        _ticket_id(given.ticket), "closed", optional_text(given.note, MAX_TEXT, "note")
    )
    ticket = await _move(info, given.customer, "confirmTicketResolution", request)
    return ConfirmTicketResolutionPayload(ticket=ticket)


async def _reopen(info: Info, given: ReopenTroubleTicketInput) -> ReopenTroubleTicketPayload:
    request = tickets.MoveTicket(
        _ticket_id(given.ticket), "inProgress", checks.text(given.reason, MAX_TEXT, "reason")
    )
    ticket = await _move(info, given.customer, "reopenTroubleTicket", request)
    return ReopenTroubleTicketPayload(ticket=ticket)


_WHO: Final = "Permission: the customer, or an agent assisting them"


@strawberry.type
class AssuranceActions:
    @strawberry.mutation(
        description=(
            "Report an issue with one of the customer's products, services or bills: raises "
            "a trouble ticket (TMF621), which the customer's ticket list then shows. "
            f"{_WHO}; a PIN sign-in (IVR) may report issues too."
        ),
        permission_classes=[CanAct],
    )
    async def create_trouble_ticket(
        self,
        info: Info,
        input: Annotated[
            CreateTroubleTicketInput, strawberry.argument(description="The issue to report.")
        ],
    ) -> CreateTroubleTicketPayload:
        return await respond(CreateTroubleTicketPayload, _create(info, input))

    @strawberry.mutation(
        description=(
            "Add a note to a trouble ticket that is not closed, cancelled or rejected "
            f"(TICKET_CLOSED). {_WHO}; needs a full sign-in."
        ),
        permission_classes=[CanAct],
    )
    async def add_ticket_note(
        self,
        info: Info,
        input: Annotated[AddTicketNoteInput, strawberry.argument(description="The note to add.")],
    ) -> AddTicketNotePayload:
        return await respond(AddTicketNotePayload, _note(info, input))

    @strawberry.mutation(
        description=(
            "Cancel a trouble ticket still being handled (acknowledged, in progress, pending or "
            "held); a resolved one is confirmed or reopened instead (INVALID_TRANSITION), a "
            f"closed one stays as it is (TICKET_CLOSED). {_WHO}; needs a full sign-in."
        ),
        permission_classes=[CanAct],
    )
    async def cancel_trouble_ticket(
        self,
        info: Info,
        input: Annotated[
            CancelTroubleTicketInput, strawberry.argument(description="The ticket to cancel.")
        ],
    ) -> CancelTroubleTicketPayload:
        return await respond(CancelTroubleTicketPayload, _cancel(info, input))

    @strawberry.mutation(
        description=(
            "Confirm that a resolved trouble ticket's issue is gone: the ticket is closed. Only "
            f"a resolved ticket (INVALID_TRANSITION otherwise). {_WHO}; needs a full sign-in."
        ),
        permission_classes=[CanAct],
    )
    async def confirm_ticket_resolution(
        self,
        info: Info,
        input: Annotated[
            ConfirmTicketResolutionInput,
            strawberry.argument(description="The ticket whose resolution is confirmed."),
        ],
    ) -> ConfirmTicketResolutionPayload:
        return await respond(ConfirmTicketResolutionPayload, _confirm(info, input))

    @strawberry.mutation(
        description=(
            "Reopen a resolved trouble ticket whose issue is not gone: it goes back to in "
            "progress, with the reason as a note. Only a resolved ticket (INVALID_TRANSITION "
            f"otherwise). {_WHO}; needs a full sign-in."
        ),
        permission_classes=[CanAct],
    )
    async def reopen_trouble_ticket(
        self,
        info: Info,
        input: Annotated[
            ReopenTroubleTicketInput, strawberry.argument(description="The ticket to reopen.")
        ],
    ) -> ReopenTroubleTicketPayload:
        return await respond(ReopenTroubleTicketPayload, _reopen(info, input))
