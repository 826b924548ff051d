"""Inventory types: services (TMF638) and the resources supporting them (TMF639)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from enum import Enum
from typing import Any, cast

import strawberry

from graph.auth.masking import HIDDEN, Masked
from graph.context import Info
from graph.resolvers import assurance, inventory
from graph.sources.inventory import Resource as ResourceRecord
from graph.sources.inventory import Service as ServiceRecord

from .assurance import ServiceProblem
from .common import (
    Characteristic,
    Node,
    NodeKind,
    as_text,
    encode_global_id,
    enum_member,
    parse_datetime,
    register_node,
)
from .projection import Reads, reads

__all__ = [
    "Resource",
    "ResourceAdministrativeState",
    "ResourceOperationalState",
    "ResourceStatus",
    "ResourceUsageState",
    "Service",
    "ServiceHealth",
    "ServiceState",
]


@strawberry.enum(description="Lifecycle state of a service (TMF638 ServiceStateType).")
class ServiceState(Enum):
    FEASIBILITY_CHECKED = "feasibilityChecked"
    DESIGNED = "designed"
    RESERVED = "reserved"
    INACTIVE = "inactive"
    ACTIVE = "active"
    TERMINATED = "terminated"


@strawberry.enum(
    description="How well a service works, derived from the open problems affecting it."
)
class ServiceHealth(Enum):
    HEALTHY = strawberry.enum_value("HEALTHY", description="Active, and no open problem.")
    DEGRADED = strawberry.enum_value(
        "DEGRADED", description="Active, with an open problem that is not of the highest priority."
    )
    DOWN = strawberry.enum_value(
        "DOWN", description="Active, with an open problem of the highest priority, or failed."
    )
    UNKNOWN = strawberry.enum_value(
        "UNKNOWN", description="Not in service (not active), so there is no health to report."
    )


@strawberry.enum(description="Lifecycle status of a resource (TMF639 ResourceStatusType).")
class ResourceStatus(Enum):
    STANDBY = "standby"
    ALARM = "alarm"
    AVAILABLE = "available"
    RESERVED = "reserved"
    UNKNOWN = "unknown"
    SUSPENDED = "suspended"


@strawberry.enum(
    description="Whether a resource is able to work (TMF639 ResourceOperationalStateType)."
)
class ResourceOperationalState(Enum):
    ENABLE = "enable"
    DISABLE = "disable"


@strawberry.enum(
    description=(
        "Whether a resource is allowed to be used (TMF639 ResourceAdministrativeStateType)."
    )
)
class ResourceAdministrativeState(Enum):
    LOCKED = "locked"
    UNLOCKED = "unlocked"
    SHUTDOWN = "shutdown"


@strawberry.enum(description="Whether a resource is in use (TMF639 ResourceUsageStateType).")
class ResourceUsageState(Enum):
    IDLE = "idle"
    ACTIVE = "active"
    BUSY = "busy"


@strawberry.type(
    description=(
        "A network or IT element used to deliver a service (TMF639 Resource): a logical "
        "resource such as a phone number (MSISDN) or IP address, or a physical one such as a "
        "SIM card or a router."
    )
)
class Resource(Node):
    reference: str = strawberry.field(description="The resource's id in the resource inventory.")
    name: str | None = strawberry.field(
        description="Name of the resource. Hidden for analysts.", extensions=[Masked(HIDDEN)]
    )
    description: str | None = strawberry.field(description="Free-text description.")
    category: str | None = strawberry.field(
        description="Category of the resource, e.g. MSISDN, SIM, Router."
    )
    kind: str | None = strawberry.field(
        description="Which kind of resource this is: LogicalResource or PhysicalResource."
    )
    resource_status: ResourceStatus | None = strawberry.field(
        description="Lifecycle status; ALARM while a fault affects it. Null if unrecognised."
    )
    operational_state: ResourceOperationalState | None = strawberry.field(
        description="Whether the resource is able to work. Null if unrecognised."
    )
    administrative_state: ResourceAdministrativeState | None = strawberry.field(
        description="Whether the resource is allowed to be used. Null if unrecognised."
    )
    usage_state: ResourceUsageState | None = strawberry.field(
        description="Whether the resource is in use. Null if unrecognised."
    )
    start_operating_date: datetime.datetime | None = strawberry.field(
        description="Since when the resource operates."
    )
    end_operating_date: datetime.datetime | None = strawberry.field(
        description="Until when the resource operates (set once it stops)."
    )
    value: str | None = strawberry.field(
        description=(
            "The value of a logical resource, e.g. the phone number of an MSISDN. Hidden (null) "
            "for analysts."
        ),
        extensions=[Masked(HIDDEN)],
    )
    serial_number: str | None = strawberry.field(
        description=(
            "The manufacturer's serial number of a physical resource (ICCID for a SIM). Hidden "
            "for analysts."
        ),
        extensions=[Masked(HIDDEN)],
    )
    characteristics: list[Characteristic] = strawberry.field(
        description="Further properties of the resource. Hidden for analysts.",
        extensions=[Masked(HIDDEN)],
    )
    record: strawberry.Private[ResourceRecord]

    @classmethod
    def from_record(cls, record: ResourceRecord) -> Resource:
        # `@type`, `value` (LogicalResource) and `serialNumber` (PhysicalResource) are not in
        # the Resource record type: the subtypes' attributes are read through a plain mapping.
        raw = cast(Mapping[str, Any], record)
        return cls(
            id=strawberry.ID(encode_global_id("Resource", record["id"])),
            reference=record["id"],
            name=record.get("name"),
            description=record.get("description"),
            category=record.get("category"),
            kind=as_text(raw.get("@type")),
            resource_status=enum_member(ResourceStatus, record.get("resourceStatus")),
            operational_state=enum_member(ResourceOperationalState, record.get("operationalState")),
            administrative_state=enum_member(
                ResourceAdministrativeState, record.get("administrativeState")
            ),
            usage_state=enum_member(ResourceUsageState, record.get("usageState")),
            start_operating_date=parse_datetime(record.get("startOperatingDate")),
            end_operating_date=parse_datetime(record.get("endOperatingDate")),
            value=as_text(raw.get("value")),
            serial_number=as_text(raw.get("serialNumber")),
            characteristics=[
                Characteristic.from_record(c) for c in record.get("resourceCharacteristic", [])
            ],
            record=record,
        )


@strawberry.type(
    description=(
        "A service the operator runs for a customer, realizing a product (TMF638 Service), "
        "e.g. mobile voice & data, internet access, IPTV."
    )
)
class Service(Node):
    reference: str = strawberry.field(description="The service's id in the service inventory.")
    name: str | None = strawberry.field(description="Name of the service.")
    description: str | None = strawberry.field(description="Free-text description.")
    category: str | None = strawberry.field(
        description="Customer facing (CFS) or resource facing (RFS) service."
    )
    service_type: str | None = strawberry.field(
        description="Business type of the service, e.g. mobile, broadband, iptv."
    )
    state: ServiceState | None = strawberry.field(
        description="Lifecycle state of the service. Null if unrecognised."
    )
    start_date: datetime.datetime | None = strawberry.field(description="When the service started.")
    end_date: datetime.datetime | None = strawberry.field(
        description="When the service ended (set once terminated)."
    )
    is_service_enabled: bool | None = strawberry.field(
        description=(
            "Whether the service is enabled for use; false after it has started means it failed."
        )
    )
    has_started: bool | None = strawberry.field(description="Whether the service has been started.")
    specification_name: str | None = strawberry.field(
        description="Name of the service specification the service is an instance of."
    )
    characteristics: list[Characteristic] = strawberry.field(
        description="Configuration of the service. Hidden for analysts.",
        extensions=[Masked(HIDDEN)],
    )
    record: strawberry.Private[ServiceRecord]

    @classmethod
    def from_record(cls, record: ServiceRecord) -> Service:
        specification = record.get("serviceSpecification") or {}
        return cls(
            id=strawberry.ID(encode_global_id("Service", record["id"])),
            reference=record["id"],
            name=record.get("name"),
            description=record.get("description"),
            category=record.get("category"),
            service_type=record.get("serviceType"),
            state=enum_member(ServiceState, record.get("state")),
            start_date=parse_datetime(record.get("startDate")),
            end_date=parse_datetime(record.get("endDate")),
            is_service_enabled=record.get("isServiceEnabled"),
            has_started=record.get("hasStarted"),
            specification_name=specification.get("name"),
            characteristics=[
                Characteristic.from_record(c) for c in record.get("serviceCharacteristic", [])
            ],
            record=record,
        )

    @strawberry.field(description="The resources the service runs on, e.g. its number and SIM.")
    async def supporting_resources(self, info: Info) -> list[Resource] | None:
        records = await inventory.supporting_resources_of(info, self.record)
        return [Resource.from_record(r) for r in records]

    @strawberry.field(
        description="The service problems affecting the service, open or not, newest first."
    )
    async def problems(self, info: Info) -> list[ServiceProblem] | None:
        records = await assurance.problems_affecting(info, self.record["id"])
        return [ServiceProblem.from_record(p) for p in records]

    @strawberry.field(
        description=(
            "How well the service works, derived from the open service problems affecting it "
            "(open: acknowledged, in progress, pending or held). "
            "UNKNOWN when the service is not ACTIVE: a service that is designed, reserved or "
            "feasibility-checked does not run yet, an INACTIVE one is suspended on purpose and a "
            "TERMINATED one is gone, so a problem or an outage on it is not a fault the customer "
            "suffers; the same for a state the API does not know. "
            "For an ACTIVE service: DOWN when any open problem has the highest TMF656 priority "
            "(1 on the 1-10 scale), or when the service has failed (started but not enabled, "
            "as TMF638 defines it); DEGRADED when any other open problem affects it; HEALTHY "
            "when none does. The impact importance factor is not used: it is free text in "
            "TMF656 v4, and backends fill it with words such as medium rather than the 0-100 "
            "figure the specification suggests."
        )
    )
    async def health(self, info: Info) -> ServiceHealth | None:
        return ServiceHealth[await inventory.service_health(info, self.record)]


register_node("Service", NodeKind(source=lambda s: s.service, build=Service.from_record))
register_node("Resource", NodeKind(source=lambda s: s.resource, build=Resource.from_record))

# What each field reads of its records (TMF fields= projection, graph.schema.projection).
reads(
    Resource,
    "resource",
    reference="id",
    kind="@type",
    characteristics="resourceCharacteristic",
)
reads(
    Service,
    "service",
    reference="id",
    specification_name="serviceSpecification",
    characteristics="serviceCharacteristic",
    supporting_resources="supportingResource",
    problems=Reads(joins={"serviceProblem": ("creationDate",)}),
    health=Reads(
        ("state", "hasStarted", "isServiceEnabled"),
        joins={"serviceProblem": ("status", "priority", "creationDate")},
    ),
)
