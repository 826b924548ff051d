"""CRM: TMF629 Customer, TMF632 Party (Individual), TMF666 Account, TMF683 Party Interaction."""

from __future__ import annotations

from typing import Any, TypedDict

from .records import ContactMedium, Money, Ref, TimePeriod

__all__ = ["AccountBalance", "BillingAccount", "Customer", "Individual", "PartyInteraction"]


class Customer(TypedDict, total=False):
    id: str
    href: str
    name: str
    status: str
    statusReason: str
    engagedParty: Ref
    account: list[Ref]
    contactMedium: list[ContactMedium]
    paymentMethod: list[Ref]
    relatedParty: list[Ref]
    validFor: TimePeriod


class Individual(TypedDict, total=False):
    id: str
    href: str
    givenName: str
    familyName: str
    middleName: str
    fullName: str
    formattedName: str
    preferredGivenName: str
    title: str
    gender: str
    birthDate: str
    status: str
    contactMedium: list[ContactMedium]


class AccountBalance(TypedDict, total=False):
    balanceType: str
    amount: Money
    validFor: TimePeriod


class BillingAccount(TypedDict, total=False):
    id: str
    href: str
    name: str
    accountType: str
    state: str
    paymentStatus: str
    lastModified: str
    accountBalance: list[AccountBalance]
    creditLimit: Money
    defaultPaymentMethod: Ref
    relatedParty: list[Ref]
    billStructure: dict[str, Any]


class PartyInteraction(TypedDict, total=False):
    id: str
    href: str
    description: str
    direction: str
    reason: str
    status: str
    interactionDate: TimePeriod
    channel: list[dict[str, Any]]
    relatedParty: list[Ref]
    interactionItem: list[dict[str, Any]]
    note: list[dict[str, Any]]
