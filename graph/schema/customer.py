"""CRM types: Customer, the Person behind it, and contact media."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Annotated, Any, TypeVar

import strawberry

from graph.auth.masking import HIDDEN, INITIALS, Masked
from graph.context import Info
from graph.resolvers import assurance, billing, customers, fulfillment, inventory
from graph.sources.crm import Customer as CustomerRecord
from graph.sources.crm import Individual as IndividualRecord

from .assurance import TroubleTicket
from .billing import Bill, BillingAccount, Payment, PaymentMethod, Usage
from .common import (
    After,
    Connection,
    First,
    Node,
    NodeKind,
    encode_global_id,
    paginate,
    parse_date,
    register_node,
)
from .fulfillment import PartyInteraction, Product, ProductOrder
from .inventory import Service
from .projection import Reads, reads

__all__ = ["ContactMedium", "ContactMediumKind", "Customer", "Person", "PostalAddress"]

R = TypeVar("R")
T = TypeVar("T")


@strawberry.enum(description="How a contact medium reaches the person.")
class ContactMediumKind(Enum):
    EMAIL = "email"
    PHONE = "phone"
    POSTAL_ADDRESS = "postalAddress"
    FAX = "fax"
    OTHER = "other"


@strawberry.type(description="A postal address.")
class PostalAddress:
    street1: str | None = strawberry.field(description="Street and number.")
    street2: str | None = strawberry.field(description="Additional address line.")
    post_code: str | None = strawberry.field(description="Postal code.")
    city: str | None = strawberry.field(description="City.")
    state_or_province: str | None = strawberry.field(description="State or province.")
    country: str | None = strawberry.field(description="Country (ISO 3166-1 alpha-2).")


@strawberry.type(description="One way to reach a person: e-mail, phone or postal address.")
class ContactMedium:
    kind: ContactMediumKind = strawberry.field(description="Which kind of medium this is.")
    preferred: bool = strawberry.field(description="Whether the person prefers this medium.")
    contact_type: str | None = strawberry.field(description="e.g. home, work, mobile.")
    email: str | None = strawberry.field(description="E-mail address, for EMAIL.")
    phone_number: str | None = strawberry.field(description="Phone number, for PHONE/FAX.")
    address: PostalAddress | None = strawberry.field(description="Address, for POSTAL_ADDRESS.")

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ContactMedium:
        kind_value = str(record.get("mediumType", "other"))
        kinds = {k.value.lower(): k for k in ContactMediumKind}
        kind = kinds.get(kind_value.lower(), ContactMediumKind.OTHER)
        char: dict[str, Any] = record.get("characteristic") or {}
        address = None
        if kind is ContactMediumKind.POSTAL_ADDRESS:
            address = PostalAddress(
                street1=char.get("street1"),
                street2=char.get("street2"),
                post_code=char.get("postCode"),
                city=char.get("city"),
                state_or_province=char.get("stateOrProvince"),
                country=char.get("country"),
            )
        return cls(
            kind=kind,
            preferred=bool(record.get("preferred", False)),
            contact_type=char.get("contactType"),
            email=char.get("emailAddress"),
            phone_number=char.get("phoneNumber") or char.get("faxNumber"),
            address=address,
        )


@strawberry.type(description="The person a customer is (TMF632 Individual).")
class Person(Node):
    given_name: str | None = strawberry.field(
        description="Given (first) name. Initials only, for analysts.",
        extensions=[Masked(INITIALS)],
    )
    family_name: str | None = strawberry.field(
        description="Family (last) name. Initials only, for analysts.",
        extensions=[Masked(INITIALS)],
    )
    full_name: str | None = strawberry.field(
        description="Full name as the person uses it. Initials only, for analysts.",
        extensions=[Masked(INITIALS)],
    )
    title: str | None = strawberry.field(
        description="Form of address, e.g. Dr. Hidden for analysts.", extensions=[Masked(HIDDEN)]
    )
    gender: str | None = strawberry.field(
        description="Gender, as recorded. Hidden for analysts.", extensions=[Masked(HIDDEN)]
    )
    birth_date: datetime.date | None = strawberry.field(
        description="Date of birth. Hidden (null) for analysts.", extensions=[Masked(HIDDEN)]
    )
    contact_media: list[ContactMedium] = strawberry.field(
        description="E-mail addresses, phone numbers and postal addresses. Hidden (empty) for "
        "analysts.",
        extensions=[Masked(HIDDEN)],
    )

    @classmethod
    def from_record(cls, record: IndividualRecord) -> Person:
        full = record.get("fullName") or " ".join(
            p for p in (record.get("givenName"), record.get("familyName")) if p
        )
        return cls(
            id=strawberry.ID(encode_global_id("Person", record["id"])),
            given_name=record.get("givenName"),
            family_name=record.get("familyName"),
            full_name=full or None,
            title=record.get("title"),
            gender=record.get("gender"),
            birth_date=parse_date(record.get("birthDate")),
            contact_media=[
                ContactMedium.from_record(dict(c)) for c in record.get("contactMedium", [])
            ],
        )


@strawberry.type(description="A customer of the operator (TMF629 Customer).")
class Customer(Node):
    reference: str = strawberry.field(description="The customer's id in the CRM (TMF629).")
    name: str | None = strawberry.field(
        description="The customer's name. Initials only, for analysts.",
        extensions=[Masked(INITIALS)],
    )
    status: str | None = strawberry.field(description="CRM status, e.g. approved, suspended.")
    status_reason: str | None = strawberry.field(description="Why the status is what it is.")
    record: strawberry.Private[CustomerRecord]

    @classmethod
    def from_record(cls, record: CustomerRecord) -> Customer:
        return cls(
            id=strawberry.ID(encode_global_id("Customer", record["id"])),
            reference=record["id"],
            name=record.get("name"),
            status=record.get("status"),
            status_reason=record.get("statusReason"),
            record=record,
        )

    @strawberry.field(description="The person this customer is, with contact media.")
    async def person(self, info: Info) -> Person | None:
        record = await customers.person_of(info, self.record)
        return Person.from_record(record) if record else None

    @strawberry.field(description="The customer's billing accounts, with their balances.")
    async def billing_accounts(self, info: Info) -> list[BillingAccount] | None:
        records = await billing.billing_accounts_of(info, self.reference)
        return [BillingAccount.from_record(r) for r in records]

    @strawberry.field(description="Stored payment methods (tokenized; no card numbers).")
    async def payment_methods(self, info: Info) -> list[PaymentMethod] | None:
        records = await billing.payment_methods_of(info, self.reference)
        return [PaymentMethod.from_record(r) for r in records]

    @strawberry.field(description="Bills of all the customer's accounts, newest first.")
    async def bills(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[Bill] | None:
        records = await billing.bills_of_customer(info, self.reference)
        return _page(info, records, first, after, Bill.from_record)

    @strawberry.field(description="Payments on all the customer's accounts, newest first.")
    async def payments(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[Payment] | None:
        records = await billing.payments_of_customer(info, self.reference)
        return _page(info, records, first, after, Payment.from_record)

    @strawberry.field(description="Recorded usage (calls, data, messages), newest first.")
    async def usage(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[Usage] | None:
        records = await billing.usage_of(info, self.reference)
        return _page(info, records, first, after, Usage.from_record)

    @strawberry.field(description="Products the customer has or had (TMF637).")
    async def products(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[Product] | None:
        records = await fulfillment.products_of(info, self.reference)
        return _page(info, records, first, after, Product.from_record)

    @strawberry.field(description="Services delivered to the customer (TMF638).")
    async def services(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[Service] | None:
        records = await inventory.services_of_customer(info, self.reference)
        return _page(info, records, first, after, Service.from_record)

    @strawberry.field(
        description="Trouble tickets, newest first; `open: true` keeps those still handled."
    )
    async def trouble_tickets(
        self,
        info: Info,
        open: Annotated[
            bool | None,
            strawberry.argument(description="true: only open tickets; false: only closed ones."),
        ] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[TroubleTicket] | None:
        records = await assurance.trouble_tickets_of(info, self.reference)
        if open is not None:
            records = [r for r in records if assurance.ticket_is_open(r) == open]
        return _page(info, records, first, after, TroubleTicket.from_record)

    @strawberry.field(description="Product orders, newest first.")
    async def product_orders(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[ProductOrder] | None:
        records = await fulfillment.product_orders_of(info, self.reference)
        return _page(info, records, first, after, ProductOrder.from_record)

    @strawberry.field(description="Past contacts with the operator, newest first (TMF683).")
    async def interactions(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[PartyInteraction] | None:
        records = await fulfillment.interactions_of(info, self.reference)
        return _page(info, records, first, after, PartyInteraction.from_record)


def _page(
    info: Info,
    records: Sequence[R],
    first: int | None,
    after: str | None,
    build: Callable[[R], T],
) -> Connection[T]:
    return paginate(records, first, after, info.context.settings.max_page_size, build)


register_node("Customer", NodeKind(source=lambda s: s.customer, build=Customer.from_record))
register_node("Person", NodeKind(source=lambda s: s.individual, build=Person.from_record))

# What each field reads of its records (TMF fields= projection, graph.schema.projection).
# The customer's name also names it in an agent's access record (graph.auth.audit).
reads(
    Customer,
    "customer",
    always=("id", "name"),
    reference="id",
    person="engagedParty",
    billing_accounts=Reads(),
    payment_methods=Reads(),
    bills=Reads(joins={"billingAccount": ("id",), "customerBill": ("billDate",)}),
    payments=Reads(joins={"billingAccount": ("id",), "payment": ("paymentDate",)}),
    usage=Reads(joins={"usage": ("usageDate",)}),
    products=Reads(),
    services=Reads(),
    trouble_tickets=Reads(joins={"troubleTicket": ("status", "creationDate")}),
    product_orders=Reads(joins={"productOrder": ("orderDate",)}),
    interactions=Reads(joins={"partyInteraction": ("interactionDate",)}),
)
reads(
    Person,
    "individual",
    full_name=("fullName", "givenName", "familyName"),
    contact_media="contactMedium",
)
