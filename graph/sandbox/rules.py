"""Business behaviour that self-service needs, hooked into the generic engine per collection.

- payment: settles (or partly settles) the bills it names -- or, naming none, the account's
  oldest open bills -- and the account balance follows; overpaying is refused.
- productOrder: acknowledged -> inProgress -> completed (or failed) over time; completion
  creates, changes or terminates products and the services and resources that realize them.
- troubleTicket: statuses move along the TMF621 life cycle with a ``statusChange`` history.
- individual / customer / billingAccount: registration stays consistent (one customer per
  individual, the customer lists its billing accounts).
"""

from __future__ import annotations

from typing import Any, Final

from .backend import Backend, now_iso
from .errors import TmfError
from .money import cents, money
from .query import Filter, ListQuery

__all__ = ["Rules", "business_rules", "fulfil_item", "refresh_balance"]

Record = dict[str, Any]


class Rules:
    """Hooks the engine calls around writes; each default does nothing."""

    def prepare_create(self, backend: Backend, record: Record) -> Record:
        return record

    def validate_create(self, backend: Backend, record: Record) -> None:
        return None

    def after_create(self, backend: Backend, record: Record) -> None:
        return None

    def prepare_update(self, backend: Backend, old: Record, new: Record) -> Record:
        return new

    def after_update(self, backend: Backend, old: Record, new: Record) -> None:
        return None

    def validate_delete(self, backend: Backend, record: Record) -> None:
        return None


def _ref(backend: Backend, name: str, record: Record, **extra: Any) -> Record:
    spec = backend.spec(name)
    ref: Record = {"id": record["id"], "href": record["href"]}
    if record.get("name"):
        ref["name"] = record["name"]
    ref.update(extra)
    ref.setdefault("@referredType", spec.type_name)
    return ref


def _customer_of(record: Record) -> str | None:
    for party in record.get("relatedParty") or []:
        if isinstance(party, dict) and party.get("@referredType") == "Customer":
            return str(party.get("id"))
    return None


# -- billing ---------------------------------------------------------------------------------

OUTSTANDING: Final = "outstanding"


class PaymentRules(Rules):
    def prepare_create(self, backend: Backend, record: Record) -> Record:
        now = now_iso()
        record.setdefault("paymentDate", now)
        record["status"] = "done"  # TMF676 PaymentStatusExampleType
        record["statusDate"] = now
        record.setdefault("amount", record.get("totalAmount"))
        return record

    def validate_create(self, backend: Backend, record: Record) -> None:
        total, unit = cents(record.get("totalAmount"), "totalAmount")
        if total <= 0:
            raise TmfError(422, "Invalid amount", "totalAmount must be positive")
        account_id = record["account"].get("id") if isinstance(record["account"], dict) else None
        account = backend.get("billingAccount", str(account_id))
        if account is None:
            raise TmfError(422, "Invalid reference", "the payment's account does not exist")
        items = record.get("paymentItem")
        if not items:
            record["paymentItem"] = self._allocate(backend, account, total, unit)
            return
        remaining_by_bill: dict[str, int] = {}
        paid = 0
        for position, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("item"), dict):
                raise TmfError(422, "Invalid payment item", f"paymentItem[{position}].item missing")
            amount, item_unit = cents(item.get("amount"), f"paymentItem[{position}].amount")
            if item_unit != unit or amount <= 0:
                raise TmfError(422, "Invalid amount", f"paymentItem[{position}] amount invalid")
            bill = backend.require("customerBill", str(item["item"].get("id")))
            if (bill.get("billingAccount") or {}).get("id") != account["id"]:
                raise TmfError(
                    422, "Invalid payment item", f"bill {bill['id']} is not on the paid account"
                )
            left = remaining_by_bill.get(bill["id"])
            if left is None:
                left, bill_unit = cents(bill.get("remainingAmount"), "remainingAmount")
                if bill_unit != unit:
                    raise TmfError(422, "Invalid amount", f"bill {bill['id']} is in {bill_unit}")
            if amount > left:
                raise TmfError(
                    422,
                    "Amount exceeds balance",
                    f"{amount / 100:.2f} exceeds the {left / 100:.2f} remaining on {bill['id']}",
                )
            remaining_by_bill[bill["id"]] = left - amount
            paid += amount
        if paid != total:
            raise TmfError(422, "Invalid amount", "paymentItem amounts must add up to totalAmount")

    def _allocate(self, backend: Backend, account: Record, total: int, unit: str) -> list[Record]:
        """A payment on account settles the oldest open bills first."""
        bills = _open_bills(backend, account["id"])
        items: list[Record] = []
        left = total
        for bill in bills:
            if left == 0:
                break
            due, _ = cents(bill["remainingAmount"])
            amount = min(due, left)
            items.append(
                {"amount": money(amount, unit), "item": _ref(backend, "customerBill", bill)}
            )
            left -= amount
        if left:
            raise TmfError(
                422, "Amount exceeds balance", "the payment exceeds what the account owes"
            )
        return items

    def after_create(self, backend: Backend, record: Record) -> None:
        payment_ref = {"id": record["id"], "href": record["href"], "@referredType": "Payment"}
        for item in record["paymentItem"]:
            bill = backend.require("customerBill", item["item"]["id"])
            left, unit = cents(bill["remainingAmount"])
            amount, _ = cents(item["amount"])
            left -= amount
            applied = [
                *bill.get("appliedPayment", []),
                {
                    "appliedAmount": money(amount, unit),
                    "payment": payment_ref,
                },
            ]
            backend.update(
                "customerBill",
                bill["id"],
                {
                    "remainingAmount": money(left, unit),
                    "state": "settled" if left == 0 else "partiallyPaid",
                    "appliedPayment": applied,
                    "lastUpdate": now_iso(),
                },
            )
        refresh_balance(backend, record["account"]["id"])


def _open_bills(backend: Backend, account_id: str) -> list[Record]:
    """The account's bills with something left to pay, oldest first."""
    query = _by("billingAccount.id", account_id, sort="billDate")
    bills = backend.dataset.find(backend.spec("customerBill"), query)
    return [b for b in bills if cents(b.get("remainingAmount") or {"unit": "EUR", "value": 0})[0]]


def refresh_balance(backend: Backend, account_id: str) -> None:
    """The account's outstanding balance is what its bills still owe."""
    account = backend.require("billingAccount", account_id)
    owed = 0
    unit = "EUR"
    for bill in _open_bills(backend, account_id):
        due, unit = cents(bill["remainingAmount"])
        owed += due
    balances = [b for b in account.get("accountBalance", []) if b.get("balanceType") != OUTSTANDING]
    previous: Record = next(
        (b for b in account.get("accountBalance", []) if b.get("balanceType") == OUTSTANDING), {}
    )
    balances.insert(
        0,
        {
            **previous,
            "balanceType": OUTSTANDING,
            "amount": money(owed, unit),
            "validFor": {"startDateTime": now_iso()},
        },
    )
    backend.update(
        "billingAccount",
        account_id,
        {
            "accountBalance": balances,
            "paymentStatus": "due" if owed else "paid",
            "lastModified": now_iso(),
        },
    )


# -- assurance -------------------------------------------------------------------------------

TICKET_TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "acknowledged": frozenset({"inProgress", "pending", "held", "rejected", "cancelled"}),
    "inProgress": frozenset({"pending", "held", "resolved", "cancelled"}),
    "pending": frozenset({"inProgress", "cancelled"}),
    "held": frozenset({"inProgress", "cancelled"}),
    "resolved": frozenset({"closed", "inProgress"}),  # confirmed, or reopened
    "rejected": frozenset(),
    "cancelled": frozenset(),
    "closed": frozenset(),
}


class TroubleTicketRules(Rules):
    def prepare_create(self, backend: Backend, record: Record) -> Record:
        status = record.get("status", "acknowledged")
        if status != "acknowledged":
            raise TmfError(422, "Invalid status", "a new trouble ticket starts 'acknowledged'")
        now = now_iso()
        record.update(
            status=status,
            creationDate=now,
            lastUpdate=now,
            statusChangeDate=now,
            statusChange=[{"status": status, "changeDate": now, "changeReason": "Ticket created"}],
        )
        record["note"] = _stamp_notes(record.get("note"), now)
        return record

    def prepare_update(self, backend: Backend, old: Record, new: Record) -> Record:
        now = now_iso()
        before, after = old.get("status"), new.get("status")
        if not TICKET_TRANSITIONS.get(str(before)):
            raise TmfError(422, "Ticket closed", f"a {before} trouble ticket cannot be changed")
        if after != before:
            if after not in TICKET_TRANSITIONS.get(str(before), frozenset()):
                raise TmfError(422, "Invalid transition", f"cannot go from {before} to {after}")
            change = {"status": after, "changeDate": now}
            if new.get("statusChangeReason"):
                change["changeReason"] = new["statusChangeReason"]
            new["statusChange"] = [*old.get("statusChange", []), change]
            new["statusChangeDate"] = now
            if after == "resolved":
                new.setdefault("resolutionDate", now)
        new["note"] = _stamp_notes(new.get("note"), now)
        new["lastUpdate"] = now
        return new

    def after_update(self, backend: Backend, old: Record, new: Record) -> None:
        if old.get("status") != new.get("status"):
            if new.get("status") == "resolved":
                backend.publish("troubleTicket", "Resolved", new)
            elif new.get("status") == "pending":
                backend.publish("troubleTicket", "InformationRequired", new)


def _stamp_notes(notes: Any, now: str) -> list[Record]:
    if not notes:
        return []
    stamped = []
    for position, note in enumerate(notes):
        if not isinstance(note, dict) or not isinstance(note.get("text"), str):
            raise TmfError(422, "Invalid note", f"note[{position}] needs a text")
        stamped.append({"id": str(position + 1), "date": now, **note})
    return stamped


# -- fulfillment -----------------------------------------------------------------------------

ORDER_OPEN: Final = frozenset({"acknowledged", "inProgress", "pending", "held"})
ITEM_ACTIONS: Final = frozenset({"add", "modify", "delete", "noChange"})


class ProductOrderRules(Rules):
    def __init__(self, step_seconds: float) -> None:
        self.step_seconds = step_seconds

    def prepare_create(self, backend: Backend, record: Record) -> Record:
        record["state"] = "acknowledged"
        record["orderDate"] = now_iso()
        items = record.get("productOrderItem")
        if not isinstance(items, list) or not items:
            raise TmfError(422, "Invalid order", "productOrderItem must list at least one item")
        record["productOrderItem"] = [
            {**item, "state": "acknowledged"} if isinstance(item, dict) else item for item in items
        ]
        return record

    def validate_create(self, backend: Backend, record: Record) -> None:
        customer_id = _customer_of(record)
        for position, item in enumerate(record["productOrderItem"]):
            where = f"productOrderItem[{position}]"
            if not isinstance(item, dict) or not item.get("id"):
                raise TmfError(422, "Invalid order item", f"{where} needs an id")
            if item.get("action") not in ITEM_ACTIONS:
                raise TmfError(
                    422,
                    "Invalid order item",
                    f"{where}.action is not one of {sorted(ITEM_ACTIONS)}",
                )
            if item["action"] == "add" and not (item.get("productOffering") or {}).get("id"):
                raise TmfError(422, "Invalid order item", f"{where} adds no productOffering")
            if item["action"] in ("modify", "delete"):
                product = backend.get("product", str((item.get("product") or {}).get("id")))
                if product is None:
                    raise TmfError(422, "Invalid order item", f"{where} names no existing product")
                if customer_id is not None and _customer_of(product) != customer_id:
                    raise TmfError(
                        422, "Invalid order item", f"{where} product is not the customer's"
                    )
                if product.get("status") == "terminated":
                    raise TmfError(422, "Invalid order item", f"{where} product is terminated")

    def after_create(self, backend: Backend, record: Record) -> None:
        order_id = record["id"]
        backend.later(self.step_seconds, lambda: self._start(backend, order_id))

    def prepare_update(self, backend: Backend, old: Record, new: Record) -> Record:
        if new.get("state") != old.get("state"):
            if new.get("state") != "cancelled" or old.get("state") not in ORDER_OPEN:
                raise TmfError(
                    422,
                    "Invalid transition",
                    f"{old.get('state')} -> {new.get('state')}: clients only cancel open orders",
                )
            new["cancellationDate"] = now_iso()
        return new

    # Progress is driven by the sandbox itself; it writes through ``_advance``, which the
    # client-facing transition check above does not apply to.
    def _advance(self, backend: Backend, order_id: str, state: str, **extra: Any) -> Record | None:
        order = backend.get("productOrder", order_id)
        if order is None or order.get("state") not in ORDER_OPEN:
            return None  # cancelled or deleted meanwhile
        items = [{**item, "state": state} for item in order["productOrderItem"]]
        updated = {**order, "state": state, "productOrderItem": items, **extra}
        backend.dataset["productOrder"].replace(updated)
        backend.publish("productOrder", "StateChange", updated)
        return updated

    def _start(self, backend: Backend, order_id: str) -> None:
        if self._advance(backend, order_id, "inProgress") is not None:
            backend.later(self.step_seconds, lambda: self._finish(backend, order_id))

    def _finish(self, backend: Backend, order_id: str) -> None:
        order = backend.get("productOrder", order_id)
        if order is None or order.get("state") not in ORDER_OPEN:
            return
        unsellable = [
            item["productOffering"]["id"]
            for item in order["productOrderItem"]
            if item.get("action") in ("add", "modify")
            and item.get("productOffering")
            and not _sellable(backend.get("productOffering", item["productOffering"]["id"]))
        ]
        if unsellable:
            self._advance(backend, order_id, "failed", completionDate=now_iso())
            return
        items = []
        for item in order["productOrderItem"]:
            product = fulfil_item(backend, order, item)
            items.append({**item, "product": product} if product else item)
        order = {**order, "productOrderItem": items}
        backend.dataset["productOrder"].replace(order)
        self._advance(backend, order_id, "completed", completionDate=now_iso())


def _sellable(offering: Record | None) -> bool:
    return bool(
        offering
        and offering.get("isSellable", True)
        and str(offering.get("lifecycleStatus", "Active")).lower() not in ("retired", "obsolete")
    )


def fulfil_item(backend: Backend, order: Record, item: Record) -> Record | None:
    """Apply one completed order item to the inventories; returns the product ref."""
    action = item.get("action")
    if action == "add":
        return _ref(backend, "product", _provision(backend, order, item))
    if action == "modify":
        product_id = item["product"]["id"]
        patch: Record = {}
        if item.get("productOffering"):
            offering = backend.require("productOffering", item["productOffering"]["id"])
            patch["productOffering"] = _ref(backend, "productOffering", offering)
            patch["productPrice"] = _prices(backend, offering)
            patch["name"] = offering.get("name")
        if item.get("product", {}).get("productCharacteristic"):
            patch["productCharacteristic"] = item["product"]["productCharacteristic"]
        return _ref(backend, "product", backend.update("product", product_id, patch))
    if action == "delete":
        return _ref(backend, "product", _terminate(backend, item["product"]["id"]))
    return None


def _prices(backend: Backend, offering: Record) -> list[Record]:
    prices = []
    for ref in offering.get("productOfferingPrice", []):
        pop = backend.get("productOfferingPrice", ref["id"])
        if pop is None:
            continue
        prices.append(
            {
                "name": pop.get("name"),
                "priceType": pop.get("priceType"),
                "recurringChargePeriod": pop.get("recurringChargePeriodType"),
                "price": {"taxIncludedAmount": (pop.get("price") or {})},
                "productOfferingPrice": _ref(backend, "productOfferingPrice", pop),
            }
        )
    return prices


def _provision(backend: Backend, order: Record, item: Record) -> Record:
    """A new product with a service realizing it and a resource supporting that service."""
    offering = backend.require("productOffering", item["productOffering"]["id"])
    parties = order.get("relatedParty", [])
    now = now_iso()
    resource = backend.create(
        "resource",
        {
            "name": f"{offering.get('name', 'Product')} resource",
            "@type": "LogicalResource",
            "resourceStatus": "available",
            "operationalState": "enable",
            "administrativeState": "unlocked",
            "usageState": "active",
            "startOperatingDate": now,
            "relatedParty": parties,
        },
    )
    service = backend.create(
        "service",
        {
            "name": f"{offering.get('name', 'Product')} service",
            "state": "active",
            "serviceSpecification": {"id": f"ss-{offering['id']}", "name": offering.get("name")},
            "startDate": now,
            "isServiceEnabled": True,
            "hasStarted": True,
            "supportingResource": [_ref(backend, "resource", resource)],
            "relatedParty": parties,
        },
    )
    body: Record = {
        "name": offering.get("name"),
        "status": "active",
        "isCustomerVisible": True,
        "orderDate": order.get("orderDate"),
        "startDate": now,
        "productOffering": _ref(backend, "productOffering", offering),
        "productPrice": _prices(backend, offering),
        "realizingService": [_ref(backend, "service", service)],
        "realizingResource": [_ref(backend, "resource", resource)],
        "relatedParty": parties,
        "productOrderItem": [
            {
                "orderItemId": item["id"],
                "productOrderId": order["id"],
                "orderItemAction": "add",
                "productOrderHref": order["href"],
                "@referredType": "ProductOrderItem",
            }
        ],
    }
    if order.get("billingAccount"):
        body["billingAccount"] = order["billingAccount"]
    if item.get("product", {}).get("productCharacteristic"):
        body["productCharacteristic"] = item["product"]["productCharacteristic"]
    return backend.create("product", body)


def _terminate(backend: Backend, product_id: str) -> Record:
    now = now_iso()
    product = backend.require("product", product_id)
    for ref in product.get("realizingService", []):
        service = backend.get("service", ref["id"])
        if service is None:
            continue
        for res in service.get("supportingResource", []):
            if backend.get("resource", res["id"]) is not None:
                backend.update(
                    "resource",
                    res["id"],
                    {
                        "resourceStatus": "standby",
                        "operationalState": "disable",
                        "administrativeState": "locked",
                        "usageState": "idle",
                        "endOperatingDate": now,
                    },
                )
        backend.update("service", service["id"], {"state": "terminated", "endDate": now})
    return backend.update("product", product_id, {"status": "terminated", "terminationDate": now})


class ServiceOrderRules(Rules):
    def prepare_create(self, backend: Backend, record: Record) -> Record:
        record["state"] = "acknowledged"
        record["orderDate"] = now_iso()
        return record


# -- registration ----------------------------------------------------------------------------


class IndividualRules(Rules):
    def prepare_create(self, backend: Backend, record: Record) -> Record:
        record.setdefault("status", "initialized")
        if "fullName" not in record:
            record["fullName"] = f"{record['givenName']} {record['familyName']}"
        return record


class CustomerRules(Rules):
    def prepare_create(self, backend: Backend, record: Record) -> Record:
        record.setdefault("status", "approved")
        record.setdefault("account", [])
        return record

    def validate_create(self, backend: Backend, record: Record) -> None:
        party = record.get("engagedParty")
        if not isinstance(party, dict) or party.get("@referredType") != "Individual":
            raise TmfError(422, "Invalid engaged party", "engagedParty must be an Individual ref")
        existing = backend.dataset.find(
            backend.spec("customer"), _by("engagedParty.id", party["id"])
        )
        if existing:
            raise TmfError(
                422,
                "Already a customer",
                f"individual {party['id']} is customer {existing[0]['id']}",
            )


class BillingAccountRules(Rules):
    def prepare_create(self, backend: Backend, record: Record) -> Record:
        now = now_iso()
        record.setdefault("state", "active")
        record.setdefault("accountType", "postpaid")
        record.setdefault("paymentStatus", "paid")
        record["lastModified"] = now
        record.setdefault(
            "accountBalance",
            [
                {
                    "balanceType": OUTSTANDING,
                    "amount": {"unit": "EUR", "value": 0.0},
                    "validFor": {"startDateTime": now},
                }
            ],
        )
        return record

    def validate_create(self, backend: Backend, record: Record) -> None:
        if _customer_of(record) is None:
            raise TmfError(
                422, "Invalid related party", "a billing account needs a relatedParty Customer"
            )

    def after_create(self, backend: Backend, record: Record) -> None:
        customer_id = _customer_of(record)
        assert customer_id is not None
        customer = backend.require("customer", customer_id)
        ref = _ref(backend, "billingAccount", record)
        backend.update("customer", customer_id, {"account": [*customer.get("account", []), ref]})


def _by(path: str, value: str, sort: str | None = None) -> ListQuery:
    """An internal, unpaged query: records whose ``path`` equals ``value``."""
    flt = Filter(tuple(path.split(".")), "eq", frozenset((value,)))
    order = (((sort,), False),) if sort else ()
    return ListQuery(fields=None, filters=(flt,), sort=order, offset=0, limit=1_000_000)


def business_rules(order_step_seconds: float) -> dict[str, Rules]:
    """The rules per collection, built per app (the order pace is a setting)."""
    return {
        "payment": PaymentRules(),
        "troubleTicket": TroubleTicketRules(),
        "productOrder": ProductOrderRules(order_step_seconds),
        "serviceOrder": ServiceOrderRules(),
        "individual": IndividualRules(),
        "customer": CustomerRules(),
        "billingAccount": BillingAccountRules(),
    }
