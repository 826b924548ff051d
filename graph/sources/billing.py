"""Billing: TMF678 Customer Bill and Applied Billing Rate, TMF676 Payment, TMF670 Payment
Method, TMF635 Usage."""

from __future__ import annotations

from typing import Any, TypedDict

from .records import Characteristic, Money, Ref, TimePeriod

__all__ = [
    "AppliedCustomerBillingRate",
    "CustomerBill",
    "Payment",
    "PaymentItem",
    "PaymentMethod",
    "Usage",
]


class CustomerBill(TypedDict, total=False):
    id: str
    href: str
    billNo: str
    billDate: str
    category: str
    runType: str
    state: str
    paymentDueDate: str
    nextBillDate: str
    lastUpdate: str
    billingPeriod: TimePeriod
    amountDue: Money
    remainingAmount: Money
    taxExcludedAmount: Money
    taxIncludedAmount: Money
    taxItem: list[dict[str, Any]]
    appliedPayment: list[dict[str, Any]]
    billDocument: list[dict[str, Any]]
    billingAccount: Ref
    relatedParty: list[Ref]
    paymentMethod: Ref


class AppliedCustomerBillingRate(TypedDict, total=False):
    id: str
    href: str
    name: str
    description: str
    type: str
    date: str
    isBilled: bool
    bill: Ref
    billingAccount: Ref
    product: Ref
    periodCoverage: TimePeriod
    taxExcludedAmount: Money
    taxIncludedAmount: Money
    appliedTax: list[dict[str, Any]]
    characteristic: list[Characteristic]


class PaymentItem(TypedDict, total=False):
    id: str
    amount: Money
    item: Ref


class Payment(TypedDict, total=False):
    id: str
    href: str
    name: str
    description: str
    status: str
    statusDate: str
    paymentDate: str
    account: Ref
    paymentMethod: Ref
    payer: Ref
    channel: dict[str, Any]
    amount: Money
    totalAmount: Money
    taxAmount: Money
    paymentItem: list[PaymentItem]


# Subtype attributes (brand, lastFourDigits, ...) ride along in the same dict.
class PaymentMethod(TypedDict, total=False):
    id: str
    href: str
    name: str
    description: str
    isPreferred: bool
    status: str
    statusDate: str
    validFor: TimePeriod
    relatedParty: Ref
    account: list[Ref]
    brand: str
    lastFourDigits: str
    expirationDate: str
    accountNumber: str
    accountNumberType: str
    bank: str
    owner: str


class Usage(TypedDict, total=False):
    id: str
    href: str
    description: str
    usageDate: str
    usageType: str
    status: str
    relatedParty: list[Ref]
    usageCharacteristic: list[Characteristic]
    ratedProductUsage: list[dict[str, Any]]
