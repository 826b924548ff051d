"""The customer-360 view: one query joins CRM, billing, assurance, fulfillment and inventory,
returns exactly what the backends hold, and costs a number of backend requests that depends on
the resource kinds in the query, not on how many customers it covers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp

from graph.sandbox import RunningSandbox
from tests.gateway.conftest import GQL, RunningGateway
from tests.support.tmf_client import call, url_of

VIEW = """
  reference name status
  person { fullName contactMedia { kind email phoneNumber } }
  billingAccounts {
    reference name outstanding { amount currency }
    bills(first: 3) {
      totalCount
      edges { node {
        reference billNo billDate state amountDue { amount currency } remainingAmount { amount }
        lines { name taxIncludedAmount { amount } }
        appliedPayments { payment { reference } }
      } }
    }
    payments(first: 5) { edges { node { reference status totalAmount { amount } } } }
  }
  paymentMethods { reference kind card { brand lastFourDigits } }
  products(first: 20) { edges { node {
    reference name status offering { name }
    services { reference state health supportingResources { reference resourceStatus } }
  } } }
  troubleTickets(open: true, first: 20) { edges { node { reference status description } } }
  productOrders(first: 10) { edges { node { reference state items { action itemId } } } }
"""

ME = "query Customer360 { me {" + VIEW + "} }"
LIST = "query Customers360($n: Int!) { customers(first: $n) { edges { node {" + VIEW + "} } } }"


async def tmf(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, name: str, **params: str
) -> Any:
    reply = await call(http, "GET", url_of(sandbox.url, name), params={"limit": "1000", **params})
    assert reply.status == 200, reply.body
    return reply.body


def amount(money: dict[str, Any]) -> Decimal:
    return Decimal(str(money["value"])).quantize(Decimal("0.01"))


async def test_customer_360_returns_exactly_what_the_backends_hold(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    cid = "cus-000004"
    result = await gql(ME, principal=f"customer:{cid}")
    assert "errors" not in result, result["errors"]
    me = result["data"]["me"]

    accounts = await tmf(http, sandbox, "billingAccount", **{"relatedParty.id": cid})
    assert [a["reference"] for a in me["billingAccounts"]] == [a["id"] for a in accounts]
    for account, got in zip(accounts, me["billingAccounts"], strict=True):
        bills = await tmf(http, sandbox, "customerBill", **{"billingAccount.id": account["id"]})
        bills.sort(key=lambda b: b["billDate"], reverse=True)
        assert got["bills"]["totalCount"] == len(bills)
        latest = [e["node"] for e in got["bills"]["edges"]]
        assert [b["reference"] for b in latest] == [b["id"] for b in bills[:3]]
        for bill, shown in zip(bills[:3], latest, strict=True):
            assert Decimal(shown["amountDue"]["amount"]) == amount(bill["amountDue"])
            assert shown["amountDue"]["currency"] == bill["amountDue"]["unit"]
            assert shown["state"].replace("_", "") == bill["state"].upper()
            rates = await tmf(
                http, sandbox, "appliedCustomerBillingRate", **{"bill.id": bill["id"]}
            )
            assert sorted(line["name"] for line in shown["lines"]) == sorted(
                r["name"] for r in rates
            )
            assert sum(Decimal(line["taxIncludedAmount"]["amount"]) for line in shown["lines"]) == (
                amount(bill["taxIncludedAmount"])
            )
        outstanding = next(
            b for b in account["accountBalance"] if b["balanceType"] == "outstanding"
        )
        assert Decimal(got["outstanding"]["amount"]) == amount(outstanding["amount"])

    products = await tmf(http, sandbox, "product", **{"relatedParty.id": cid})
    shown_products = [e["node"] for e in me["products"]["edges"]]
    assert [p["reference"] for p in shown_products] == [p["id"] for p in products]
    for product, shown in zip(products, shown_products, strict=True):
        assert [s["reference"] for s in shown["services"]] == [
            s["id"] for s in product.get("realizingService", [])
        ]
        for service in shown["services"]:
            held = (
                await call(http, "GET", url_of(sandbox.url, "service", service["reference"]))
            ).body
            assert [r["reference"] for r in service["supportingResources"]] == [
                r["id"] for r in held.get("supportingResource", [])
            ]

    tickets = await tmf(http, sandbox, "troubleTicket", **{"relatedParty.id": cid})
    open_ids = {
        t["id"]
        for t in tickets
        if t["status"] not in ("resolved", "closed", "cancelled", "rejected")
    }
    assert {e["node"]["reference"] for e in me["troubleTickets"]["edges"]} == open_ids

    orders = await tmf(http, sandbox, "productOrder", **{"relatedParty.id": cid})
    assert {e["node"]["reference"] for e in me["productOrders"]["edges"]} == {
        o["id"] for o in orders
    }


async def backend_requests_for(
    gql: GQL, gateway: RunningGateway, query: str, **variables: Any
) -> int:
    """The reads a query makes (an agent's access records, POSTed to TMF683 in the
    background, may land in the middle of the next measurement: not counted)."""
    before = gateway.backend_requests("GET")
    result = await gql(query, variables, principal="agent:a1")
    assert "errors" not in result, result["errors"]
    return gateway.backend_requests("GET") - before


async def test_backend_requests_do_not_grow_with_the_number_of_customers(
    gql: GQL, gateway: RunningGateway
) -> None:
    one = await backend_requests_for(gql, gateway, LIST, n=1)
    twenty = await backend_requests_for(gql, gateway, LIST, n=20)
    assert one == twenty == 14, (one, twenty)
    # One request per resource kind and query level: customers, individuals, billing accounts,
    # bills, bill lines, payments (applied payments come from the primed by-id cache),
    # payment methods, products, offerings, services, service problems (health), resources,
    # trouble tickets, product orders.
