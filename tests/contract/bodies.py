"""Realistic request bodies for the contract tests, built from the seeded data.

One small builder per collection (a table, not one test per collection): each builds a body of
the specification's ``<Definition>_Create`` model whose references name records the sandbox
really holds (the seeded customer with an open bill, its account, payment method, product,
service and resource, a sellable offering with its price and category). ``PATCHES`` holds a
small merge patch per patchable collection that changes no state (except for customerBill, whose
``_Update`` model offers nothing but ``state``); ``STATE_PATCHES`` one that moves a record
created from ``CREATE_BODIES`` to another state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

import aiohttp

from tests.support.tmf_client import call, url_of

__all__ = [
    "CREATE_BODIES",
    "MERGE",
    "PATCHES",
    "STATE_PATCHES",
    "Record",
    "Seeded",
    "load_seeded",
    "ref",
]

Record = dict[str, Any]
MERGE: Final = "application/merge-patch+json"
NOW: Final = "2026-11-26T09:30:00Z"  # the conftest's sandbox "today"


def ref(record: Record, referred_type: str, **extra: Any) -> Record:
    """A TMF reference to ``record``: id, href, name (when it has one) and @referredType."""
    out: Record = {"id": record["id"], "href": record["href"]}
    if record.get("name"):
        out["name"] = record["name"]
    out.update(extra)
    out["@referredType"] = referred_type
    return out


@dataclass(frozen=True, slots=True)
class Seeded:
    """Records of one seeded customer (one who still owes money) and of the catalogue."""

    http: aiohttp.ClientSession
    base: str
    customer: Record
    account: Record
    bill: Record  # has something left to pay
    payment_method: Record
    product: Record
    service: Record
    resource: Record
    offering: Record  # sellable
    price: Record
    category: Record

    def party(self, role: str = "customer") -> Record:
        return ref(self.customer, "Customer", role=role)

    async def post(self, collection: str, body: Record) -> Record:
        reply = await call(self.http, "POST", url_of(self.base, collection), json=body)
        assert reply.status == 201, f"POST {collection}: {reply.status} {reply.body}"
        created: Record = reply.body
        return created


async def _list(http: aiohttp.ClientSession, base: str, collection: str, **params: str) -> Any:
    reply = await call(http, "GET", url_of(base, collection), params=params)
    assert reply.status in (200, 206), f"GET {collection} {params}: {reply.status} {reply.body}"
    return reply.body


async def _first(http: aiohttp.ClientSession, base: str, collection: str, **params: str) -> Record:
    found = await _list(http, base, collection, **params)
    assert found, f"the seeded data has no {collection} matching {params}"
    first: Record = found[0]
    return first


def _remaining_cents(bill: Record) -> int:
    return int(Decimal(str(bill["remainingAmount"]["value"])) * 100)


async def load_seeded(http: aiohttp.ClientSession, base: str) -> Seeded:
    """Find, through the API, the records the bodies refer to."""
    owing: tuple[Record, Record, Record] | None = None
    for customer in await _list(http, base, "customer", limit="20"):
        accounts = await _list(http, base, "billingAccount", **{"relatedParty.id": customer["id"]})
        for account in accounts:
            bills = await _list(
                http,
                base,
                "customerBill",
                **{"billingAccount.id": account["id"], "sort": "billDate"},
            )
            open_bills = [b for b in bills if _remaining_cents(b) > 0]
            if open_bills:
                owing = (customer, account, open_bills[0])
                break
        if owing:
            break
    assert owing is not None, "no seeded customer owes anything"
    customer, account, bill = owing
    mine = {"relatedParty.id": customer["id"]}
    offerings = await _list(http, base, "productOffering", lifecycleStatus="Active")
    offering = next(o for o in offerings if o.get("isSellable", True) and o.get("category"))
    price_id = offering["productOfferingPrice"][0]["id"]
    category_id = offering["category"][0]["id"]
    return Seeded(
        http=http,
        base=base,
        customer=customer,
        account=account,
        bill=bill,
        payment_method=(
            await _list(http, base, "paymentMethod", **{"account.id": account["id"]})
            or await _list(http, base, "paymentMethod", **mine)
        )[0],
        product=await _first(http, base, "product", **mine, status="active"),
        service=await _first(http, base, "service", **mine),
        resource=await _first(http, base, "resource", **mine),
        offering=offering,
        price=await _first(http, base, "productOfferingPrice", id=price_id),
        category=await _first(http, base, "category", id=category_id),
    )


# -- create bodies ---------------------------------------------------------------------------


async def _individual(s: Seeded) -> Record:
    return {
        "givenName": "Ada",
        "familyName": "Lovelace",
        "gender": "female",
        "birthDate": "1985-12-10T00:00:00Z",
        "nationality": "DE",
        "status": "initialized",
        "contactMedium": [
            {
                "mediumType": "email",
                "preferred": True,
                "characteristic": {"contactType": "email", "emailAddress": "ada@example.org"},
            }
        ],
    }


async def _customer(s: Seeded) -> Record:
    # One customer per individual: a customer registers a new individual first.
    person = await s.post("individual", await _individual(s))
    return {
        "name": person["fullName"],
        "status": "approved",
        "engagedParty": ref(person, "Individual"),
        "contactMedium": person["contactMedium"],
    }


async def _billing_account(s: Seeded) -> Record:
    return {
        "name": "Second line",
        "description": "Account for the second SIM card",
        "accountType": "postpaid",
        "state": "active",
        "creditLimit": {"unit": "EUR", "value": 300.0},
        "relatedParty": [s.party("owner")],
    }


async def _party_interaction(s: Seeded) -> Record:
    return {
        "description": "Asked why the last bill is higher",
        "reason": "Billing question",
        "direction": "inbound",
        "status": "inProgress",
        "interactionDate": {"startDateTime": NOW},
        "channel": [
            {
                "id": "web",
                "href": "urn:csm-graph:channel:web",
                "name": "Web self-service",
                "role": "contactChannel",
            }
        ],
        "interactionItem": [
            {"reason": "bill", "item": ref(s.bill, "CustomerBill", role="subject")}
        ],
        "relatedParty": [s.party()],
    }


async def _payment(s: Seeded) -> Record:
    due = s.bill["remainingAmount"]  # settles the bill
    return {
        "description": f"Payment for bill {s.bill.get('billNo', s.bill['id'])}",
        "account": ref(s.account, "BillingAccount"),
        "paymentMethod": ref(s.payment_method, "PaymentMethod"),
        "totalAmount": dict(due),
        "channel": {"id": "web", "name": "Web self-service"},
        "payer": s.party("payer"),
        "paymentItem": [{"amount": dict(due), "item": ref(s.bill, "CustomerBill")}],
    }


async def _payment_method(s: Seeded) -> Record:
    return {
        "@type": "tokenizedCard",
        "name": "Visa ending 4242",
        "description": "Visa card stored with our payment provider",
        "brand": "Visa",
        "cardType": "credit",
        "lastFourDigits": "4242",
        "tokenType": "paymentServiceProviderToken",
        "token": "tok_3f9a1c2b7d8e4f60a1b2c3d4",
        "expirationDate": "2029-08-31T23:59:59Z",
        "isPreferred": False,
        "status": "active",
        "validFor": {"startDateTime": NOW, "endDateTime": "2029-08-31T23:59:59Z"},
        "account": [ref(s.account, "BillingAccount")],
        "relatedParty": s.party("owner"),
    }


async def _usage(s: Seeded) -> Record:
    return {
        "description": "data usage",
        "usageDate": NOW,
        "usageType": "data",
        "status": "received",
        "usageSpecification": {
            "id": "usp-data",
            "name": "Data usage",
            "@referredType": "UsageSpecification",
        },
        "usageCharacteristic": [
            {"name": "volume", "valueType": "integer", "value": 52428800},
            {"name": "unit", "valueType": "string", "value": "byte"},
        ],
        "ratedProductUsage": [{"productRef": ref(s.product, "Product")}],
        "relatedParty": [s.party()],
    }


async def _trouble_ticket(s: Seeded) -> Record:
    return {
        "name": "No mobile data",
        "description": "Mobile data stopped working this morning",
        "severity": "Major",
        "priority": "Medium",
        "ticketType": "incident",
        "channel": {"id": "web", "name": "Web self-service"},
        "relatedParty": [s.party()],
        "relatedEntity": [ref(s.product, "Product", role="affectedProduct")],
        "note": [{"author": s.customer["name"], "text": "Restarting the phone did not help"}],
    }


async def _service_problem(s: Seeded) -> Record:
    return {
        "name": "Mobile data down",
        "description": "No data session can be established",
        "category": "connectivity",
        "priority": 2,
        "reason": "Customer report",
        "status": "acknowledged",
        "impactImportanceFactor": "medium",
        "originatingSystem": "Self-diagnostics",
        "originatorParty": s.party("originator"),
        "affectedService": [ref(s.service, "Service")],
        "affectedNumberOfServices": 1,
        "relatedParty": [s.party()],
    }


async def _product_offering(s: Seeded) -> Record:
    return {
        "name": "Mobile XL 50 GB",
        "description": "Mobile plan with 50 GB of data",
        "isBundle": False,
        "isSellable": True,
        "lifecycleStatus": "In design",
        "version": "1.0",
        "validFor": {"startDateTime": NOW},
        "category": [ref(s.category, "Category")],
        "productOfferingPrice": [ref(s.price, "ProductOfferingPrice")],
    }


async def _product_offering_price(s: Seeded) -> Record:
    return {
        "name": "Mobile XL 50 GB monthly fee",
        "description": "Mobile XL 50 GB monthly fee, VAT included: 34.99 EUR",
        "isBundle": False,
        "lifecycleStatus": "In design",
        "version": "1.0",
        "validFor": {"startDateTime": NOW},
        "priceType": "recurring",
        "recurringChargePeriodType": "month",
        "recurringChargePeriodLength": 1,
        "price": {"unit": "EUR", "value": 29.40},
        "tax": [{"taxCategory": "VAT", "taxRate": 0.19}],
    }


async def _category(s: Seeded) -> Record:
    return {
        "name": "Accessories",
        "description": "Phones, chargers and headsets",
        "isRoot": True,
        "lifecycleStatus": "In design",
        "version": "1.0",
        "validFor": {"startDateTime": NOW},
        "productOffering": [ref(s.offering, "ProductOffering")],
    }


async def _product_order(s: Seeded) -> Record:
    return {
        "description": f"New {s.offering['name']}",
        "category": "B2C product order",
        "priority": "4",
        "requestedStartDate": NOW,
        "channel": [{"id": "web", "name": "Web self-service", "role": "salesChannel"}],
        "relatedParty": [s.party()],
        "billingAccount": ref(s.account, "BillingAccount"),
        "productOrderItem": [
            {
                "id": "1",
                "action": "add",
                "quantity": 1,
                "productOffering": ref(s.offering, "ProductOffering"),
            }
        ],
    }


async def _product(s: Seeded) -> Record:
    return {
        "name": s.offering["name"],
        "description": f"{s.offering['name']} for {s.customer['name']}",
        "status": "created",
        "isBundle": False,
        "isCustomerVisible": True,
        "startDate": NOW,
        "productOffering": ref(s.offering, "ProductOffering"),
        "billingAccount": ref(s.account, "BillingAccount"),
        "relatedParty": [s.party()],
    }


async def _service_order(s: Seeded) -> Record:
    return {
        "description": "Activate mobile data",
        "category": "CFS",
        "priority": "4",
        "requestedStartDate": NOW,
        "relatedParty": [s.party()],
        "serviceOrderItem": [
            {
                "id": "1",
                "action": "modify",
                "service": {
                    "id": s.service["id"],
                    "href": s.service["href"],
                    "state": "active",
                    "@type": "Service",
                },
            }
        ],
    }


async def _service(s: Seeded) -> Record:
    return {
        "name": "Mobile voice & data",
        "category": "CFS",
        "serviceType": "mobile",
        "state": "inactive",
        "isServiceEnabled": False,
        "hasStarted": False,
        "serviceSpecification": {
            "id": "ssp-mobile-access",
            "name": "Mobile voice & data",
            "@referredType": "ServiceSpecification",
        },
        "supportingResource": [ref(s.resource, "Resource")],
        "relatedParty": [s.party()],
    }


async def _resource(s: Seeded) -> Record:
    return {
        "@type": "LogicalResource",
        "name": "+4915790001234",
        "value": "+4915790001234",
        "category": "MSISDN",
        "resourceStatus": "reserved",
        "administrativeState": "unlocked",
        "operationalState": "enable",
        "usageState": "idle",
        "resourceSpecification": {
            "id": "rsp-msisdn",
            "name": "MSISDN",
            "@referredType": "ResourceSpecification",
        },
        "relatedParty": [s.party("user")],
    }


Builder = Callable[[Seeded], Awaitable[Record]]

CREATE_BODIES: Final[dict[str, Builder]] = {
    "individual": _individual,
    "customer": _customer,
    "billingAccount": _billing_account,
    "partyInteraction": _party_interaction,
    "payment": _payment,
    "paymentMethod": _payment_method,
    "usage": _usage,
    "troubleTicket": _trouble_ticket,
    "serviceProblem": _service_problem,
    "productOffering": _product_offering,
    "productOfferingPrice": _product_offering_price,
    "category": _category,
    "productOrder": _product_order,
    "product": _product,
    "serviceOrder": _service_order,
    "service": _service,
    "resource": _resource,
}

# A small merge patch per patchable collection that leaves the state alone; CustomerBill_Update
# offers only ``state`` (a disputed bill is put on hold).
PATCHES: Final[dict[str, Record]] = {
    "individual": {"title": "Dr"},
    "customer": {"statusReason": "Identity checked at the shop"},
    "billingAccount": {"description": "Paper bill switched off"},
    "partyInteraction": {"description": "Explained the roaming charges"},
    "customerBill": {"state": "onHold"},
    "paymentMethod": {"description": "Preferred card for online payments"},
    "usage": {"description": "data usage (roaming)"},
    "troubleTicket": {"priority": "High"},
    "serviceProblem": {"impactImportanceFactor": "high"},
    "productOffering": {"description": "Mobile plan with 50 GB of data and EU roaming"},
    "productOfferingPrice": {"description": "Monthly fee, VAT included"},
    "category": {"description": "Everything around your phone"},
    "productOrder": {"description": "Please deliver to the shop"},
    "product": {"description": "Second SIM"},
    "serviceOrder": {"description": "Activate mobile data and roaming"},
    "service": {"description": "Mobile voice & data, roaming enabled"},
    "resource": {"description": "MSISDN of the second SIM"},
}

# A merge patch that moves a record created from CREATE_BODIES to its next state.
STATE_PATCHES: Final[dict[str, Record]] = {
    "individual": {"status": "validated"},
    "customer": {"status": "validated"},
    "billingAccount": {"state": "suspended"},
    "partyInteraction": {"status": "completed"},
    "paymentMethod": {"status": "inactive"},
    "usage": {"status": "rated"},
    "serviceProblem": {"status": "inProgress"},
    "productOffering": {"lifecycleStatus": "Active"},
    "productOfferingPrice": {"lifecycleStatus": "Active"},
    "category": {"lifecycleStatus": "Active"},
    "product": {"status": "active"},
    "serviceOrder": {"state": "inProgress"},
    "service": {"state": "active"},
    "resource": {"resourceStatus": "available"},
}
