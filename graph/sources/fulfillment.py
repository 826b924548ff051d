"""Fulfillment: TMF620 Product Catalog, TMF622 Product Ordering, TMF637 Product Inventory,
TMF641 Service Ordering."""

from __future__ import annotations

from typing import Any, TypedDict

from .records import Characteristic, Money, Note, Ref, TimePeriod

__all__ = [
    "Category",
    "Product",
    "ProductOffering",
    "ProductOfferingPrice",
    "ProductOrder",
    "ProductOrderItem",
    "ProductPrice",
    "ServiceOrder",
]


class Category(TypedDict, total=False):
    id: str
    href: str
    name: str
    description: str
    isRoot: bool
    parentId: str
    lifecycleStatus: str


class ProductOfferingPrice(TypedDict, total=False):
    id: str
    href: str
    name: str
    description: str
    priceType: str
    recurringChargePeriodType: str
    recurringChargePeriodLength: int
    lifecycleStatus: str
    price: Money
    validFor: TimePeriod


class ProductOffering(TypedDict, total=False):
    id: str
    href: str
    name: str
    description: str
    isBundle: bool
    isSellable: bool
    lifecycleStatus: str
    version: str
    category: list[Ref]
    productOfferingPrice: list[Ref]
    productSpecification: Ref
    channel: list[Ref]
    validFor: TimePeriod


class ProductPrice(TypedDict, total=False):
    name: str
    description: str
    priceType: str
    recurringChargePeriod: str
    price: dict[str, Any]
    productOfferingPrice: Ref


class Product(TypedDict, total=False):
    id: str
    href: str
    name: str
    description: str
    status: str
    isBundle: bool
    isCustomerVisible: bool
    orderDate: str
    startDate: str
    terminationDate: str
    productSerialNumber: str
    productOffering: Ref
    productPrice: list[ProductPrice]
    productCharacteristic: list[Characteristic]
    billingAccount: Ref
    realizingService: list[Ref]
    realizingResource: list[Ref]
    relatedParty: list[Ref]


class ProductOrderItem(TypedDict, total=False):
    id: str
    action: str
    state: str
    quantity: int
    productOffering: Ref
    product: dict[str, Any]
    itemPrice: list[dict[str, Any]]


class ProductOrder(TypedDict, total=False):
    id: str
    href: str
    description: str
    category: str
    state: str
    priority: str
    orderDate: str
    completionDate: str
    expectedCompletionDate: str
    requestedCompletionDate: str
    cancellationDate: str
    cancellationReason: str
    channel: list[dict[str, Any]]
    note: list[Note]
    billingAccount: Ref
    relatedParty: list[Ref]
    productOrderItem: list[ProductOrderItem]
    orderTotalPrice: list[dict[str, Any]]


class ServiceOrder(TypedDict, total=False):
    id: str
    href: str
    state: str
    orderDate: str
    completionDate: str
    relatedParty: list[Ref]
    serviceOrderItem: list[dict[str, Any]]
