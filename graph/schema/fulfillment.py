"""Fulfillment types: the catalogue (TMF620), products (TMF637), product orders (TMF622) and
party interactions (TMF683)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry

from graph.auth.masking import HIDDEN, Masked
from graph.context import Info
from graph.resolvers import billing, fulfillment, inventory
from graph.sources.crm import PartyInteraction as PartyInteractionRecord
from graph.sources.fulfillment import Category as CategoryRecord
from graph.sources.fulfillment import Product as ProductRecord
from graph.sources.fulfillment import ProductOffering as ProductOfferingRecord
from graph.sources.fulfillment import ProductOfferingPrice as OfferingPriceRecord
from graph.sources.fulfillment import ProductOrder as ProductOrderRecord
from graph.sources.fulfillment import ProductOrderItem as ProductOrderItemRecord

from .common import (
    Characteristic,
    Money,
    Node,
    NodeKind,
    build_node,
    encode_global_id,
    enum_member,
    money,
    parse_datetime,
    register_node,
)
from .projection import Reads, reads

if TYPE_CHECKING:
    from graph.schema.billing import BillingAccount
    from graph.schema.inventory import Service


__all__ = [
    "Category",
    "Note",
    "OfferingPrice",
    "OrderItemAction",
    "PartyInteraction",
    "PriceType",
    "Product",
    "ProductOffering",
    "ProductOrder",
    "ProductOrderItem",
    "ProductOrderState",
    "ProductPrice",
    "ProductStatus",
]


def _first_name(channels: Any) -> str | None:
    if isinstance(channels, list) and channels and isinstance(channels[0], Mapping):
        name = channels[0].get("name")
        return str(name) if name is not None else None
    return None


@strawberry.enum(description="What a price is charged for (TMF620/TMF622 priceType).")
class PriceType(Enum):
    RECURRING = "recurring"
    ONE_TIME = "oneTime"
    USAGE = "usage"


@strawberry.enum(description="Lifecycle status of a product (TMF637 ProductStatusType).")
class ProductStatus(Enum):
    CREATED = "created"
    PENDING_ACTIVE = "pendingActive"
    CANCELLED = "cancelled"
    ACTIVE = "active"
    PENDING_TERMINATE = "pendingTerminate"
    TERMINATED = "terminated"
    SUSPENDED = "suspended"
    # The specification spells it "aborted " (trailing space); _enum strips, so both map here.
    ABORTED = "aborted"


@strawberry.enum(description="State of a product order or order item (TMF622).")
class ProductOrderState(Enum):
    ACKNOWLEDGED = "acknowledged"
    REJECTED = "rejected"
    PENDING = "pending"
    HELD = "held"
    IN_PROGRESS = "inProgress"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    FAILED = "failed"
    PARTIAL = "partial"
    ASSESSING_CANCELLATION = "assessingCancellation"
    PENDING_CANCELLATION = "pendingCancellation"


@strawberry.enum(description="What an order item does to the product (TMF622 OrderItemActionType).")
class OrderItemAction(Enum):
    ADD = "add"
    MODIFY = "modify"
    DELETE = "delete"
    NO_CHANGE = "noChange"


# -- the catalogue ---------------------------------------------------------------------------


@strawberry.type(description="A group of offerings in the catalogue (TMF620 Category).")
class Category(Node):
    reference: str = strawberry.field(description="The category's id in the catalogue (TMF620).")
    name: str | None = strawberry.field(description="Name of the category, e.g. Broadband.")
    description: str | None = strawberry.field(description="What the category holds.")

    @classmethod
    def from_record(cls, record: CategoryRecord) -> Category:
        return cls(
            id=strawberry.ID(encode_global_id("Category", record["id"])),
            reference=record["id"],
            name=record.get("name"),
            description=record.get("description"),
        )


@strawberry.type(
    description="A price of an offering in the catalogue (TMF620 ProductOfferingPrice)."
)
class OfferingPrice(Node):
    reference: str = strawberry.field(description="The price's id in the catalogue (TMF620).")
    name: str | None = strawberry.field(description="Name of the price, e.g. monthly fee.")
    description: str | None = strawberry.field(description="What the price is for.")
    price_type: PriceType | None = strawberry.field(
        description="Recurring, one-time or usage; null for a type this schema does not know."
    )
    recurring_charge_period: str | None = strawberry.field(
        description="For recurring prices, the period charged, e.g. month."
    )
    price: Money | None = strawberry.field(description="The amount, tax included.")

    @classmethod
    def from_record(cls, record: OfferingPriceRecord) -> OfferingPrice:
        # TMF620 v4.1 gives a bare (tax-included) Money; accept a TMF Price as well.
        amount: Mapping[str, Any] = record.get("price") or {}
        if "taxIncludedAmount" in amount:
            amount = amount["taxIncludedAmount"]
        return cls(
            id=strawberry.ID(encode_global_id("OfferingPrice", record["id"])),
            reference=record["id"],
            name=record.get("name"),
            description=record.get("description"),
            price_type=enum_member(PriceType, record.get("priceType")),
            recurring_charge_period=record.get("recurringChargePeriodType"),
            price=money(amount),
        )


@strawberry.type(description="Something the operator sells, as the catalogue offers it (TMF620).")
class ProductOffering(Node):
    reference: str = strawberry.field(description="The offering's id in the catalogue (TMF620).")
    name: str | None = strawberry.field(description="Name of the offering.")
    description: str | None = strawberry.field(description="What the offering is.")
    lifecycle_status: str | None = strawberry.field(
        description="Catalogue lifecycle status, e.g. Active, Retired."
    )
    is_sellable: bool = strawberry.field(
        description="Whether the offering can be sold on its own (not only within a bundle)."
    )
    is_bundle: bool = strawberry.field(description="Whether the offering bundles others.")
    valid_from: datetime.datetime | None = strawberry.field(
        description="Start of the period the offering is valid for."
    )
    valid_until: datetime.datetime | None = strawberry.field(
        description="End of the period the offering is valid for; null when open-ended."
    )
    record: strawberry.Private[ProductOfferingRecord]

    @classmethod
    def from_record(cls, record: ProductOfferingRecord) -> ProductOffering:
        valid_for = record.get("validFor") or {}
        return cls(
            id=strawberry.ID(encode_global_id("ProductOffering", record["id"])),
            reference=record["id"],
            name=record.get("name"),
            description=record.get("description"),
            lifecycle_status=record.get("lifecycleStatus"),
            is_sellable=record.get("isSellable") is not False,
            is_bundle=bool(record.get("isBundle", False)),
            valid_from=parse_datetime(valid_for.get("startDateTime")),
            valid_until=parse_datetime(valid_for.get("endDateTime")),
            record=record,
        )

    @strawberry.field(description="The catalogue categories the offering is in.")
    async def categories(self, info: Info) -> list[Category]:
        return [Category.from_record(r) for r in await fulfillment.categories_of(info, self.record)]

    @strawberry.field(description="The offering's prices, e.g. a monthly fee and a one-time fee.")
    async def prices(self, info: Info) -> list[OfferingPrice]:
        records = await fulfillment.prices_of(info, self.record)
        return [OfferingPrice.from_record(r) for r in records]


# -- products --------------------------------------------------------------------------------


@strawberry.type(description="A price the customer pays for a product or an order item.")
class ProductPrice:
    name: str | None = strawberry.field(description="Name of the price, e.g. monthly fee.")
    price_type: PriceType | None = strawberry.field(
        description="Recurring, one-time or usage; null for a type this schema does not know."
    )
    recurring_charge_period: str | None = strawberry.field(
        description="For recurring prices, the period charged, e.g. month."
    )
    price: Money | None = strawberry.field(description="The amount, tax included.")

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ProductPrice:
        price: Mapping[str, Any] = record.get("price") or {}
        return cls(
            name=record.get("name"),
            price_type=enum_member(PriceType, record.get("priceType")),
            recurring_charge_period=record.get("recurringChargePeriod"),
            price=money(price.get("taxIncludedAmount")),
        )


@strawberry.type(description="A product a customer has (TMF637 Product).")
class Product(Node):
    reference: str = strawberry.field(description="The product's id in the inventory (TMF637).")
    name: str | None = strawberry.field(description="Name of the product.")
    description: str | None = strawberry.field(description="What the product is.")
    status: ProductStatus | None = strawberry.field(
        description="Lifecycle status; null for a status this schema does not know."
    )
    is_bundle: bool = strawberry.field(description="Whether the product bundles others.")
    order_date: datetime.datetime | None = strawberry.field(
        description="When the product was ordered."
    )
    start_date: datetime.datetime | None = strawberry.field(
        description="When the product became active."
    )
    termination_date: datetime.datetime | None = strawberry.field(
        description="When the product ended or ends; null while it runs."
    )
    product_serial_number: str | None = strawberry.field(
        description="Serial number, for physical products. Hidden for analysts.",
        extensions=[Masked(HIDDEN)],
    )
    prices: list[ProductPrice] = strawberry.field(description="What the customer pays for it.")
    characteristics: list[Characteristic] = strawberry.field(
        description=(
            "Its characteristics, e.g. data allowance or download speed. Hidden for analysts."
        ),
        extensions=[Masked(HIDDEN)],
    )
    billing_account_reference: str | None = strawberry.field(
        description="Id of the billing account (TMF666) it is billed to."
    )
    service_references: list[str] = strawberry.field(
        description="Ids of the services (TMF638) that realize it."
    )
    record: strawberry.Private[ProductRecord]

    @classmethod
    def from_record(cls, record: ProductRecord) -> Product:
        return cls(
            id=strawberry.ID(encode_global_id("Product", record["id"])),
            reference=record["id"],
            name=record.get("name"),
            description=record.get("description"),
            status=enum_member(ProductStatus, record.get("status")),
            is_bundle=bool(record.get("isBundle", False)),
            order_date=parse_datetime(record.get("orderDate")),
            start_date=parse_datetime(record.get("startDate")),
            termination_date=parse_datetime(record.get("terminationDate")),
            product_serial_number=record.get("productSerialNumber"),
            prices=[ProductPrice.from_record(p) for p in record.get("productPrice") or []],
            characteristics=[
                Characteristic.from_record(c) for c in record.get("productCharacteristic") or []
            ],
            billing_account_reference=(record.get("billingAccount") or {}).get("id"),
            service_references=[
                s["id"] for s in record.get("realizingService") or [] if s.get("id")
            ],
            record=record,
        )

    @strawberry.field(description="The catalogue offering the product was sold as.")
    async def offering(self, info: Info) -> ProductOffering | None:
        record = await fulfillment.offering_of(info, self.record)
        return ProductOffering.from_record(record) if record else None

    @strawberry.field(description="The services (TMF638) that realize the product.")
    async def services(
        self, info: Info
    ) -> list[Annotated[Service, strawberry.lazy("graph.schema.inventory")]] | None:
        records = await inventory.services_by_ids(info, self.service_references)
        return [cast("Service", build_node("Service", r)) for r in records]

    @strawberry.field(description="The billing account the product is billed to.")
    async def billing_account(
        self, info: Info
    ) -> Annotated[BillingAccount, strawberry.lazy("graph.schema.billing")] | None:
        record = await billing.billing_account_by_id(info, self.billing_account_reference)
        return cast("BillingAccount", build_node("BillingAccount", record)) if record else None


# -- product orders --------------------------------------------------------------------------


@strawberry.type(description="A note left on an order or interaction.")
class Note:
    text: str | None = strawberry.field(description="The note.")
    author: str | None = strawberry.field(description="Who wrote it.")
    date: datetime.datetime | None = strawberry.field(description="When it was written.")

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Note:
        return cls(
            text=record.get("text"),
            author=record.get("author"),
            date=parse_datetime(record.get("date")),
        )


@strawberry.type(description="One line of a product order: one offering added, changed or removed.")
class ProductOrderItem:
    item_id: str | None = strawberry.field(description="The item's id within its order.")
    action: OrderItemAction | None = strawberry.field(
        description="What the item does; null for an action this schema does not know."
    )
    state: ProductOrderState | None = strawberry.field(
        description="State of the item; null for a state this schema does not know."
    )
    quantity: int | None = strawberry.field(description="How many of the offering.")
    record: strawberry.Private[ProductOrderItemRecord]

    @classmethod
    def from_record(cls, record: ProductOrderItemRecord) -> ProductOrderItem:
        return cls(
            item_id=record.get("id"),
            action=enum_member(OrderItemAction, record.get("action")),
            state=enum_member(ProductOrderState, record.get("state")),
            quantity=record.get("quantity"),
            record=record,
        )

    @strawberry.field(description="The catalogue offering the item orders.")
    async def offering(self, info: Info) -> ProductOffering | None:
        record = await fulfillment.item_offering(info, self.record)
        return ProductOffering.from_record(record) if record else None

    @strawberry.field(
        description="The product the item changes or created; null when it names none (yet)."
    )
    async def product(self, info: Info) -> Product | None:
        record = await fulfillment.item_product(info, self.record)
        return Product.from_record(record) if record else None


@strawberry.type(description="An order for products (TMF622 ProductOrder).")
class ProductOrder(Node):
    reference: str = strawberry.field(description="The order's id in ordering (TMF622).")
    description: str | None = strawberry.field(description="What the order is for.")
    category: str | None = strawberry.field(description="Kind of order, e.g. B2C product order.")
    state: ProductOrderState | None = strawberry.field(
        description="State of the order; null for a state this schema does not know."
    )
    priority: str | None = strawberry.field(description="Priority, 0 (highest) to 4 (lowest).")
    order_date: datetime.datetime | None = strawberry.field(description="When it was placed.")
    completion_date: datetime.datetime | None = strawberry.field(
        description="When it was completed (or failed)."
    )
    expected_completion_date: datetime.datetime | None = strawberry.field(
        description="When it is expected to complete."
    )
    requested_completion_date: datetime.datetime | None = strawberry.field(
        description="When the customer asked for it to complete."
    )
    cancellation_date: datetime.datetime | None = strawberry.field(
        description="When it was cancelled."
    )
    cancellation_reason: str | None = strawberry.field(description="Why it was cancelled.")
    channel: str | None = strawberry.field(
        description="Name of the channel it was placed through, e.g. Web portal."
    )
    items: list[ProductOrderItem] = strawberry.field(description="The order's lines.")
    notes: list[Note] = strawberry.field(
        description="Notes on the order. Hidden for analysts.", extensions=[Masked(HIDDEN)]
    )
    total_price: list[Money] | None = strawberry.field(
        description="Order totals, tax included, one per price type; null when not priced."
    )
    record: strawberry.Private[ProductOrderRecord]

    @classmethod
    def from_record(cls, record: ProductOrderRecord) -> ProductOrder:
        totals = record.get("orderTotalPrice")
        total_price = None
        if totals is not None:
            amounts = (money((t.get("price") or {}).get("taxIncludedAmount")) for t in totals)
            total_price = [m for m in amounts if m is not None]
        return cls(
            id=strawberry.ID(encode_global_id("ProductOrder", record["id"])),
            reference=record["id"],
            description=record.get("description"),
            category=record.get("category"),
            state=enum_member(ProductOrderState, record.get("state")),
            priority=record.get("priority"),
            order_date=parse_datetime(record.get("orderDate")),
            completion_date=parse_datetime(record.get("completionDate")),
            expected_completion_date=parse_datetime(record.get("expectedCompletionDate")),
            requested_completion_date=parse_datetime(record.get("requestedCompletionDate")),
            cancellation_date=parse_datetime(record.get("cancellationDate")),
            cancellation_reason=record.get("cancellationReason"),
            channel=_first_name(record.get("channel")),
            items=[ProductOrderItem.from_record(i) for i in record.get("productOrderItem") or []],
            notes=[Note.from_record(n) for n in record.get("note") or []],
            total_price=total_price,
            record=record,
        )


# -- party interactions ----------------------------------------------------------------------


@strawberry.type(description="A contact between the customer and the operator (TMF683).")
class PartyInteraction(Node):
    reference: str = strawberry.field(description="The interaction's id (TMF683).")
    description: str | None = strawberry.field(
        description="What the interaction was. Hidden for analysts.", extensions=[Masked(HIDDEN)]
    )
    direction: str | None = strawberry.field(
        description="inbound (the customer reached out) or outbound."
    )
    reason: str | None = strawberry.field(description="Why it took place.")
    status: str | None = strawberry.field(description="Status, e.g. completed.")
    interaction_date: datetime.datetime | None = strawberry.field(description="When it started.")
    channel: str | None = strawberry.field(
        description="Name of the channel it took place on, e.g. Call centre."
    )
    notes: list[Note] = strawberry.field(
        description="Notes taken during the interaction. Hidden for analysts.",
        extensions=[Masked(HIDDEN)],
    )

    @classmethod
    def from_record(cls, record: PartyInteractionRecord) -> PartyInteraction:
        return cls(
            id=strawberry.ID(encode_global_id("PartyInteraction", record["id"])),
            reference=record["id"],
            description=record.get("description"),
            direction=record.get("direction"),
            reason=record.get("reason"),
            status=record.get("status"),
            interaction_date=parse_datetime(
                (record.get("interactionDate") or {}).get("startDateTime")
            ),
            channel=_first_name(record.get("channel")),
            notes=[Note.from_record(n) for n in record.get("note") or []],
        )


register_node("Category", NodeKind(source=lambda s: s.category, build=Category.from_record))
register_node(
    "OfferingPrice", NodeKind(source=lambda s: s.offering_price, build=OfferingPrice.from_record)
)
register_node(
    "ProductOffering", NodeKind(source=lambda s: s.offering, build=ProductOffering.from_record)
)
register_node("Product", NodeKind(source=lambda s: s.product, build=Product.from_record))
register_node(
    "ProductOrder", NodeKind(source=lambda s: s.product_order, build=ProductOrder.from_record)
)
register_node(
    "PartyInteraction",
    NodeKind(source=lambda s: s.interaction, build=PartyInteraction.from_record),
)

# What each field reads of its records (TMF fields= projection, graph.schema.projection).
reads(Category, "category", reference="id")
reads(
    OfferingPrice,
    "productOfferingPrice",
    reference="id",
    recurring_charge_period="recurringChargePeriodType",
)
reads(
    ProductOffering,
    "productOffering",
    reference="id",
    valid_from="validFor",
    valid_until="validFor",
    categories="category",
    prices="productOfferingPrice",
)
reads(
    Product,
    "product",
    reference="id",
    prices="productPrice",
    characteristics="productCharacteristic",
    billing_account_reference="billingAccount",
    service_references="realizingService",
    offering="productOffering",
    services="realizingService",
    billing_account="billingAccount",
)
reads(ProductOrderItem, None, offering=Reads(), product=Reads())
reads(
    ProductOrder,
    "productOrder",
    reference="id",
    items="productOrderItem",
    notes="note",
    total_price="orderTotalPrice",
)
reads(PartyInteraction, "partyInteraction", reference="id", notes="note")
