"""The backend events the gateway listens to, and their validation.

A TMF event arrives at ``{callback}/listener/{eventName}`` as ``{eventId, eventTime,
eventType, event: {<resource>: {...}}}``. :func:`parse_event` accepts only the event names in
:data:`LISTENED` and bodies of that shape (the event type matching the listener name, one
resource object with a plain id), and turns them into a :class:`ChangeEvent` -- all that the
gateway passes on: which object changed, and the record as the event carried it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

from graph.ids import BACKEND_ID

__all__ = ["CACHE_TOPICS", "LISTENED", "TOPICS", "ChangeEvent", "InvalidEvent", "parse_event"]

# API -> (resource, the events of it the gateway listens to).
TOPICS: Final[Mapping[str, tuple[str, tuple[str, ...]]]] = {
    "TMF621": (
        "troubleTicket",
        (
            "troubleTicketCreateEvent",
            "troubleTicketStatusChangeEvent",
            "troubleTicketAttributeValueChangeEvent",
            "troubleTicketResolvedEvent",
            "troubleTicketInformationRequiredEvent",
        ),
    ),
    "TMF622": (
        "productOrder",
        (
            "productOrderCreateEvent",
            "productOrderStateChangeEvent",
            "productOrderAttributeValueChangeEvent",
        ),
    ),
    # TMF678 v4 defines no events; its v5 supplement does (customerBill*Event).
    "TMF678": ("customerBill", ("customerBillCreateEvent", "customerBillStateChangeEvent")),
    "TMF676": (
        "payment",
        ("paymentCreateEvent", "paymentStateChangeEvent", "paymentAttributeValueChangeEvent"),
    ),
    "TMF638": (
        "service",
        ("serviceStateChangeEvent", "serviceAttributeValueChangeEvent"),
    ),
    "TMF656": (
        "serviceProblem",
        (
            "serviceProblemCreateEvent",
            "serviceProblemStateChangeEvent",
            "serviceProblemAttributeValueChangeEvent",
        ),
    ),
}


def _every(resource: str, state: str = "State") -> tuple[str, ...]:
    kinds = ("Create", "AttributeValueChange", f"{state}Change", "Delete")
    return tuple(f"{resource}{kind}Event" for kind in kinds)


# API -> (resource, events) the gateway listens to only to keep its entity cache coherent
# (graph/sources/cached.py): changes no subscription shows, made outside the gateway.
CACHE_TOPICS: Final[Mapping[str, tuple[str, tuple[str, ...]]]] = {
    "TMF629": ("customer", _every("customer")),
    "TMF632": ("individual", _every("individual")),
    "TMF666": (
        "billingAccount",
        ("billingAccountAttributeValueChangeEvent", "billingAccountStateChangeEvent"),
    ),
    "TMF670": ("paymentMethod", _every("paymentMethod", "Status")),
    "TMF635": ("usage", _every("usage")),
    "TMF637": ("product", _every("product")),
    "TMF639": ("resource", _every("resource")),
}

# Listener event name -> resource.
LISTENED: Final[Mapping[str, str]] = {
    name: resource
    for topics in (TOPICS, CACHE_TOPICS)
    for resource, names in topics.values()
    for name in names
}
_EVENT_ID: Final = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class InvalidEvent(ValueError):
    """Not an event the gateway takes: the reason, for the 400 answer and the log."""


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    event_id: str
    event_type: str  # e.g. TroubleTicketStatusChangeEvent
    resource: str  # e.g. troubleTicket
    record_id: str
    record: dict[str, Any]  # the resource as the event carried it
    time: str | None = None

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "eventId": self.event_id,
                "eventType": self.event_type,
                "resource": self.resource,
                "id": self.record_id,
                "record": self.record,
                "time": self.time,
            }
        )

    @classmethod
    def from_json(cls, payload: bytes) -> ChangeEvent:
        data = orjson.loads(payload)
        return cls(
            event_id=data["eventId"],
            event_type=data["eventType"],
            resource=data["resource"],
            record_id=data["id"],
            record=data["record"],
            time=data.get("time"),
        )


def parse_event(event_name: str, body: Any) -> ChangeEvent:
    """The event a backend notified at ``listener/{event_name}``; InvalidEvent otherwise."""
    resource = LISTENED.get(event_name)
    if resource is None:
        raise InvalidEvent(f"not an event this gateway listens to: {event_name[:80]!r}")
    if not isinstance(body, dict):
        raise InvalidEvent("the body is not a JSON object")
    event_id = body.get("eventId")
    if not isinstance(event_id, str) or not _EVENT_ID.fullmatch(event_id):
        raise InvalidEvent("eventId is missing or malformed")
    event_type = body.get("eventType")
    if event_type != event_name[0].upper() + event_name[1:]:
        raise InvalidEvent("eventType does not match the listener it was sent to")
    event = body.get("event")
    record = event.get(resource) if isinstance(event, dict) else None
    if not isinstance(record, dict):
        raise InvalidEvent(f"event.{resource} is missing")
    record_id = record.get("id")
    if not isinstance(record_id, str) or not BACKEND_ID.fullmatch(record_id):
        raise InvalidEvent(f"event.{resource}.id is missing or malformed")
    time = body.get("eventTime")
    return ChangeEvent(
        event_id=event_id,
        event_type=event_type,
        resource=resource,
        record_id=record_id,
        record=record,
        time=time if isinstance(time, str) else None,
    )
