"""Placing a product order (TMF622): checked and priced as the quote is, then one POST.

:func:`place_order` prices the order with :func:`~.quote.quote_order`, so the quote a customer
saw is the one the order carries, and bills it to the account named (or the customer's only
open one); the order manager then takes it from acknowledged to completed. With an idempotency
key the order carries a correlator in ``externalId``, so a repeat whose first outcome was lost
(a timed-out POST) finds that order instead of placing a second one -- if it is the same order:
an order found by the key's correlator with other items or another account means the key was
reused for another request (``IDEMPOTENCY_KEY_REUSED``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from graph.actions import ActionRefused, Actor, Done, ProblemCode, Touched, contact
from graph.actions.records import backend_refusal, channel_ref, now_iso, ref
from graph.sources import BackendRejected
from graph.sources.crm import BillingAccount
from graph.sources.fulfillment import ProductOrder

from .quote import OrderLine, Quote, QuotedPrice, describe, quote_order

__all__ = ["PlaceOrder", "place_order"]


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    lines: tuple[OrderLine, ...]
    billing_account_id: str | None
    note: str | None
    idempotency_key: str | None

    def fingerprint(self) -> dict[str, Any]:
        """What a repeat with the same key must match."""
        return {
            "lines": _lines(self.lines),
            "account": self.billing_account_id,
            "note": hashlib.sha256(self.note.encode()).hexdigest() if self.note else None,
        }


def _lines(lines: Sequence[OrderLine]) -> list[list[str | None]]:
    return [[line.action.value, line.offering_id, line.product_id] for line in lines]


async def place_order(actor: Actor, request: PlaceOrder) -> Done:
    corr = actor.correlator(request.idempotency_key) if request.idempotency_key else None
    if corr is not None:
        earlier = await actor.sources.product_order.search({"externalId": corr})
        if earlier:
            # A first attempt whose answer was lost: that order, not a second one. Its quote
            # is not re-made (the order may have changed the products meanwhile).
            await _same_request(actor, earlier[0], request)
            return _placed(earlier[0]["id"], None, replayed=True)
    problems = contact.Problems()
    quote = await problems.awaited(
        quote_order(actor.sources, actor.loaders, actor.customer_id, request.lines)
    )
    account = await problems.awaited(_account(actor, request.billing_account_id))
    problems.raise_any()
    assert quote is not None
    assert account is not None
    body = _order_body(actor, request, quote, account, corr)
    try:
        order = await actor.sources.product_order.create(body)
    except BackendRejected as refused:
        said = "Order management refused this order: {reason}. Nothing was ordered."
        raise backend_refusal(refused, said, "items") from None
    return _placed(order["id"], quote, replayed=False)


async def _same_request(actor: Actor, order: ProductOrder, request: PlaceOrder) -> None:
    """An order found by this key's correlator must be this request's: the same items and
    the same billing account. Otherwise the key was used for another request whose outcome
    the idempotency store has forgotten."""
    items = [
        [
            str(item.get("action")),
            (item.get("productOffering") or {}).get("id"),
            (item.get("product") or {}).get("id"),
        ]
        for item in order.get("productOrderItem") or ()
    ]
    billed = (order.get("billingAccount") or {}).get("id")
    same = items == _lines(request.lines)
    if same and request.billing_account_id is not None:
        same = billed == request.billing_account_id
    elif same:  # the customer's only open account then, as when it was placed
        try:
            same = billed == (await _account(actor, None))["id"]
        except ActionRefused:
            same = False
    if not same:
        raise ActionRefused.one(
            ProblemCode.IDEMPOTENCY_KEY_REUSED,
            "This idempotency key was already used for a different order.",
            "idempotencyKey",
        )


async def _account(actor: Actor, named: str | None) -> BillingAccount:
    """The billing account the order is billed to: the one named, or the customer's only one."""
    loader = actor.loaders.by_ref(actor.sources.billing_account, "relatedParty.id")
    accounts = [a for a in await loader.load(actor.customer_id) if a.get("state") != "closed"]
    if named is not None:
        account = next((a for a in accounts if a["id"] == named), None)
        if account is None:
            raise ActionRefused.one(
                ProblemCode.NOT_FOUND, "No such open billing account of yours.", "billingAccount"
            )
        return account
    if len(accounts) == 1:
        return accounts[0]
    if not accounts:
        raise ActionRefused.one(
            ProblemCode.INVALID_INPUT,
            "There is no open billing account to bill this order to.",
            "billingAccount",
        )
    raise ActionRefused.one(
        ProblemCode.INVALID_INPUT,
        f"You have {len(accounts)} billing accounts: name the one to bill this order to.",
        "billingAccount",
    )


def _tmf_price(price: QuotedPrice, name: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": name or price.name,
        "priceType": price.price_type,
        "price": {"taxIncludedAmount": {"unit": price.currency, "value": float(price.amount)}},
    }
    if price.period:
        entry["recurringChargePeriod"] = price.period
    if price.reference and name is None:
        entry["productOfferingPrice"] = ref(
            {"id": price.reference, "name": price.name}, "ProductOfferingPrice"
        )
    return entry


def _order_body(
    actor: Actor, request: PlaceOrder, quote: Quote, account: BillingAccount, corr: str | None
) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    totals: dict[tuple[str | None, str | None], Decimal] = {}
    for item in quote.items:
        entry: dict[str, Any] = {"id": item.item_id, "action": item.action.value, "quantity": 1}
        if item.offering_id is not None:
            offering = {"id": item.offering_id, "name": item.offering_name}
            entry["productOffering"] = ref(offering, "ProductOffering")
            entry["itemPrice"] = [_tmf_price(p) for p in item.prices]
            for p in item.prices:
                key = (p.price_type, p.period)
                totals[key] = totals.get(key, Decimal(0)) + p.amount
        if item.product_id is not None:
            entry["product"] = ref({"id": item.product_id, "name": item.product_name}, "Product")
        items.append(entry)
    body: dict[str, Any] = {
        "description": describe(quote),
        "category": "B2C product order",
        "priority": "4",
        "channel": [channel_ref(actor, role="salesChannel")],
        "relatedParty": [ref({"id": actor.customer_id}, "Customer", role="customer")],
        "billingAccount": ref(account, "BillingAccount"),
        "productOrderItem": items,
    }
    if totals:
        body["orderTotalPrice"] = [
            _tmf_price(
                QuotedPrice(None, price_type, period, amount, quote.currency),
                name=f"Total {price_type}",
            )
            for (price_type, period), amount in totals.items()
        ]
    if request.note:
        author = f"Agent {actor.agent}" if actor.agent else "Customer"
        body["note"] = [{"text": request.note, "author": author, "date": now_iso()}]
    if corr is not None:
        body["externalId"] = corr
    return body


def _placed(order_id: str, quote: Quote | None, *, replayed: bool) -> Done:
    summary = f"placed product order {order_id}"
    if quote is not None:
        summary += f" ({describe(quote)})"
    return Done(
        outcome={"order": order_id, "quote": quote.to_json() if quote else None},
        summary=summary,
        touched=[Touched("productOrder", order_id, "found again" if replayed else "created")],
    )
