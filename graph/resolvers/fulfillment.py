"""Fulfillment: the catalogue, a customer's products, product orders and party interactions."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from graph.context import Info
from graph.errors import Code, GraphError
from graph.sources.crm import PartyInteraction as PartyInteractionRecord
from graph.sources.fulfillment import Category as CategoryRecord
from graph.sources.fulfillment import Product as ProductRecord
from graph.sources.fulfillment import ProductOffering as ProductOfferingRecord
from graph.sources.fulfillment import ProductOfferingPrice as OfferingPriceRecord
from graph.sources.fulfillment import ProductOrder as ProductOrderRecord
from graph.sources.fulfillment import ProductOrderItem as ProductOrderItemRecord

__all__ = [
    "categories_of",
    "interactions_of",
    "item_offering",
    "item_product",
    "offering_by_id",
    "offering_of",
    "prices_of",
    "product_by_id",
    "product_orders_of",
    "products_of",
    "sellable_offerings",
]

_REFERENCE: Final = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_NEVER: Final = datetime.datetime.min.replace(tzinfo=datetime.UTC)


def _moment(value: Any) -> datetime.datetime:
    """A TMF date-time for sorting; missing or malformed sorts oldest."""
    if not isinstance(value, str) or not value:
        return _NEVER
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return _NEVER
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def _ids(refs: Iterable[Mapping[str, Any]] | None) -> list[str]:
    """The ids of a list of TMF references, in order, without duplicates or blanks."""
    found = (ref.get("id") for ref in refs or ())
    return list(dict.fromkeys(i for i in found if isinstance(i, str) and i))


# -- the catalogue ---------------------------------------------------------------------------


async def sellable_offerings(info: Info, category: str | None) -> list[ProductOfferingRecord]:
    """Active, sellable offerings, optionally only those in the category ``category`` (a
    catalogue reference such as ``cat-mobile``). Open to everyone, signed in or not."""
    params = {"lifecycleStatus": "Active"}
    if category is not None:
        if not _REFERENCE.match(category):
            raise GraphError("`category` is not a category reference.", Code.BAD_USER_INPUT)
        params["category.id"] = category
    records = await info.context.sources.offering.search(params)
    return [r for r in records if r.get("isSellable") is not False]


async def offering_by_id(info: Info, offering_id: str) -> ProductOfferingRecord | None:
    ctx = info.context
    return await ctx.loaders.by_id(ctx.sources.offering).load(offering_id)


async def categories_of(info: Info, offering: ProductOfferingRecord) -> list[CategoryRecord]:
    ctx = info.context
    ids = _ids(offering.get("category"))
    found = await ctx.loaders.by_id(ctx.sources.category).load_many(ids)
    return [record for record in found if record is not None]


async def prices_of(info: Info, offering: ProductOfferingRecord) -> list[OfferingPriceRecord]:
    ctx = info.context
    ids = _ids(offering.get("productOfferingPrice"))
    found = await ctx.loaders.by_id(ctx.sources.offering_price).load_many(ids)
    return [record for record in found if record is not None]


# -- products --------------------------------------------------------------------------------


async def products_of(info: Info, customer_id: str) -> list[ProductRecord]:
    """The customer's products (TMF637), in inventory order."""
    ctx = info.context
    return await ctx.loaders.by_ref(ctx.sources.product, "relatedParty.id").load(customer_id)


async def product_by_id(info: Info, product_id: str | None) -> ProductRecord | None:
    if not product_id:
        return None
    ctx = info.context
    return await ctx.loaders.by_id(ctx.sources.product).load(product_id)


async def offering_of(info: Info, product: ProductRecord) -> ProductOfferingRecord | None:
    offering_id = (product.get("productOffering") or {}).get("id")
    return await offering_by_id(info, offering_id) if offering_id else None


# -- product orders --------------------------------------------------------------------------


async def product_orders_of(info: Info, customer_id: str) -> list[ProductOrderRecord]:
    """The customer's product orders (TMF622), newest order date first."""
    ctx = info.context
    loader = ctx.loaders.by_ref(ctx.sources.product_order, "relatedParty.id")
    orders = await loader.load(customer_id)
    return sorted(orders, key=lambda o: _moment(o.get("orderDate")), reverse=True)


async def item_offering(info: Info, item: ProductOrderItemRecord) -> ProductOfferingRecord | None:
    offering_id = (item.get("productOffering") or {}).get("id")
    return await offering_by_id(info, offering_id) if offering_id else None


async def item_product(info: Info, item: ProductOrderItemRecord) -> ProductRecord | None:
    """The product an order item changes or created, when the item names one."""
    product_id = (item.get("product") or {}).get("id")
    if not isinstance(product_id, str) or not product_id:
        return None
    return await product_by_id(info, product_id)


# -- party interactions ----------------------------------------------------------------------


async def interactions_of(info: Info, customer_id: str) -> list[PartyInteractionRecord]:
    """The customer's past interactions (TMF683), newest first."""
    ctx = info.context
    loader = ctx.loaders.by_ref(ctx.sources.interaction, "relatedParty.id")
    found = await loader.load(customer_id)
    return sorted(
        found,
        key=lambda i: _moment((i.get("interactionDate") or {}).get("startDateTime")),
        reverse=True,
    )
