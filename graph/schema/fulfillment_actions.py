"""Fulfillment actions: registering a customer (TMF632/629/666), a price preview of an order
(``quoteProductOrder``, a query), placing and cancelling product orders (TMF622).

Inputs are checked here (global ids, texts, contact details) before anything reaches a backend;
the resolvers (:mod:`graph.resolvers.registration`, :mod:`graph.resolvers.orders`) check
against the backends' state and write.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Annotated, Any, Final, TypeVar, cast

import strawberry

from graph.actions import (
    ActionRefused,
    Problem,
    ProblemCode,
    actor_for,
    checks,
    contact,
    perform,
)
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
from .payloads import UserError, respond

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

T = TypeVar("T")

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
        description="Why nothing was registered (or, code INCOMPLETE, what was left); empty on "
        "success.",
    )


class _Problems:
    """Collects the problems of several independent checks, to report them all at once."""

    def __init__(self) -> None:
        self.found: list[Problem] = []

    def take(self, check: Callable[[], T]) -> T | None:
        try:
            return check()
        except ActionRefused as refused:
            self.found.extend(refused.problems)
            return None

    def raise_any(self) -> None:
        if self.found:
            raise ActionRefused(self.found)


def _registration(given: RegisterCustomerInput) -> registration.RegisterCustomer:
    """Every detail checked as a change of contact details is, every problem reported at once;
    the e-mail address in lower case (the person's identity)."""
    problems: list[Problem] = []
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
    if problems:
        raise ActionRefused(problems)
    assert given_name is not None
    assert family_name is not None
    assert email is not None
    return registration.RegisterCustomer(given_name, family_name, email, phone, address, birth)


async def _register(info: Info, given: RegisterCustomerInput) -> RegisterCustomerPayload:
    request = _registration(given)
    done = await registration.register_customer(info, request)
    sign_in = await registration.dev_sign_in(info, done.customer["id"])
    return RegisterCustomerPayload(
        customer=Customer.from_record(cast(CustomerRecord, done.customer)),
        person=Person.from_record(cast(IndividualRecord, done.individual)),
        billing_account=BillingAccount.from_record(
            cast(BillingAccountRecord, done.billing_account)
        ),
        sign_in=SignIn(
            access_token=sign_in.access_token, token_type="Bearer", expires_at=sign_in.expires_at
        )
        if sign_in
        else None,
    )


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
    customer: strawberry.ID | None = strawberry.field(
        default=None,
        description="The customer being assisted (agents); customers leave it out.",
    )


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
    customer: strawberry.ID | None = strawberry.field(
        default=None,
        description="The customer being assisted (agents); customers leave it out.",
    )


@strawberry.input(description="Which order to cancel, and why.")
class CancelProductOrderInput:
    order: strawberry.ID = strawberry.field(description="The product order's global id.")
    reason: str | None = strawberry.field(
        default=None, description="Why it is cancelled, at most 2000 characters."
    )
    customer: strawberry.ID | None = strawberry.field(
        default=None,
        description="The customer being assisted (agents); customers leave it out.",
    )


def _item_id(value: strawberry.ID | None, type_name: str, *field: str) -> str | None:
    return None if value is None else checks.global_id(str(value), type_name, *field)


def _lines(items: list[ProductOrderItemInput]) -> tuple[orders.OrderLine, ...]:
    problems = _Problems()
    lines = []
    for n, item in enumerate(items):
        where = ("items", str(n))
        action = orders.ItemAction.ADD
        if item.action is OrderItemAction.NO_CHANGE:
            problems.found.append(
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


def _note(value: str | None, limit: int, *field: str) -> str | None:
    if value is None:
        return None
    return checks.text(value, limit, *field, required=False) or None


async def _place(info: Info, given: PlaceProductOrderInput) -> PlaceProductOrderPayload:
    problems = _Problems()
    lines = problems.take(lambda: _lines(given.items))
    account = None
    if given.billing_account is not None:
        named = str(given.billing_account)
        account = problems.take(lambda: checks.global_id(named, "BillingAccount", "billingAccount"))
    note = problems.take(lambda: _note(given.note, MAX_NOTE, "note"))
    problems.raise_any()
    assert lines is not None
    request = orders.PlaceOrder(lines, account, note, given.idempotency_key)
    actor = await actor_for(info, str(given.customer) if given.customer else None)
    outcome = await perform(
        info,
        actor,
        "placeProductOrder",
        lambda: orders.place_order(actor, request),
        idempotency_key=request.idempotency_key,
        request=request.fingerprint(),
    )
    order = await actor.loaders.by_id(actor.sources.product_order).load(outcome["order"])
    quoted: dict[str, Any] | None = outcome.get("quote")
    return PlaceProductOrderPayload(
        order=ProductOrder.from_record(order) if order else None,
        quote=ProductOrderQuote.build(orders.Quote.from_json(quoted)) if quoted else None,
    )


async def _cancel(info: Info, given: CancelProductOrderInput) -> CancelProductOrderPayload:
    problems = _Problems()
    order_id = problems.take(lambda: checks.global_id(str(given.order), "ProductOrder", "order"))
    reason = problems.take(lambda: _note(given.reason, MAX_NOTE, "reason"))
    problems.raise_any()
    assert order_id is not None
    request = orders.CancelOrder(order_id, reason)
    actor = await actor_for(info, str(given.customer) if given.customer else None)
    outcome = await perform(
        info, actor, "cancelProductOrder", lambda: orders.cancel_order(actor, request)
    )
    order = await actor.loaders.by_id(actor.sources.product_order).load(outcome["order"])
    return CancelProductOrderPayload(order=ProductOrder.from_record(order) if order else None)


@strawberry.type
class FulfillmentActions:
    @strawberry.mutation(
        description=(
            "Register as a new customer: the person (TMF632), the customer (TMF629) and a "
            "billing account (TMF666) are created together, or not at all. In development the "
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
        return await respond(RegisterCustomerPayload, _register(info, input))

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
