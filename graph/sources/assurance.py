"""Assurance: TMF621 Trouble Ticket, TMF656 Service Problem."""

from __future__ import annotations

from typing import Any, TypedDict

from .records import Note, Ref

__all__ = ["ServiceProblem", "StatusChange", "TroubleTicket"]


class StatusChange(TypedDict, total=False):
    status: str
    changeDate: str
    changeReason: str


class TroubleTicket(TypedDict, total=False):
    id: str
    href: str
    name: str
    description: str
    severity: str
    priority: str
    ticketType: str
    status: str
    statusChangeDate: str
    statusChangeReason: str
    creationDate: str
    lastUpdate: str
    expectedResolutionDate: str
    resolutionDate: str
    channel: dict[str, Any]
    note: list[Note]
    relatedEntity: list[Ref]
    relatedParty: list[Ref]
    statusChange: list[StatusChange]


class ServiceProblem(TypedDict, total=False):
    id: str
    href: str
    name: str
    description: str
    category: str
    priority: int
    reason: str
    status: str
    creationDate: str
    lastUpdate: str
    resolutionDate: str
    affectedService: list[Ref]
    affectedResource: list[Ref]
    relatedParty: list[Ref]
    troubleTicket: list[Ref]
    impactImportanceFactor: str
