"""Inventory: TMF638 Service Inventory, TMF639 Resource Inventory."""

from __future__ import annotations

from typing import Any, TypedDict

from .records import Characteristic, Ref

__all__ = ["Resource", "Service"]


class Service(TypedDict, total=False):
    id: str
    href: str
    name: str
    description: str
    category: str
    serviceType: str
    state: str
    startDate: str
    endDate: str
    isServiceEnabled: bool
    hasStarted: bool
    serviceSpecification: Ref
    serviceCharacteristic: list[Characteristic]
    supportingResource: list[Ref]
    supportingService: list[Ref]
    relatedParty: list[Ref]


class Resource(TypedDict, total=False):
    id: str
    href: str
    name: str
    description: str
    category: str
    resourceStatus: str
    operationalState: str
    administrativeState: str
    usageState: str
    startOperatingDate: str
    endOperatingDate: str
    resourceSpecification: Ref
    resourceCharacteristic: list[Characteristic]
    relatedParty: list[Ref]
    place: list[dict[str, Any]]
