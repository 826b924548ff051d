"""Assurance types: trouble tickets (TMF621) and service problems (TMF656)."""

from __future__ import annotations

import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from graph.auth.masking import HIDDEN, Masked
from graph.context import Info
from graph.resolvers import assurance, inventory
from graph.sources.assurance import ServiceProblem as ServiceProblemRecord
from graph.sources.assurance import StatusChange as StatusChangeRecord
from graph.sources.assurance import TroubleTicket as TroubleTicketRecord
from graph.sources.records import Note as NoteRecord
from graph.sources.records import Ref

from .common import (
    Node,
    NodeKind,
    as_text,
    build_node,
    encode_global_id,
    enum_member,
    parse_datetime,
    register_node,
)
from .projection import Reads, reads

if TYPE_CHECKING:
    from graph.schema.billing import Bill
    from graph.schema.fulfillment import Product
    from graph.schema.inventory import Resource, Service


__all__ = [
    "RelatedEntityRef",
    "ServiceProblem",
    "ServiceProblemStatus",
    "TicketNote",
    "TicketStatus",
    "TicketStatusChange",
    "TroubleTicket",
]


@strawberry.enum(description="Status of a trouble ticket (TMF621 TroubleTicketStatusType).")
class TicketStatus(Enum):
    ACKNOWLEDGED = "acknowledged"
    REJECTED = "rejected"
    PENDING = "pending"
    HELD = "held"
    IN_PROGRESS = "inProgress"
    CANCELLED = "cancelled"
    CLOSED = "closed"
    RESOLVED = "resolved"


@strawberry.enum(description="Status of a service problem (TMF656 ServiceProblemStateType).")
class ServiceProblemStatus(Enum):
    ACKNOWLEDGED = "acknowledged"
    REJECTED = "rejected"
    PENDING = "pending"
    HELD = "held"
    IN_PROGRESS = "inProgress"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"
    CLOSED = "closed"


@strawberry.type(description="One move of a trouble ticket to a status, with when and why.")
class TicketStatusChange:
    status: TicketStatus | None = strawberry.field(
        description="The status the ticket moved to; null if the backend sent an unknown one."
    )
    change_date: datetime.datetime | None = strawberry.field(
        description="When the ticket moved to this status."
    )
    reason: str | None = strawberry.field(description="Why the status changed.")

    @classmethod
    def from_record(cls, record: StatusChangeRecord) -> TicketStatusChange:
        return cls(
            status=enum_member(TicketStatus, record.get("status")),
            change_date=parse_datetime(record.get("changeDate")),
            reason=record.get("changeReason"),
        )


@strawberry.type(description="A note on a trouble ticket, by the customer or customer care.")
class TicketNote:
    text: str | None = strawberry.field(description="What the note says.")
    author: str | None = strawberry.field(description="Who wrote the note.")
    date: datetime.datetime | None = strawberry.field(description="When the note was written.")

    @classmethod
    def from_record(cls, record: NoteRecord) -> TicketNote:
        return cls(
            text=record.get("text"),
            author=record.get("author"),
            date=parse_datetime(record.get("date")),
        )


@strawberry.type(
    description=(
        "A reference from a trouble ticket to what it is about (a bill, a product, a service), "
        "as the ticketing system holds it."
    )
)
class RelatedEntityRef:
    role: str | None = strawberry.field(
        description="What the entity is to the ticket, e.g. affectedService, disputedBill."
    )
    referred_type: str | None = strawberry.field(
        description="The TMF type of the entity, e.g. Service, Product, CustomerBill."
    )
    reference: str = strawberry.field(description="The entity's id in its own backend.")
    name: str | None = strawberry.field(
        description="The entity's name, as the ticket has it. Hidden for analysts.",
        extensions=[Masked(HIDDEN)],
    )

    @classmethod
    def from_record(cls, record: Ref) -> RelatedEntityRef:
        return cls(
            role=record.get("role"),
            referred_type=record.get("@referredType"),
            reference=record.get("id", ""),
            name=record.get("name"),
        )

    @strawberry.field(
        description=(
            "The product, service, resource or bill itself; null when it no longer exists or "
            "is of a kind the gateway does not serve."
        )
    )
    async def entity(
        self, info: Info
    ) -> (
        Annotated[
            Annotated[Product, strawberry.lazy("graph.schema.fulfillment")]
            | Annotated[Service, strawberry.lazy("graph.schema.inventory")]
            | Annotated[Resource, strawberry.lazy("graph.schema.inventory")]
            | Annotated[Bill, strawberry.lazy("graph.schema.billing")],
            strawberry.union("TicketSubject", description="What a trouble ticket can be about."),
        ]
        | None
    ):
        found = await assurance.related_entity(info, self.referred_type, self.reference)
        if found is None:
            return None
        type_name, record = found
        return build_node(type_name, record)  # type: ignore[no-any-return]


def _oldest_first(changes: list[StatusChangeRecord]) -> list[StatusChangeRecord]:
    earliest = datetime.datetime.min.replace(tzinfo=datetime.UTC)
    return sorted(changes, key=lambda c: parse_datetime(c.get("changeDate")) or earliest)


@strawberry.type(description="A customer's report of an issue, and its handling (TMF621).")
class TroubleTicket(Node):
    reference: str = strawberry.field(description="The ticket's id in the ticketing system.")
    name: str | None = strawberry.field(
        description="Short title of the issue. Hidden for analysts.", extensions=[Masked(HIDDEN)]
    )
    description: str | None = strawberry.field(
        description="The issue, as reported. Hidden for analysts.", extensions=[Masked(HIDDEN)]
    )
    severity: str | None = strawberry.field(
        description="How badly the issue affects the customer, e.g. Critical, Major, Minor."
    )
    priority: str | None = strawberry.field(
        description="How quickly the issue should be resolved, e.g. High, Medium, Low."
    )
    ticket_type: str | None = strawberry.field(
        description="Business type of the ticket, e.g. incident, complaint, request."
    )
    status: TicketStatus | None = strawberry.field(
        description="Where the ticket is in its handling; null for a status the API does not know."
    )
    status_change_reason: str | None = strawberry.field(
        description="Why the ticket last changed status."
    )
    creation_date: datetime.datetime | None = strawberry.field(
        description="When the ticket was raised."
    )
    last_update: datetime.datetime | None = strawberry.field(
        description="When the ticket last changed."
    )
    expected_resolution_date: datetime.datetime | None = strawberry.field(
        description="When the operator expects to resolve the issue."
    )
    resolution_date: datetime.datetime | None = strawberry.field(
        description="When the issue was resolved."
    )
    channel: str | None = strawberry.field(
        description="The channel the ticket was raised through, e.g. Web portal, Mobile app."
    )
    status_history: list[TicketStatusChange] = strawberry.field(
        description="Every status the ticket went through, oldest first."
    )
    notes: list[TicketNote] = strawberry.field(
        description=(
            "Notes added by the customer and by customer care, in the order added. Hidden for "
            "analysts."
        ),
        extensions=[Masked(HIDDEN)],
    )
    related_entities: list[RelatedEntityRef] = strawberry.field(
        description="What the ticket is about (bills, products, services), as raw references."
    )
    is_open: bool = strawberry.field(
        description=(
            "Whether the ticket is still being handled: false once it is resolved, closed, "
            "cancelled or rejected."
        )
    )
    record: strawberry.Private[TroubleTicketRecord]

    @classmethod
    def from_record(cls, record: TroubleTicketRecord) -> TroubleTicket:
        channel: dict[str, Any] = record.get("channel") or {}
        return cls(
            id=strawberry.ID(encode_global_id("TroubleTicket", record["id"])),
            reference=record["id"],
            name=record.get("name"),
            description=record.get("description"),
            severity=record.get("severity"),
            priority=record.get("priority"),
            ticket_type=record.get("ticketType"),
            status=enum_member(TicketStatus, record.get("status")),
            status_change_reason=record.get("statusChangeReason"),
            creation_date=parse_datetime(record.get("creationDate")),
            last_update=parse_datetime(record.get("lastUpdate")),
            expected_resolution_date=parse_datetime(record.get("expectedResolutionDate")),
            resolution_date=parse_datetime(record.get("resolutionDate")),
            channel=channel.get("name") or channel.get("id"),
            status_history=[
                TicketStatusChange.from_record(c)
                for c in _oldest_first(list(record.get("statusChange", [])))
            ],
            notes=[TicketNote.from_record(n) for n in record.get("note", [])],
            related_entities=[
                RelatedEntityRef.from_record(e) for e in record.get("relatedEntity", [])
            ],
            is_open=assurance.ticket_is_open(record),
            record=record,
        )


@strawberry.type(
    description=(
        "A problem the operator detected or was told about in its service layer, affecting "
        "one or more services (TMF656)."
    )
)
class ServiceProblem(Node):
    reference: str = strawberry.field(description="The problem's id in the assurance system.")
    name: str | None = strawberry.field(description="Short title of the problem.")
    description: str | None = strawberry.field(description="What does not work.")
    category: str | None = strawberry.field(
        description="Classifier of the problem, e.g. connectivity, quality."
    )
    priority: int | None = strawberry.field(
        description="How important fixing it is, from 1 (highest) to 10 (lowest)."
    )
    reason: str | None = strawberry.field(description="What caused the problem, if known.")
    status: ServiceProblemStatus | None = strawberry.field(
        description="Where the problem is in its handling; null for a status the API does not know."
    )
    creation_date: datetime.datetime | None = strawberry.field(
        description="When the problem was raised."
    )
    last_update: datetime.datetime | None = strawberry.field(
        description="When the problem last changed."
    )
    resolution_date: datetime.datetime | None = strawberry.field(
        description="When the problem was resolved."
    )
    impact_importance_factor: str | None = strawberry.field(
        description=(
            "Overall importance of the impact on the affected services, as the assurance "
            "system states it (TMF656 suggests 0 for none to 100 for the worst)."
        )
    )
    is_open: bool = strawberry.field(
        description=(
            "Whether the problem is still being worked on: true while acknowledged, in "
            "progress, pending or held (or in a status the API does not know); false once "
            "resolved, closed, cancelled or rejected."
        )
    )
    record: strawberry.Private[ServiceProblemRecord]

    @classmethod
    def from_record(cls, record: ServiceProblemRecord) -> ServiceProblem:
        return cls(
            id=strawberry.ID(encode_global_id("ServiceProblem", record["id"])),
            reference=record["id"],
            name=record.get("name"),
            description=record.get("description"),
            category=record.get("category"),
            priority=assurance.problem_priority(record),
            reason=record.get("reason"),
            status=enum_member(ServiceProblemStatus, record.get("status")),
            creation_date=parse_datetime(record.get("creationDate")),
            last_update=parse_datetime(record.get("lastUpdate")),
            resolution_date=parse_datetime(record.get("resolutionDate")),
            impact_importance_factor=as_text(record.get("impactImportanceFactor")),
            is_open=assurance.problem_is_open(record),
            record=record,
        )

    @strawberry.field(description="The services the problem affects.")
    async def affected_services(
        self, info: Info
    ) -> list[Annotated[Service, strawberry.lazy("graph.schema.inventory")]] | None:
        from graph.schema.inventory import Service  # inventory imports this module

        records = await inventory.affected_services_of(info, self.record)
        return [Service.from_record(s) for s in records]

    @strawberry.field(description="The trouble tickets the problem was raised from or linked to.")
    async def trouble_tickets(self, info: Info) -> list[TroubleTicket] | None:
        records = await assurance.tickets_of_problem(info, self.record)
        return [TroubleTicket.from_record(t) for t in records]


register_node("TroubleTicket", NodeKind(source=lambda s: s.ticket, build=TroubleTicket.from_record))
register_node(
    "ServiceProblem",
    NodeKind(source=lambda s: s.service_problem, build=ServiceProblem.from_record),
)

# What each field reads of its records (TMF fields= projection, graph.schema.projection).
reads(
    TroubleTicket,
    "troubleTicket",
    reference="id",
    status_history="statusChange",
    notes="note",
    related_entities="relatedEntity",
    is_open="status",
)
reads(RelatedEntityRef, None, entity=Reads())
reads(
    ServiceProblem,
    "serviceProblem",
    reference="id",
    is_open="status",
    affected_services="affectedService",
    trouble_tickets="troubleTicket",
)
