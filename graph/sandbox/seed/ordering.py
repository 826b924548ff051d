"""Ordering: product orders (TMF622) consistent with the inventory, and the service orders
(TMF641) that fulfil some of them.
"""

from __future__ import annotations

import datetime
import random
from typing import Final

from .catalog import (
    OFFERING_BY_SLUG,
    RETIRED,
    SELLABLE,
    Offering,
    catalog_href,
    offering_prices,
    offering_ref,
    price_value,
)
from .plan import Record
from .state import CustomerState, Product
from .values import CHANNELS, add_days, pick, stamp, ts

_ORDER_KINDS: Final = (
    (0.35, "add-completed"), (0.1, "modify-completed"), (0.12, "add-acknowledged"),
    (0.13, "add-inProgress"), (0.15, "add-failed"), (0.15, "add-cancelled"),
)  # fmt: skip
_CANCEL_REASONS: Final = (
    "Customer changed their mind",
    "Found a better offer",
    "Ordered by mistake",
)


class OrderingBuilder(CustomerState):
    """What the customer ordered, and the state each order reached."""

    def orders(self) -> list[tuple[Record, datetime.datetime, str]]:
        """Product orders (TMF622) consistent with the inventory, and service orders (TMF641)
        for some of them; returns (order, order time, channel) for the interactions."""
        rng = self.rng("orders")
        r = rng.random
        # (order time, kind, product, offerings)
        plans: list[tuple[datetime.datetime, str, Product | None, list[Offering]]] = []
        for p in self.products:
            if p.status == "terminated" and p.end is not None:
                before = (self.today - p.end).days + 3 + int(r() * 15)
                plans.append((self.moment(rng, before), "delete-completed", p, [p.offering]))
            elif p.status == "pendingTerminate":
                plans.append((self.moment(rng, 1 + r() * 9), "delete-inProgress", p, [p.offering]))
        added: set[int] = set()
        has_mobile = any(p.kind == "mobile" for p in self.products)
        while len(plans) < self.profile.orders:
            kind = pick(rng, _ORDER_KINDS)
            if kind == "add-completed":
                fresh = [p for p in self.products if p.n not in added]
                if fresh:
                    p = rng.choice(fresh)
                    added.add(p.n)
                    at = datetime.datetime.combine(p.order_date, datetime.time(11))
                    plans.append((at, kind, p, [p.offering]))
                    continue
                kind = "add-acknowledged"
            if kind == "modify-completed":
                esims = [
                    p for p in self.products
                    if p.sim_type == "eSIM" and p.status == "active" and p.start < self.today
                ]  # fmt: skip
                if esims:
                    p = rng.choice(esims)
                    span = max(1, (self.today - p.start).days - 2)
                    plans.append((self.moment(rng, 2 + r() * span), kind, p, [p.offering]))
                    continue
                kind = "add-inProgress"
            if kind == "add-failed":
                plans.append((self.moment(rng, 10 + r() * 140), kind, None, [RETIRED[0]]))
                continue
            offering = self.new_offering(rng, has_mobile)
            offerings = [offering]
            if kind == "add-acknowledged":
                at = self.moment(rng, 1 + r() * 2)
            elif kind == "add-inProgress":
                at = self.moment(rng, 1 + r() * 10)
                if offering.kind == "mobile" and r() < 0.4:
                    offerings.append(OFFERING_BY_SLUG["phone-lite" if r() < 0.6 else "phone-pro"])
            else:
                at = self.moment(rng, 10 + r() * 290)
            plans.append((at, kind, None, offerings))
        plans.sort(key=lambda plan: plan[0])

        result: list[tuple[Record, datetime.datetime, str]] = []
        service_orders = 0
        for n, (at, kind, product, offerings) in enumerate(plans, start=1):
            order, channel = self.order(rng, n, at, kind, product, offerings)
            result.append((order, at, channel))
            self.out["productOrder"].append(order)
            chance = {"add-completed": 0.6, "delete-completed": 0.6, "delete-inProgress": 1.0}
            wants = chance.get(kind, 0.7 if kind == "add-inProgress" else 0.0)
            if offerings[0].kind == "device" or r() >= wants:
                continue
            service_orders += 1
            self.service_order(service_orders, order, at, kind, product, offerings[0])
        return result

    def new_offering(self, rng: random.Random, has_mobile: bool) -> Offering:
        x = rng.random()
        kind = (
            "mobile" if x < 0.45 else "broadband" if x < 0.6 else "tv" if x < 0.7
            else "device" if x < 0.85 or not has_mobile else "addon"
        )  # fmt: skip
        return rng.choice([o for o in SELLABLE if o.kind == kind])

    def order_prices(self, offerings: list[Offering]) -> tuple[list[list[Record]], list[Record]]:
        """Item prices per offering, and the order's totals per price type."""
        totals: dict[str, int] = {}
        per_item = []
        for offering in offerings:
            prices = []
            for pop_id, name, incl, price_type in offering_prices(offering):
                totals[price_type] = totals.get(price_type, 0) + incl
                price: Record = {
                    "name": name,
                    "priceType": price_type,
                    "price": price_value(incl),
                    "productOfferingPrice": {
                        "id": pop_id,
                        "href": catalog_href(self.plan, "productOfferingPrice", pop_id),
                        "name": name,
                        "@referredType": "ProductOfferingPrice",
                    },
                }
                if price_type == "recurring":
                    price["recurringChargePeriod"] = "month"
                prices.append(price)
            per_item.append(prices)
        total = []
        for price_type, incl in totals.items():
            entry: Record = {"name": f"Total {price_type}", "priceType": price_type,
                             "price": price_value(incl)}  # fmt: skip
            if price_type == "recurring":
                entry["recurringChargePeriod"] = "month"
            total.append(entry)
        return per_item, total

    def order(
        self,
        rng: random.Random,
        n: int,
        at: datetime.datetime,
        kind: str,
        product: Product | None,
        offerings: list[Offering],
    ) -> tuple[Record, str]:
        r = rng.random
        oid = self.ids.id("productOrder", n)
        href = self.ids.href("productOrder", oid)
        action, state = kind.split("-")
        account = (
            product.account if product is not None else self.accounts[int(r() * len(self.accounts))]
        )
        channel = rng.choice(tuple(CHANNELS))
        item_prices, totals = self.order_prices(offerings if action == "add" else [])
        items: list[Record] = []
        for m, offering in enumerate(offerings, start=1):
            item: Record = {
                "id": str(m),
                "action": action,
                "quantity": 1,
                "state": state,
                "productOffering": offering_ref(self.plan, offering),
            }
            if action == "add":
                item["itemPrice"] = item_prices[m - 1]
            if product is not None:
                item["product"] = self.product_ref(product)
            if action == "modify":
                item["product"]["productCharacteristic"] = [
                    {"name": "simType", "valueType": "string", "value": "eSIM"}
                ]
            items.append(item)
        names = ", ".join(o.name for o in offerings)
        verb = {"add": "New", "modify": "Change of", "delete": "Termination of"}[action]
        record: Record = {
            "id": oid,
            "href": href,
            "@type": "ProductOrder",
            "category": "B2C product order",
            "description": f"{verb} {names}" + (": switch to eSIM" if action == "modify" else ""),
            "priority": "4",
            "orderDate": stamp(at),
            "requestedStartDate": stamp(at),
            "state": state,
            "billingAccount": self.account_ref(account),
            "channel": [{"id": channel, "name": CHANNELS[channel], "role": "salesChannel"}],
            "relatedParty": [self.customer("customer")],
            "productOrderItem": items,
        }
        if totals:
            record["orderTotalPrice"] = totals
        if kind == "add-completed":
            assert product is not None
            record["completionDate"] = ts(product.start, 9)
            product.record["productOrderItem"] = [
                {
                    "orderItemId": "1",
                    "productOrderId": oid,
                    "productOrderHref": href,
                    "orderItemAction": "add",
                    "role": "origin",
                    "@referredType": "ProductOrderItem",
                }
            ]
        elif kind == "delete-completed":
            assert product is not None
            assert product.end is not None
            record["completionDate"] = ts(product.end, 18)
            record["requestedCompletionDate"] = ts(product.end, 18)
        elif kind == "delete-inProgress":
            assert product is not None
            assert product.end is not None
            record["requestedCompletionDate"] = ts(product.end, 18)
            record["expectedCompletionDate"] = ts(product.end, 18)
        elif kind == "modify-completed":
            record["completionDate"] = stamp(at + datetime.timedelta(hours=2 + r() * 20))
        elif state in ("acknowledged", "inProgress"):
            record["expectedCompletionDate"] = ts(add_days(self.today, 2 + int(r() * 12)), 18)
        elif state == "failed":
            record["completionDate"] = stamp(at + datetime.timedelta(minutes=5 + r() * 600))
            record["note"] = [
                {
                    "id": "1",
                    "author": "Order management",
                    "date": record["completionDate"],
                    "text": f"{offerings[0].name} is retired and can no longer be ordered.",
                }
            ]
        elif state == "cancelled":
            record["cancellationDate"] = stamp(at + datetime.timedelta(hours=2 + r() * 70))
            record["cancellationReason"] = rng.choice(_CANCEL_REASONS)
        return record, channel

    def service_order(
        self,
        n: int,
        order: Record,
        at: datetime.datetime,
        kind: str,
        product: Product | None,
        offering: Offering,
    ) -> None:
        action, state = kind.split("-")
        sid = self.ids.id("serviceOrder", n)
        if product is not None:
            targets: list[Record] = [
                self.ids.ref("service", s["id"], s["name"]) for s in product.services
            ]
        else:
            targets = [
                {
                    "name": f"{offering.name} service",
                    "state": "designed",
                    "serviceSpecification": {
                        "id": "ssp-" + offering.kind,
                        "name": f"{offering.kind.capitalize()} service",
                        "@referredType": "ServiceSpecification",
                    },
                    "@type": "Service",
                }
            ]
        started = stamp(at + datetime.timedelta(hours=1))
        record: Record = {
            "id": sid,
            "href": self.ids.href("serviceOrder", sid),
            "@type": "ServiceOrder",
            "externalId": order["id"],
            "description": f"Service order for product order {order['id']}",
            "category": "CFS",
            "priority": "4",
            "orderDate": started,
            "startDate": started,
            "state": state,
            "relatedParty": [self.customer("customer")],
            "externalReference": [{"externalReferenceType": "productOrder", "name": order["id"]}],
            "serviceOrderItem": [
                {"id": str(m), "action": action, "state": state, "service": target}
                for m, target in enumerate(targets, start=1)
            ],
        }
        if "completionDate" in order and state == "completed":
            done = datetime.datetime.fromisoformat(order["completionDate"].replace("Z", ""))
            record["completionDate"] = stamp(done - datetime.timedelta(hours=1))
        elif "expectedCompletionDate" in order:
            record["expectedCompletionDate"] = order["expectedCompletionDate"]
        self.out["serviceOrder"].append(record)
