"""An order's items, checked and priced: the one place that decides what an order may hold
and what it costs (``quoteProductOrder``, and ``placeProductOrder`` before it orders).

A new offering's prices come from the catalogue (TMF620 productOfferingPrice), a changed or
terminated product's current prices from the inventory (TMF637). :func:`quote_order` refuses
an unknown or unsellable offering, another customer's (or an unknown) product, a product no
longer active or already being changed by an open order, collecting every problem with its
field path. Callers without an account (anonymous) get catalogue prices only: they may quote
offerings to add, not changes to products.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from graph.actions import ActionRefused, Problem, ProblemCode
from graph.loaders import Loaders
from graph.sources import Sources
from graph.sources.fulfillment import Product, ProductOffering, ProductOfferingPrice
from graph.timestamps import parse_datetime

__all__ = [
    "ACTIVE_PRODUCT",
    "MAX_ITEMS",
    "ORDER_OPEN",
    "ItemAction",
    "OrderLine",
    "Quote",
    "QuotedItem",
    "QuotedPrice",
    "describe",
    "quote_order",
    "sellable",
]

MAX_ITEMS: Final = 10
# Orders a client may still cancel (as the order manager decides: TMF622 open states).
ORDER_OPEN: Final = frozenset({"acknowledged", "inProgress", "pending", "held"})
# Products an order may change or terminate; pendingTerminate is already on its way out.
ACTIVE_PRODUCT: Final = frozenset({"active", "suspended"})
DEFAULT_CURRENCY: Final = "EUR"
MONTHLY: Final = frozenset({"month", "monthly"})
_CENT: Final = Decimal("0.01")


class ItemAction(StrEnum):
    ADD = "add"
    MODIFY = "modify"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One item as asked: add an offering, change a product to an offering, end a product."""

    action: ItemAction
    offering_id: str | None
    product_id: str | None


@dataclass(frozen=True, slots=True)
class QuotedPrice:
    name: str | None
    price_type: str | None  # recurring, oneTime, usage
    period: str | None  # for recurring prices, e.g. month
    amount: Decimal  # tax included
    currency: str
    reference: str | None = None  # the catalogue price (productOfferingPrice) it comes from

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "priceType": self.price_type,
            "period": self.period,
            "amount": str(self.amount),
            "currency": self.currency,
            "reference": self.reference,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> QuotedPrice:
        return cls(
            name=data.get("name"),
            price_type=data.get("priceType"),
            period=data.get("period"),
            amount=Decimal(str(data["amount"])),
            currency=str(data["currency"]),
            reference=data.get("reference"),
        )

    @property
    def one_time(self) -> bool:
        return self.price_type == "oneTime"

    @property
    def monthly(self) -> bool:
        """A recurring price counted in the monthly change (prices per another period are
        listed on their item, not summed)."""
        return self.price_type == "recurring" and (self.period is None or self.period in MONTHLY)


@dataclass(frozen=True, slots=True)
class QuotedItem:
    item_id: str  # "1", "2" ... as on the order
    action: ItemAction
    offering_id: str | None  # the offering added, or changed to
    offering_name: str | None
    product_id: str | None  # the product changed or terminated
    product_name: str | None
    prices: tuple[QuotedPrice, ...]  # what the offering costs
    current_prices: tuple[QuotedPrice, ...]  # what the product costs now
    one_time: Decimal  # due now for this item
    recurring_change: Decimal  # per month: new minus current

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.item_id,
            "action": self.action.value,
            "offering": self.offering_id,
            "offeringName": self.offering_name,
            "product": self.product_id,
            "productName": self.product_name,
            "prices": [p.to_json() for p in self.prices],
            "currentPrices": [p.to_json() for p in self.current_prices],
            "oneTime": str(self.one_time),
            "recurringChange": str(self.recurring_change),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> QuotedItem:
        return cls(
            item_id=str(data["id"]),
            action=ItemAction(data["action"]),
            offering_id=data.get("offering"),
            offering_name=data.get("offeringName"),
            product_id=data.get("product"),
            product_name=data.get("productName"),
            prices=tuple(QuotedPrice.from_json(p) for p in data.get("prices", ())),
            current_prices=tuple(QuotedPrice.from_json(p) for p in data.get("currentPrices", ())),
            one_time=Decimal(str(data["oneTime"])),
            recurring_change=Decimal(str(data["recurringChange"])),
        )


@dataclass(frozen=True, slots=True)
class Quote:
    items: tuple[QuotedItem, ...]
    currency: str
    due_now: Decimal  # one-time charges of the whole order
    monthly_change: Decimal  # how the monthly recurring charges change

    def to_json(self) -> dict[str, Any]:
        return {
            "items": [i.to_json() for i in self.items],
            "currency": self.currency,
            "dueNow": str(self.due_now),
            "monthlyChange": str(self.monthly_change),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Quote:
        return cls(
            items=tuple(QuotedItem.from_json(i) for i in data["items"]),
            currency=str(data["currency"]),
            due_now=Decimal(str(data["dueNow"])),
            monthly_change=Decimal(str(data["monthlyChange"])),
        )


def _in_force(record: Mapping[str, Any], now: datetime.datetime) -> bool:
    """Active in the catalogue and within its validity period."""
    if str(record.get("lifecycleStatus", "Active")).strip().lower() != "active":
        return False
    valid = record.get("validFor") or {}
    start, end = (
        parse_datetime(valid.get("startDateTime")),
        parse_datetime(valid.get("endDateTime")),
    )
    return (start is None or start <= now) and (end is None or now < end)


def sellable(offering: ProductOffering, now: datetime.datetime | None = None) -> bool:
    """What the catalogue shows (``productOfferings``) is what can be ordered: active, sold
    on its own (not only within a bundle), and valid now."""
    now = now or datetime.datetime.now(datetime.UTC)
    return offering.get("isSellable") is not False and _in_force(offering, now)


def _money(value: Any) -> tuple[Decimal, str] | None:
    """A TMF Money, or a TMF Price (its tax-included amount), as an exact amount."""
    if not isinstance(value, Mapping):
        return None
    if "taxIncludedAmount" in value:
        value = value["taxIncludedAmount"]
        if not isinstance(value, Mapping):
            return None
    raw = value.get("value")
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return None
    try:
        amount = Decimal(str(raw)).quantize(_CENT)
    except ArithmeticError:
        return None
    return amount, str(value.get("unit") or DEFAULT_CURRENCY)


def _price(record: Mapping[str, Any], period_key: str, reference: Any) -> QuotedPrice | None:
    """A catalogue price (TMF620 productOfferingPrice: its ``recurringChargePeriodType``) or a
    product's (TMF637 productPrice: ``recurringChargePeriod``)."""
    found = _money(record.get("price"))
    if found is None:
        return None
    return QuotedPrice(
        name=record.get("name"),
        price_type=record.get("priceType"),
        period=record.get(period_key),
        amount=found[0],
        currency=found[1],
        reference=reference if isinstance(reference, str) else None,
    )


def _offering_price(record: ProductOfferingPrice) -> QuotedPrice | None:
    return _price(record, "recurringChargePeriodType", record.get("id"))


def _product_price(record: Mapping[str, Any]) -> QuotedPrice | None:
    return _price(
        record, "recurringChargePeriod", (record.get("productOfferingPrice") or {}).get("id")
    )


def _shape(lines: Sequence[OrderLine]) -> list[Problem]:
    """What each item must (and must not) name, and no product twice."""
    if not lines:
        return [Problem(ProblemCode.INVALID_INPUT, "Name at least one item.", ("items",))]
    if len(lines) > MAX_ITEMS:
        return [
            Problem(ProblemCode.INVALID_INPUT, f"At most {MAX_ITEMS} items per order.", ("items",))
        ]
    problems: list[Problem] = []
    seen: set[str] = set()
    for n, line in enumerate(lines):

        def wrong(message: str, name: str, n: int = n) -> None:
            problems.append(Problem(ProblemCode.INVALID_INPUT, message, ("items", str(n), name)))

        if line.action is ItemAction.ADD:
            if line.offering_id is None:
                wrong("Name the offering to add.", "offering")
            if line.product_id is not None:
                wrong("Adding creates a new product: name none (MODIFY changes one).", "product")
            continue
        if line.product_id is None:
            wrong("Name the product to change or terminate.", "product")
        elif line.product_id in seen:
            wrong("This product is named by another item already.", "product")
        else:
            seen.add(line.product_id)
        if line.action is ItemAction.MODIFY and line.offering_id is None:
            wrong("Name the offering to change the product to.", "offering")
        if line.action is ItemAction.DELETE and line.offering_id is not None:
            wrong("Terminating a product orders no offering: leave `offering` out.", "offering")
    return problems


async def quote_order(
    sources: Sources, loaders: Loaders, customer_id: str | None, lines: Sequence[OrderLine]
) -> Quote:
    """Check and price ``lines`` for ``customer_id`` (whose scope ``sources`` and ``loaders``
    read); ``customer_id`` None: a catalogue-only quote (offerings to add)."""
    problems = _shape(lines)
    if problems:
        raise ActionRefused(problems)
    if customer_id is None:
        refused = [
            Problem(
                ProblemCode.NOT_ALLOWED,
                "Sign in to change or terminate your products; without an account only new "
                "offerings can be quoted.",
                ("items", str(n), "action"),
            )
            for n, line in enumerate(lines)
            if line.action is not ItemAction.ADD
        ]
        if refused:
            raise ActionRefused(refused)
    product_ids = [line.product_id for line in lines if line.product_id is not None]
    products: dict[str, Product] = {}
    if product_ids:
        found = await loaders.by_id(sources.product).load_many(product_ids)
        products = {p["id"]: p for p in found if p is not None}
    # The offerings asked for, and the current offerings of the products changed.
    offering_ids = [line.offering_id for line in lines if line.offering_id is not None]
    offering_ids += [
        str(current)
        for p in products.values()
        if (current := (p.get("productOffering") or {}).get("id"))
    ]
    offerings: dict[str, ProductOffering] = {}
    if offering_ids:
        loaded = await loaders.by_id(sources.offering).load_many(list(dict.fromkeys(offering_ids)))
        offerings = {o["id"]: o for o in loaded if o is not None}
    open_orders = await _open_orders_by_product(sources, loaders, customer_id, products)

    now = datetime.datetime.now(datetime.UTC)
    problems = []
    for n, line in enumerate(lines):
        problems += _check(line, ("items", str(n)), offerings, products, open_orders, now)
    if problems:
        raise ActionRefused(problems)

    price_ids = [
        ref["id"]
        for line in lines
        if line.offering_id is not None
        for ref in offerings[line.offering_id].get("productOfferingPrice") or ()
        if isinstance(ref, Mapping) and isinstance(ref.get("id"), str)
    ]
    catalogue: dict[str, ProductOfferingPrice] = {}
    if price_ids:
        loaded_prices = await loaders.by_id(sources.offering_price).load_many(
            list(dict.fromkeys(price_ids))
        )
        catalogue = {p["id"]: p for p in loaded_prices if p is not None and _in_force(p, now)}
    return _priced(lines, offerings, products, catalogue)


async def _open_orders_by_product(
    sources: Sources, loaders: Loaders, customer_id: str | None, products: Mapping[str, Product]
) -> dict[str, str]:
    """Product id -> an open order already changing it (one change at a time)."""
    if customer_id is None or not products:
        return {}
    orders = await loaders.by_ref(sources.product_order, "relatedParty.id").load(customer_id)
    busy: dict[str, str] = {}
    for order in orders:
        if order.get("state") not in ORDER_OPEN:
            continue
        for item in order.get("productOrderItem") or ():
            product_id = (item.get("product") or {}).get("id")
            if isinstance(product_id, str) and product_id in products:
                busy.setdefault(product_id, order["id"])
    return busy


def _check(
    line: OrderLine,
    where: tuple[str, ...],
    offerings: Mapping[str, ProductOffering],
    products: Mapping[str, Product],
    open_orders: Mapping[str, str],
    now: datetime.datetime,
) -> list[Problem]:
    problems: list[Problem] = []
    offering = offerings.get(line.offering_id) if line.offering_id else None
    if line.offering_id is not None:
        if offering is None:
            problems.append(
                Problem(
                    ProblemCode.UNKNOWN_OFFERING,
                    "There is no such offering in the catalogue.",
                    (*where, "offering"),
                )
            )
        elif not sellable(offering, now):
            problems.append(
                Problem(
                    ProblemCode.OFFERING_NOT_SELLABLE,
                    f"{offering.get('name') or 'This offering'} can no longer be ordered.",
                    (*where, "offering"),
                )
            )
    if line.product_id is None:
        return problems
    product = products.get(line.product_id)
    if product is None:
        problems.append(
            Problem(ProblemCode.NOT_FOUND, "No such product of yours.", (*where, "product"))
        )
        return problems
    status = str(product.get("status") or "")
    if status not in ACTIVE_PRODUCT:
        problems.append(
            Problem(
                ProblemCode.PRODUCT_NOT_ACTIVE,
                f"This product is {status or 'not active'}: it can no longer be changed or "
                "terminated.",
                (*where, "product"),
            )
        )
    elif line.product_id in open_orders:
        problems.append(
            Problem(
                ProblemCode.INVALID_INPUT,
                f"Order {open_orders[line.product_id]} is already changing this product; wait "
                "for it to complete, or cancel it first.",
                (*where, "product"),
            )
        )
    current = (product.get("productOffering") or {}).get("id")
    if line.action is ItemAction.MODIFY and offering is not None:
        if current == offering["id"]:
            problems.append(
                Problem(
                    ProblemCode.INVALID_INPUT,
                    "The product already is this offering.",
                    (*where, "offering"),
                )
            )
        elif (
            isinstance(current, str)
            and current in offerings
            and _categories(offerings[current]) != _categories(offering)
        ):
            problems.append(
                Problem(
                    ProblemCode.INVALID_INPUT,
                    "A product changes only to an offering of its own kind (category); add the "
                    "new offering and terminate this product instead.",
                    (*where, "offering"),
                )
            )
    return problems


def _categories(offering: ProductOffering) -> frozenset[str]:
    return frozenset(
        str(ref.get("id")) for ref in offering.get("category") or () if isinstance(ref, Mapping)
    )


def _priced(
    lines: Sequence[OrderLine],
    offerings: Mapping[str, ProductOffering],
    products: Mapping[str, Product],
    catalogue: Mapping[str, ProductOfferingPrice],
) -> Quote:
    items: list[QuotedItem] = []
    units: set[str] = set()
    for n, line in enumerate(lines, start=1):
        offering = offerings.get(line.offering_id) if line.offering_id else None
        product = products.get(line.product_id) if line.product_id else None
        prices: tuple[QuotedPrice, ...] = ()
        if offering is not None:
            refs = [r.get("id") for r in offering.get("productOfferingPrice") or ()]
            quoted = (_offering_price(catalogue[r]) for r in refs if r and r in catalogue)
            prices = tuple(p for p in quoted if p is not None)
        current: tuple[QuotedPrice, ...] = ()
        if product is not None:
            found = (_product_price(p) for p in product.get("productPrice") or ())
            current = tuple(p for p in found if p is not None)
        units.update(p.currency for p in (*prices, *current))
        one_time = sum((p.amount for p in prices if p.one_time), Decimal("0.00"))
        monthly_new = sum((p.amount for p in prices if p.monthly), Decimal("0.00"))
        monthly_now = sum((p.amount for p in current if p.monthly), Decimal("0.00"))
        items.append(
            QuotedItem(
                item_id=str(n),
                action=line.action,
                offering_id=line.offering_id,
                offering_name=offering.get("name") if offering else None,
                product_id=line.product_id,
                product_name=product.get("name") if product else None,
                prices=prices,
                current_prices=current,
                one_time=one_time,
                recurring_change=monthly_new - monthly_now,
            )
        )
    if len(units) > 1:
        raise ActionRefused.one(
            ProblemCode.CURRENCY_MISMATCH,
            f"These items are priced in different currencies ({', '.join(sorted(units))}): "
            "order them separately.",
            "items",
        )
    return Quote(
        items=tuple(items),
        currency=units.pop() if units else DEFAULT_CURRENCY,
        due_now=sum((i.one_time for i in items), Decimal("0.00")),
        monthly_change=sum((i.recurring_change for i in items), Decimal("0.00")),
    )


def describe(quote: Quote) -> str:
    """One line for the order's description and the interaction record."""
    parts = []
    for item in quote.items:
        if item.action is ItemAction.ADD:
            parts.append(f"New {item.offering_name or item.offering_id}")
        elif item.action is ItemAction.MODIFY:
            what = item.product_name or item.product_id
            parts.append(f"Change of {what} to {item.offering_name or item.offering_id}")
        else:
            parts.append(f"Termination of {item.product_name or item.product_id}")
    return "; ".join(parts)
