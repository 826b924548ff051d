"""The root Query: entry points only; every field delegates to a resolver."""

from __future__ import annotations

from typing import Annotated

import strawberry

from graph.auth.permissions import IsCustomer, IsSignedIn, IsStaff
from graph.context import Info
from graph.errors import Code, GraphError
from graph.resolvers import customers, nodes
from graph.resolvers.fulfillment import sellable_offerings
from graph.schema.common import (
    BACKEND_ID,
    NODE_KINDS,
    After,
    Connection,
    First,
    Node,
    connection_from_page,
    decode_global_id,
    page_window,
    paginate,
)
from graph.schema.customer import Customer
from graph.schema.fulfillment import ProductOffering
from graph.schema.fulfillment_actions import (
    QuoteProductOrderInput,
    QuoteProductOrderPayload,
)
from graph.schema.fulfillment_actions import quote_product_order as price_preview
from graph.schema.projection import WHOLE, Reads, reads

__all__ = ["Query"]


def _crm_reference(given: str) -> str:
    """A Customer global id's backend id, or the CRM reference given as it is."""
    try:
        type_name, tmf_id = decode_global_id(given)
    except GraphError:
        if not BACKEND_ID.fullmatch(given):
            raise GraphError("Malformed customer reference.", Code.BAD_USER_INPUT) from None
        return given
    return tmf_id if type_name == "Customer" else given


@strawberry.type(description="Read the customer graph.")
class Query:
    @strawberry.field(
        description="The signed-in customer. Permission: a customer principal.",
        permission_classes=[IsCustomer],
    )
    async def me(self, info: Info) -> Customer:
        return Customer.from_record(await customers.me(info))

    @strawberry.field(
        description="A customer by global id or CRM reference. Permission: agents and analysts.",
        permission_classes=[IsStaff],
    )
    async def customer(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID,
            strawberry.argument(description="The customer's global id or CRM reference."),
        ],
    ) -> Customer:
        return Customer.from_record(await customers.customer_by_id(info, _crm_reference(str(id))))

    @strawberry.field(
        description=(
            "Customers matching `search` (a CRM reference, e-mail address, phone number, or "
            "exact full or family name), or all customers. Permission: agents and analysts."
        ),
        permission_classes=[IsStaff],
    )
    async def customers(
        self,
        info: Info,
        search: Annotated[
            str | None,
            strawberry.argument(
                description="CRM reference, e-mail, phone number, or exact full or family name."
            ),
        ] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[Customer]:
        maximum = info.context.settings.max_page_size
        if not (search or "").strip():
            offset, limit = page_window(first, after, maximum)
            records, total = await customers.customers_page(info, offset, limit)
            return connection_from_page(records, offset, total, Customer.from_record)
        found = await customers.search_customers(info, search)
        return paginate(found, first, after, maximum, Customer.from_record)

    @strawberry.field(
        description=(
            "Any object by its global id; null when it does not exist or is not the caller's "
            "to see. Permission: signed in."
        ),
        permission_classes=[IsSignedIn],
    )
    async def node(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="A global id.")],
    ) -> Node | None:
        type_name, tmf_id = decode_global_id(str(id))
        kind = NODE_KINDS.get(type_name)
        if kind is None:
            return None
        record = await nodes.node_record(info, kind.source(info.context.sources), tmf_id)
        return kind.build(record) if record is not None else None

    @strawberry.field(
        description=(
            "The catalogue: active, sellable product offerings, optionally only those in the "
            "category with reference `category` (e.g. cat-mobile). Open to everyone, signed in "
            "or not."
        )
    )
    async def product_offerings(
        self,
        info: Info,
        category: Annotated[
            str | None,
            strawberry.argument(description="Only offerings in this category (its reference)."),
        ] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[ProductOffering]:
        found = await sellable_offerings(info, category)
        maximum = info.context.settings.max_page_size
        return paginate(found, first, after, maximum, ProductOffering.from_record)

    @strawberry.field(
        description=(
            "A price preview of a product order (nothing is ordered): per item the one-time "
            "and monthly prices, and for a change or termination what the product costs now; "
            "the total due now and the change per month. Open to everyone: without a sign-in "
            "only offerings to add (ADD items)."
        )
    )
    async def quote_product_order(
        self,
        info: Info,
        input: Annotated[
            QuoteProductOrderInput, strawberry.argument(description="The order to price.")
        ],
    ) -> QuoteProductOrderPayload:
        return await price_preview(info, input)


# What the entry points read beyond their selections (TMF fields= projection,
# graph.schema.projection): nothing, but the price preview, which checks and prices whole
# products, offerings, prices and orders (graph.resolvers.orders.quote).
reads(
    Query,
    None,
    me=Reads(),
    customer=Reads(),
    customers=Reads(),
    node=Reads(),
    product_offerings=Reads(),
    quote_product_order=Reads(
        joins={
            "product": WHOLE,
            "productOffering": WHOLE,
            "productOfferingPrice": WHOLE,
            "productOrder": WHOLE,
        }
    ),
)
