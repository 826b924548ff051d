"""Fulfillment actions: registering a customer (TMF632/629/666), a price preview of an order
(``quoteProductOrder``, a query), placing and cancelling product orders (TMF622).

Inputs are checked here (global ids, texts, contact details) before anything reaches a backend;
the resolvers (:mod:`graph.resolvers.registration`, :mod:`graph.resolvers.orders`) check
against the backends' state and write.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from decimal import Decimal
from functools import partial
from typing import Annotated, Any, Final, cast

import strawberry

from graph.actions import (
    ActionRefused,
    Problem,
    ProblemCode,
    actor_for,
    checks,
    contact,
)
from graph.auth.devidp import DevIdpError, sign_in_token
from graph.auth.permissions import CanAct, CanRegister
from graph.auth.principal import Role
from graph.context import Info
from graph.resolvers import fulfillment, orders, registration
from graph.sources.crm import BillingAccount as BillingAccountRecord
from graph.sources.crm import Customer as CustomerRecord
from graph.sources.crm import Individual as IndividualRecord

from .billing import BillingAccount
from .common import Money
from .contact_inputs import PostalAddressInput
from .customer import Customer, Person
from .fulfillment import (
    OrderItemAction,
    PriceType,
    Product,
    ProductOffering,
    ProductOrder,
    ProductPrice,
)
from .payloads import ASSISTED_CUSTOMER, UserError, act, optional_text, reloaded, respond
from .projection import Reads, reads

__all__ = [
    "CancelProductOrderInput",
    "CancelProductOrderPayload",
    "FulfillmentActions",
    "PlaceProductOrderInput",
    "PlaceProductOrderPayload",
    "ProductOrderItemInput",
    "ProductOrderQuote",
    "ProductOrderQuoteItem",
    "QuoteProductOrderInput",
    "QuoteProductOrderPayload",
    "RegisterCustomerInput",
    "RegisterCustomerPayload",
    "SignIn",
    "quote_product_order",
]

log = logging.getLogger(__name__)

MAX_NOTE: Final = 2000

# -- registration -----------------------------------------------------------------------------


@strawberry.input(description="Who registers: the person, and how to reach them.")
class RegisterCustomerInput:
    given_name: str = strawberry.field(description="Given (first) name, at most 100 characters.")
    family_name: str = strawberry.field(description="Family (last) name, at most 100 characters.")
    email: str = strawberry.field(
        description="E-mail address; one registration per address (ALREADY_REGISTERED)."
    )
    phone: str | None = strawberry.field(
        default=None,
        description="Mobile number, international (+49 151 23456789, 0049...) or national "
        "(0151 23456789) in the country of `postalAddress`; stored in E.164 (+4915123456789).",
    )
    postal_address: PostalAddressInput | None = strawberry.field(
        default=None, description="Home address (unless `contactType` says otherwise)."
    )
    birth_date: datetime.date | None = strawberry.field(
        default=None, description="Date of birth; customers are 18 or older."
    )


@strawberry.type(description="A development sign-in for a customer who just registered.")
class SignIn:
    access_token: str = strawberry.field(
        description="A bearer token of the development identity provider, for this gateway."
    )
    token_type: str = strawberry.field(description='How to send it: "Bearer".')
    expires_at: datetime.datetime = strawberry.field(description="When the token expires.")


@strawberry.type(description="The result of `registerCustomer`.")
class RegisterCustomerPayload:
    customer: Customer | None = strawberry.field(
        default=None,
        description="The new customer. Its own fields are here; what hangs off it (accounts, "
        "products) is read by signing in as the customer (`signIn`), or by an agent.",
    )
    person: Person | None = strawberry.field(
        default=None, description="The person registered (TMF632 Individual)."
    )
    billing_account: BillingAccount | None = strawberry.field(
        default=None, description="The customer's billing account, opened with the customer."
    )
    sign_in: SignIn | None = strawberry.field(
        default=None,
        description="Development only: a token to continue as the new customer (self-"
        "registration). Null in production, where the identity provider signs the person in, "
        "and for registrations by an agent.",
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list,
        description="Why nothing was registered; or, code INCOMPLETE, what exists and what to "
        "do (sending the same registration again completes it). Empty on success.",
    )


def _registration(given: RegisterCustomerInput) -> registration.RegisterCustomer:
    """Every detail checked as a change of contact details is, every problem reported at once;
    the e-mail address in lower case (the person's identity)."""
    problems = contact.Problems()
    given_name = contact.person_name(given.given_name, problems, "givenName")
    family_name = contact.person_name(given.family_name, problems, "familyName")
    email = contact.email(given.email, problems, "email")
    address = phone = birth = None
    if (a := given.postal_address) is not None:
        address = contact.postal_address(a.given(), problems, "postalAddress")
    if given.phone is not None and given.phone.strip():
        country = a.country if a is not None else None
        phone = contact.phone(given.phone, problems, "phone", default_country=country)
    if given.birth_date is not None:
        birth = contact.birth_date(given.birth_date, problems, "birthDate")
    problems.raise_any()
    assert given_name is not None
    assert family_name is not None
    assert email is not None
    return registration.RegisterCustomer(given_name, family_name, email, phone, address, birth)


async def _register(info: Info, given: RegisterCustomerInput) -> RegisterCustomerPayload:
    done = await registration.register_customer(info, _registration(given))
    return RegisterCustomerPayload(
        **_registered(
            {
                "individual": done.individual,
                "customer": done.customer,
                "billingAccount": done.billing_account,
            }
        ),
        sign_in=await _sign_in(info, done.customer["id"]),
    )


def _registered(records: dict[str, Any]) -> dict[str, Any]:
    """The payload fields of the records that exist (all, or those an incomplete registration
    left: ``ActionIncomplete.done``)."""
    fields: dict[str, Any] = {}
    if (customer := records.get("customer")) is not None:
        fields["customer"] = Customer.from_record(cast(CustomerRecord, customer))
    if (person := records.get("individual")) is not None:
        fields["person"] = Person.from_record(cast(IndividualRecord, person))
    if (account := records.get("billingAccount")) is not None:
        fields["billing_account"] = BillingAccount.from_record(cast(BillingAccountRecord, account))
    return fields


async def _sign_in(info: Info, customer_id: str) -> SignIn | None:
    """A development sign-in, for a person who registered themselves: an agent never holds a
    customer's credentials, and production has none (:func:`sign_in_token`)."""
    principal = info.context.principal
    if principal.role is not Role.ANONYMOUS:
        return None
    channel = principal.channel or "web"
    try:
        minted = await asyncio.to_thread(sign_in_token, info.context.settings, customer_id, channel)
    except DevIdpError as exc:
        log.error("registered %s, but no development sign-in: %s", customer_id, exc)
        return None
    if minted is None:
        return None
    token, expires_at = minted
    return SignIn(access_token=token, token_type="Bearer", expires_at=expires_at)


# -- orders: input ----------------------------------------------------------------------------


@strawberry.input(description="One item of a product order: what to add, change or terminate.")
class ProductOrderItemInput:
    action: OrderItemAction = strawberry.field(
        description="ADD an offering as a new product; MODIFY a product (change it to "
        "`offering`, of the same kind); DELETE (terminate) a product."
    )
    offering: strawberry.ID | None = strawberry.field(
        default=None,
        description="The catalogue offering's global id (ADD and MODIFY; see `productOfferings`).",
    )
    product: strawberry.ID | None = strawberry.field(
        default=None, description="The product's global id (MODIFY and DELETE): one of yours."
    )


@strawberry.input(description="What a price preview is asked for.")
class QuoteProductOrderInput:
    items: list[ProductOrderItemInput] = strawberry.field(description="The items, 1 to 10.")
    customer: strawberry.ID | None = strawberry.field(default=None, description=ASSISTED_CUSTOMER)


@strawberry.input(description="An order for products: new offerings, changes, terminations.")
class PlaceProductOrderInput:
    items: list[ProductOrderItemInput] = strawberry.field(description="The items, 1 to 10.")
    billing_account: strawberry.ID | None = strawberry.field(
        default=None,
        description="The billing account to bill (global id); needed when the customer has "
        "more than one.",
    )
    note: str | None = strawberry.field(
        default=None, description="A note for order management, at most 2000 characters."
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Optional: a fresh key (e.g. a UUID) per order; sending the same request "
        "with the same key again places one order and answers the same.",
    )
    customer: strawberry.ID | None = strawberry.field(default=None, description=ASSISTED_CUSTOMER)


@strawberry.input(description="Which order to cancel, and why.")
class CancelProductOrderInput:
    order: strawberry.ID = strawberry.field(description="The product order's global id.")
    reason: str | None = strawberry.field(
        default=None, description="Why it is cancelled, at most 2000 characters."
    )
    customer: strawberry.ID | None = strawberry.field(default=None, description=ASSISTED_CUSTOMER)


def _item_id(value: strawberry.ID | None, type_name: str, *field: str) -> str | None:
    return None if value is None else checks.global_id(str(value), type_name, *field)


def _lines(items: list[ProductOrderItemInput]) -> tuple[orders.OrderLine, ...]:
    problems = contact.Problems()
    lines = []
    for n, item in enumerate(items):
        where = ("items", str(n))
        action = orders.ItemAction.ADD
        if item.action is OrderItemAction.NO_CHANGE:
            problems.append(
                Problem(
                    ProblemCode.INVALID_INPUT,
                    "An item adds, changes or terminates.",
                    (*where, "action"),
                )
            )
        else:
            action = orders.ItemAction(item.action.value)
        offering = problems.take(
            partial(_item_id, item.offering, "ProductOffering", *where, "offering")
        )
        product = problems.take(partial(_item_id, item.product, "Product", *where, "product"))
        lines.append(orders.OrderLine(action, offering, product))
    problems.raise_any()
    return tuple(lines)


# -- orders: the quote ------------------------------------------------------------------------


def _price(price: orders.QuotedPrice) -> ProductPrice:
    return ProductPrice(
        name=price.name,
        price_type=next((t for t in PriceType if t.value == price.price_type), None),
        recurring_charge_period=price.period,
        price=Money(amount=price.amount, currency=price.currency),
    )


@strawberry.type(description="One item of a price preview.")
class ProductOrderQuoteItem:
    item_id: str = strawberry.field(description='The item\'s number in the order ("1", "2"...).')
    action: OrderItemAction = strawberry.field(description="What the item does.")
    prices: list[ProductPrice] = strawberry.field(
        description="What the offering added (or changed to) costs."
    )
    current_prices: list[ProductPrice] = strawberry.field(
        description="What the product changed or terminated costs now."
    )
    one_time_charge: Money = strawberry.field(
        description="One-time charges of this item (e.g. installation, a device)."
    )
    recurring_change: Money = strawberry.field(
        description="How this item changes the monthly charges (negative: they go down)."
    )
    offering_id: strawberry.Private[str | None]
    product_id: strawberry.Private[str | None]

    @strawberry.field(description="The offering added, or changed to.")
    async def offering(self, info: Info) -> ProductOffering | None:
        if self.offering_id is None:
            return None
        record = await fulfillment.offering_by_id(info, self.offering_id)
        return ProductOffering.from_record(record) if record else None

    @strawberry.field(description="The product changed or terminated.")
    async def product(self, info: Info) -> Product | None:
        record = await fulfillment.product_by_id(info, self.product_id)
        return Product.from_record(record) if record else None


@strawberry.type(description="A price preview of an order (nothing is ordered).")
class ProductOrderQuote:
    items: list[ProductOrderQuoteItem] = strawberry.field(description="Item by item.")
    due_now: Money = strawberry.field(description="One-time charges of the whole order.")
    monthly_change: Money = strawberry.field(
        description="How the monthly charges change (new minus ended; negative: they go down)."
    )

    @classmethod
    def build(cls, quote: orders.Quote) -> ProductOrderQuote:
        def money(amount: Decimal) -> Money:
            return Money(amount=amount, currency=quote.currency)

        return cls(
            items=[
                ProductOrderQuoteItem(
                    item_id=item.item_id,
                    action=OrderItemAction(item.action.value),
                    prices=[_price(p) for p in item.prices],
                    current_prices=[_price(p) for p in item.current_prices],
                    one_time_charge=money(item.one_time),
                    recurring_change=money(item.recurring_change),
                    offering_id=item.offering_id,
                    product_id=item.product_id,
                )
                for item in quote.items
            ],
            due_now=money(quote.due_now),
            monthly_change=money(quote.monthly_change),
        )


@strawberry.type(description="The result of `quoteProductOrder`.")
class QuoteProductOrderPayload:
    quote: ProductOrderQuote | None = strawberry.field(
        default=None, description="The price preview."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why the order could not be quoted; empty on success."
    )


async def _quote(info: Info, given: QuoteProductOrderInput) -> QuoteProductOrderPayload:
    lines = _lines(given.items)
    context = info.context
    role = context.principal.role
    changes = any(line.action is not orders.ItemAction.ADD for line in lines)
    if role is Role.ANONYMOUS and given.customer is not None:
        raise ActionRefused.one(
            ProblemCode.NOT_ALLOWED, "Sign in to quote for a customer.", "customer"
        )
    if role is Role.ANONYMOUS or (role is not Role.CUSTOMER and not changes and not given.customer):
        # The catalogue's prices, for anyone: nothing of a customer's is read.
        quote = await orders.quote_order(context.sources, context.loaders, None, lines)
    else:
        actor = await actor_for(info, str(given.customer) if given.customer else None)
        quote = await orders.quote_order(actor.sources, actor.loaders, actor.customer_id, lines)
    return QuoteProductOrderPayload(quote=ProductOrderQuote.build(quote))


async def quote_product_order(
    info: Info, given: QuoteProductOrderInput
) -> QuoteProductOrderPayload:
    """``Query.quoteProductOrder``."""
    return await respond(QuoteProductOrderPayload, _quote(info, given))


# -- orders: placing and cancelling ------------------------------------------------------------


@strawberry.type(description="The result of `placeProductOrder`.")
class PlaceProductOrderPayload:
    order: ProductOrder | None = strawberry.field(
        default=None,
        description="The order placed, as order management acknowledged it; it then "
        "progresses to completed (see `Customer.productOrders`).",
    )
    quote: ProductOrderQuote | None = strawberry.field(
        default=None,
        description="What the order costs, as quoted when it was placed (null when a repeat "
        "found an order whose first answer was lost).",
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing was ordered; empty on success."
    )


@strawberry.type(description="The result of `cancelProductOrder`.")
class CancelProductOrderPayload:
    order: ProductOrder | None = strawberry.field(default=None, description="The order, cancelled.")
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why the order was not cancelled; empty on success."
    )


async def _place(info: Info, given: PlaceProductOrderInput) -> PlaceProductOrderPayload:
    problems = contact.Problems()
    lines = problems.take(lambda: _lines(given.items))
    account = None
    if given.billing_account is not None:
        named = str(given.billing_account)
        account = problems.take(lambda: checks.global_id(named, "BillingAccount", "billingAccount"))
    note = problems.take(lambda: optional_text(given.note, MAX_NOTE, "note"))
    problems.raise_any()
    assert lines is not None
    request = orders.PlaceOrder(lines, account, note, given.idempotency_key)
    actor, outcome = await act(
        info,
        given.customer,
        "placeProductOrder",
        lambda actor: orders.place_order(actor, request),
        key=request.idempotency_key,
        request=request.fingerprint(),
    )
    quoted: dict[str, Any] | None = outcome.get("quote")
    return PlaceProductOrderPayload(
        order=await reloaded(
            actor, actor.sources.product_order, outcome["order"], ProductOrder.from_record
        ),
        quote=ProductOrderQuote.build(orders.Quote.from_json(quoted)) if quoted else None,
    )


async def _cancel(info: Info, given: CancelProductOrderInput) -> CancelProductOrderPayload:
    problems = contact.Problems()
    order_id = problems.take(lambda: checks.global_id(str(given.order), "ProductOrder", "order"))
    reason = problems.take(lambda: optional_text(given.reason, MAX_NOTE, "reason"))
    problems.raise_any()
    assert order_id is not None
    request = orders.CancelOrder(order_id, reason)
    actor, outcome = await act(
        info,
        given.customer,
        "cancelProductOrder",
        lambda actor: orders.cancel_order(actor, request),
    )
    return CancelProductOrderPayload(
        order=await reloaded(
            actor, actor.sources.product_order, outcome["order"], ProductOrder.from_record
        )
    )


@strawberry.type
class FulfillmentActions:
    @strawberry.mutation(
        description=(
            "Register as a new customer: the person (TMF632), the customer (TMF629) and a "
            "billing account (TMF666) are created together: if a backend refuses, what was "
            "created is deleted again; when a backend's answer is lost, sending the same "
            "registration again completes it (INCOMPLETE says when). In development the "
            "payload carries a sign-in for the new customer. Permission: without a sign-in "
            "(the person registers themselves), or an agent registering them."
        ),
        permission_classes=[CanRegister],
    )
    async def register_customer(
        self,
        info: Info,
        input: Annotated[RegisterCustomerInput, strawberry.argument(description="Who registers.")],
    ) -> RegisterCustomerPayload:
        return await respond(RegisterCustomerPayload, _register(info, input), _registered)

    @strawberry.mutation(
        description=(
            "Order products (TMF622): add offerings, change or terminate products, checked and "
            "priced as `quoteProductOrder` does. The order is acknowledged at once and "
            "completes later. Permission: the customer, or an agent assisting them; needs a "
            "full sign-in."
        ),
        permission_classes=[CanAct],
    )
    async def place_product_order(
        self,
        info: Info,
        input: Annotated[PlaceProductOrderInput, strawberry.argument(description="The order.")],
    ) -> PlaceProductOrderPayload:
        return await respond(PlaceProductOrderPayload, _place(info, input))

    @strawberry.mutation(
        description=(
            "Cancel a product order that is not completed yet (acknowledged, in progress, "
            "pending or held). Permission: the customer, or an agent assisting them; needs a "
            "full sign-in."
        ),
        permission_classes=[CanAct],
    )
    async def cancel_product_order(
        self,
        info: Info,
        input: Annotated[
            CancelProductOrderInput, strawberry.argument(description="The order to cancel.")
        ],
    ) -> CancelProductOrderPayload:
        return await respond(CancelProductOrderPayload, _cancel(info, input))


# TMF fields= projection (graph.schema.projection): the price preview reads whole records
# (Query.quoteProductOrder); the item's offering and product are loaded by id.
reads(ProductOrderQuoteItem, None, offering=Reads(), product=Reads())
