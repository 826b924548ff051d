"""Business behaviour over HTTP: payments settle bills, orders fulfil, tickets move, and
registration stays consistent."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import aiohttp

from graph.sandbox import RunningSandbox
from tests.support.tmf_client import call, url_of

MERGE = "application/merge-patch+json"
Record = dict[str, Any]


def cents(money: Record) -> int:
    return int(Decimal(str(money["value"])) * 100)


async def get(http: aiohttp.ClientSession, url: str, **params: str) -> Any:
    reply = await call(http, "GET", url, params=params or None)
    assert reply.status in (200, 206), reply.body
    return reply.body


async def open_bill(http: aiohttp.ClientSession, sandbox: RunningSandbox) -> tuple[Record, Record]:
    """A bill with something left to pay, and its account."""
    for index in range(1, 21):
        customer = f"cus-{index:06d}"
        for account in await get(
            http, url_of(sandbox.url, "billingAccount"), **{"relatedParty.id": customer}
        ):
            bills = await get(
                http, url_of(sandbox.url, "customerBill"), **{"billingAccount.id": account["id"]}
            )
            for bill in bills:
                if cents(bill["remainingAmount"]) > 200:
                    return bill, account
    raise AssertionError("no open bill in the seeded data")


async def method_of(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, account: Record
) -> Record:
    customer = next(p["id"] for p in account["relatedParty"] if p["@referredType"] == "Customer")
    methods = await get(http, url_of(sandbox.url, "paymentMethod"), **{"relatedParty.id": customer})
    assert methods
    method: Record = methods[0]
    return method


def outstanding(account: Record) -> int:
    return sum(
        cents(b["amount"]) for b in account["accountBalance"] if b["balanceType"] == "outstanding"
    )


async def pay(
    http: aiohttp.ClientSession,
    sandbox: RunningSandbox,
    account: Record,
    items: list[tuple[Record, int]],
    total: int | None = None,
) -> Any:
    method = await method_of(http, sandbox, account)
    unit = items[0][0]["remainingAmount"]["unit"] if items else "EUR"
    body: Record = {
        "account": {
            "id": account["id"],
            "href": account["href"],
            "@referredType": "BillingAccount",
        },
        "paymentMethod": {
            "id": method["id"],
            "href": method["href"],
            "@referredType": "PaymentMethod",
        },
        "totalAmount": {
            "unit": unit,
            "value": (total if total is not None else sum(a for _, a in items)) / 100,
        },
        "channel": {"id": "web", "name": "web"},
    }
    if items:
        body["paymentItem"] = [
            {
                "amount": {"unit": unit, "value": amount / 100},
                "item": {"id": bill["id"], "href": bill["href"], "@referredType": "CustomerBill"},
            }
            for bill, amount in items
        ]
    return await call(http, "POST", url_of(sandbox.url, "payment"), json=body)


async def test_a_partial_then_full_payment_settles_the_bill_and_the_balance_follows(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    bill, account = await open_bill(http, sandbox)
    due = cents(bill["remainingAmount"])
    balance = outstanding(account)
    first = await pay(http, sandbox, account, [(bill, 100)])
    assert first.status == 201, first.body
    assert first.body["status"] == "done"
    bill_now = await get(http, bill["href"])
    assert cents(bill_now["remainingAmount"]) == due - 100
    assert bill_now["state"] == "partiallyPaid"
    assert bill_now["appliedPayment"][-1]["payment"]["id"] == first.body["id"]
    assert outstanding(await get(http, account["href"])) == balance - 100
    rest = await pay(http, sandbox, account, [(bill_now, due - 100)])
    assert rest.status == 201, rest.body
    settled = await get(http, bill["href"])
    assert settled["state"] == "settled"
    assert cents(settled["remainingAmount"]) == 0
    assert outstanding(await get(http, account["href"])) == balance - due
    by_bill = await get(http, url_of(sandbox.url, "payment"), **{"paymentItem.item.id": bill["id"]})
    assert {first.body["id"], rest.body["id"]} <= {p["id"] for p in by_bill}


async def test_overpaying_a_bill_is_refused_and_changes_nothing(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    bill, account = await open_bill(http, sandbox)
    due = cents(bill["remainingAmount"])
    reply = await pay(http, sandbox, account, [(bill, due + 1)])
    assert reply.status == 422
    assert reply.body["reason"] == "Amount exceeds balance"
    assert await get(http, bill["href"]) == bill
    assert await get(http, account["href"]) == account


async def test_bad_payments_are_refused(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    bill, account = await open_bill(http, sandbox)
    assert (await pay(http, sandbox, account, [(bill, 100)], total=150)).status == 422
    assert (await pay(http, sandbox, account, [(bill, -5)], total=-5)).status == 422
    assert (await pay(http, sandbox, account, [(bill, 0)], total=0)).status == 422
    other = next(
        a
        for a in await get(http, url_of(sandbox.url, "billingAccount"), limit="100")
        if a["id"] != account["id"]
    )
    wrong_account = await pay(http, sandbox, other, [(bill, 100)])
    assert wrong_account.status == 422
    ghost = {
        **bill,
        "id": "cb-000001-9-99",
        "href": url_of(sandbox.url, "customerBill", "cb-000001-9-99"),
    }
    assert (await pay(http, sandbox, account, [(ghost, 100)])).status == 422
    assert await get(http, bill["href"]) == bill


async def test_a_payment_on_account_settles_the_oldest_open_bills_first(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    _, account = await open_bill(http, sandbox)
    bills = await get(
        http,
        url_of(sandbox.url, "customerBill"),
        **{"billingAccount.id": account["id"], "sort": "billDate"},
    )
    open_bills = [b for b in bills if cents(b["remainingAmount"]) > 0]
    total = outstanding(account)
    assert total == sum(cents(b["remainingAmount"]) for b in open_bills)
    reply = await pay(http, sandbox, account, [], total=total)
    assert reply.status == 201, reply.body
    assert [i["item"]["id"] for i in reply.body["paymentItem"]] == [b["id"] for b in open_bills]
    for bill in open_bills:
        assert (await get(http, bill["href"]))["state"] == "settled"
    assert outstanding(await get(http, account["href"])) == 0
    assert (await pay(http, sandbox, account, [], total=100)).status == 422


async def wait_state(
    http: aiohttp.ClientSession, href: str, states: set[str], within: float = 3
) -> Record:
    async with asyncio.timeout(within):
        while True:
            order: Record = await get(http, href)
            if order["state"] in states:
                return order
            await asyncio.sleep(0.02)


async def customer_context(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, index: int = 1
) -> tuple[Record, Record]:
    customer = await get(http, url_of(sandbox.url, "customer", f"cus-{index:06d}"))
    account = (
        await get(
            http, url_of(sandbox.url, "billingAccount"), **{"relatedParty.id": customer["id"]}
        )
    )[0]
    return customer, account


def order_body(customer: Record, account: Record, items: list[Record]) -> Record:
    return {
        "relatedParty": [{"id": customer["id"], "@referredType": "Customer", "role": "customer"}],
        "billingAccount": {
            "id": account["id"],
            "href": account["href"],
            "@referredType": "BillingAccount",
        },
        "channel": [{"id": "app", "name": "app"}],
        "productOrderItem": items,
    }


async def sellable_offering(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, sellable: bool = True
) -> Record:
    offerings = await get(http, url_of(sandbox.url, "productOffering"), limit="100")
    for offering in offerings:
        retired = offering.get("lifecycleStatus", "").lower() == "retired" or not offering.get(
            "isSellable", True
        )
        if retired != sellable:
            found: Record = offering
            return found
    raise AssertionError("catalogue lacks the offering kind the test needs")


async def test_an_order_moves_through_its_states_and_provisions_inventory(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    customer, account = await customer_context(http, sandbox)
    offering = await sellable_offering(http, sandbox)
    items = [
        {
            "id": "1",
            "action": "add",
            "productOffering": {"id": offering["id"], "href": offering["href"]},
        }
    ]
    created = await call(
        http, "POST", url_of(sandbox.url, "productOrder"), json=order_body(customer, account, items)
    )
    assert created.status == 201, created.body
    assert created.body["state"] == "acknowledged"
    seen = {created.body["state"]}
    order = created.body
    async with asyncio.timeout(3):
        while order["state"] != "completed":
            order = await get(http, created.body["href"])
            seen.add(order["state"])
            await asyncio.sleep(0.01)
    assert seen == {"acknowledged", "inProgress", "completed"}
    assert order["completionDate"]
    product_ref = order["productOrderItem"][0]["product"]
    product = await get(http, product_ref["href"])
    assert product["status"] == "active"
    assert product["productOffering"]["id"] == offering["id"]
    assert customer["id"] in [p["id"] for p in product["relatedParty"]]
    service = await get(http, product["realizingService"][0]["href"])
    assert service["state"] == "active"
    resource = await get(http, service["supportingResource"][0]["href"])
    assert resource["resourceStatus"] == "available"
    assert resource["usageState"] == "active"
    owned = await get(http, url_of(sandbox.url, "product"), **{"relatedParty.id": customer["id"]})
    assert product["id"] in [p["id"] for p in owned]


async def test_terminating_a_product_terminates_its_services_and_idles_resources(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    customer, account = await customer_context(http, sandbox, 2)
    products = await get(
        http,
        url_of(sandbox.url, "product"),
        **{"relatedParty.id": customer["id"], "status": "active"},
    )
    product = products[0]
    items = [
        {"id": "1", "action": "delete", "product": {"id": product["id"], "href": product["href"]}}
    ]
    created = await call(
        http, "POST", url_of(sandbox.url, "productOrder"), json=order_body(customer, account, items)
    )
    assert created.status == 201, created.body
    await wait_state(http, created.body["href"], {"completed"})
    product = await get(http, product["href"])
    assert product["status"] == "terminated"
    for ref in product["realizingService"]:
        service = await get(http, ref["href"])
        assert service["state"] == "terminated"
        for res in service.get("supportingResource", []):
            assert (await get(http, res["href"]))["usageState"] == "idle"


async def test_an_unsellable_offering_fails_the_order_and_provisions_nothing(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    customer, account = await customer_context(http, sandbox, 3)
    before = await get(http, url_of(sandbox.url, "product"), **{"relatedParty.id": customer["id"]})
    offering = await sellable_offering(http, sandbox, sellable=False)
    items = [{"id": "1", "action": "add", "productOffering": {"id": offering["id"]}}]
    created = await call(
        http, "POST", url_of(sandbox.url, "productOrder"), json=order_body(customer, account, items)
    )
    order = await wait_state(http, created.body["href"], {"failed", "completed"})
    assert order["state"] == "failed"
    after = await get(http, url_of(sandbox.url, "product"), **{"relatedParty.id": customer["id"]})
    assert after == before


async def test_orders_can_be_cancelled_while_open_only(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    customer, account = await customer_context(http, sandbox, 4)
    offering = await sellable_offering(http, sandbox)
    items = [{"id": "1", "action": "add", "productOffering": {"id": offering["id"]}}]
    created = await call(
        http, "POST", url_of(sandbox.url, "productOrder"), json=order_body(customer, account, items)
    )
    cancel = await call(
        http, "PATCH", created.body["href"], json={"state": "cancelled"}, content_type=MERGE
    )
    assert cancel.status == 200, cancel.body
    await asyncio.sleep(0.2)
    assert (await get(http, created.body["href"]))["state"] == "cancelled"
    again = await call(
        http, "PATCH", created.body["href"], json={"state": "inProgress"}, content_type=MERGE
    )
    assert again.status == 422


async def test_orders_with_bad_items_are_refused(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    customer, account = await customer_context(http, sandbox, 5)
    other_customer, _ = await customer_context(http, sandbox, 6)
    foreign = (
        await get(http, url_of(sandbox.url, "product"), **{"relatedParty.id": other_customer["id"]})
    )[0]
    bad_items: list[list[Record]] = [
        [{"id": "1", "action": "add", "productOffering": {"id": "off-unknown"}}],
        [{"id": "1", "action": "explode", "productOffering": {"id": "off-unknown"}}],
        [{"id": "1", "action": "delete", "product": {"id": foreign["id"]}}],
        [{"id": "1", "action": "add"}],
    ]
    for items in bad_items:
        reply = await call(
            http,
            "POST",
            url_of(sandbox.url, "productOrder"),
            json=order_body(customer, account, items),
        )
        assert reply.status in (400, 422), (items, reply.body)
    assert (
        await call(
            http,
            "POST",
            url_of(sandbox.url, "productOrder"),
            json=order_body(customer, account, []),
        )
    ).status == 422


async def test_trouble_tickets_follow_their_life_cycle_with_history(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    customer, _ = await customer_context(http, sandbox, 7)
    product = (
        await get(http, url_of(sandbox.url, "product"), **{"relatedParty.id": customer["id"]})
    )[0]
    body = {
        "description": "Line is dead",
        "severity": "critical",
        "ticketType": "incident",
        "relatedParty": [{"id": customer["id"], "@referredType": "Customer", "role": "customer"}],
        "relatedEntity": [
            {
                "id": product["id"],
                "href": product["href"],
                "@referredType": "Product",
                "role": "affected",
            }
        ],
        "note": [{"text": "Started after the storm"}],
    }
    created = await call(http, "POST", url_of(sandbox.url, "troubleTicket"), json=body)
    assert created.status == 201, created.body
    ticket = created.body
    assert ticket["status"] == "acknowledged"
    assert [c["status"] for c in ticket["statusChange"]] == ["acknowledged"]
    assert ticket["note"][0]["date"]
    for status in ("inProgress", "resolved", "inProgress", "resolved", "closed"):
        reply = await call(
            http, "PATCH", ticket["href"], json={"status": status}, content_type=MERGE
        )
        assert reply.status == 200, reply.body
        ticket = reply.body
    assert [c["status"] for c in ticket["statusChange"]] == [
        "acknowledged",
        "inProgress",
        "resolved",
        "inProgress",
        "resolved",
        "closed",
    ]
    assert ticket["resolutionDate"]
    closed = await call(
        http, "PATCH", ticket["href"], json={"description": "more"}, content_type=MERGE
    )
    assert closed.status == 422
    by_entity = await get(
        http, url_of(sandbox.url, "troubleTicket"), **{"relatedEntity.id": product["id"]}
    )
    assert ticket["id"] in [t["id"] for t in by_entity]


async def test_invalid_ticket_transitions_and_references_are_refused(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    customer, _ = await customer_context(http, sandbox, 8)
    body = {
        "description": "Slow",
        "severity": "minor",
        "ticketType": "incident",
        "relatedParty": [{"id": customer["id"], "@referredType": "Customer", "role": "customer"}],
    }
    ticket = (await call(http, "POST", url_of(sandbox.url, "troubleTicket"), json=body)).body
    jump = await call(http, "PATCH", ticket["href"], json={"status": "closed"}, content_type=MERGE)
    assert jump.status == 422
    ghost = {
        **body,
        "relatedEntity": [{"id": "prd-000008-99", "@referredType": "Product", "role": "x"}],
    }
    assert (
        await call(http, "POST", url_of(sandbox.url, "troubleTicket"), json=ghost)
    ).status == 422
    started = {**body, "status": "resolved"}
    assert (
        await call(http, "POST", url_of(sandbox.url, "troubleTicket"), json=started)
    ).status == 422


async def test_registration_is_consistent(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    individual = (
        await call(
            http,
            "POST",
            url_of(sandbox.url, "individual"),
            json={
                "givenName": "Grace",
                "familyName": "Hopper",
                "contactMedium": [
                    {"mediumType": "email", "characteristic": {"emailAddress": "grace@example.org"}}
                ],
            },
        )
    ).body
    engaged = {
        "id": individual["id"],
        "href": individual["href"],
        "@referredType": "Individual",
        "name": "Grace Hopper",
    }
    customer = await call(
        http,
        "POST",
        url_of(sandbox.url, "customer"),
        json={"name": "Grace Hopper", "engagedParty": engaged},
    )
    assert customer.status == 201, customer.body
    twice = await call(
        http,
        "POST",
        url_of(sandbox.url, "customer"),
        json={"name": "Grace Hopper", "engagedParty": engaged},
    )
    assert twice.status == 422
    account = await call(
        http,
        "POST",
        url_of(sandbox.url, "billingAccount"),
        json={
            "name": "Grace Hopper - main",
            "relatedParty": [
                {
                    "id": customer.body["id"],
                    "href": customer.body["href"],
                    "@referredType": "Customer",
                    "name": "Grace Hopper",
                    "role": "owner",
                }
            ],
        },
    )
    assert account.status == 201, account.body
    assert outstanding(account.body) == 0
    refreshed = await get(http, customer.body["href"])
    assert [a["id"] for a in refreshed["account"]] == [account.body["id"]]
    ghost = {**engaged, "id": "ind-n0000"}
    assert (
        await call(
            http, "POST", url_of(sandbox.url, "customer"), json={"name": "X", "engagedParty": ghost}
        )
    ).status == 422
    orphan = await call(
        http,
        "POST",
        url_of(sandbox.url, "billingAccount"),
        json={
            "name": "Nobody's",
            "relatedParty": [{"id": "cus-n0000", "@referredType": "Customer", "name": "?"}],
        },
    )
    assert orphan.status == 422
