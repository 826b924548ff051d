"""Object-level authorization: customer A, through every path, never reaches customer B's data,
and B's objects look exactly like missing ones."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from graph.auth import Principal, Role
from graph.auth.scope import sources_for
from graph.loaders import Loaders
from graph.sandbox import RunningSandbox
from graph.schema.common import encode_global_id
from tests.gateway.conftest import GQL, RunningGateway
from tests.support.tmf_client import call, url_of

A, B = "cus-000004", "cus-000001"  # both have records of every kind (seed 7)

# GraphQL type -> (sandbox collection, the filter that finds a customer's records)
NODE_KINDS = {
    "BillingAccount": ("billingAccount", "relatedParty.id"),
    "Bill": ("customerBill", "relatedParty.id"),
    "PaymentMethod": ("paymentMethod", "relatedParty.id"),
    "Usage": ("usage", "relatedParty.id"),
    "Product": ("product", "relatedParty.id"),
    "Service": ("service", "relatedParty.id"),
    "Resource": ("resource", "relatedParty.id"),
    "TroubleTicket": ("troubleTicket", "relatedParty.id"),
    "ProductOrder": ("productOrder", "relatedParty.id"),
    "PartyInteraction": ("partyInteraction", "relatedParty.id"),
}


async def ids_of(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, customer: str
) -> dict[str, str]:
    """One global id per node type, all belonging to ``customer``."""
    found: dict[str, str] = {
        "Customer": encode_global_id("Customer", customer),
        "Person": encode_global_id("Person", customer.replace("cus-", "ind-")),
    }
    for type_name, (collection, path) in NODE_KINDS.items():
        reply = await call(http, "GET", url_of(sandbox.url, collection), params={path: customer})
        assert reply.body, f"{customer} has no {collection} to test with"
        found[type_name] = encode_global_id(type_name, reply.body[0]["id"])
    accounts = (
        await call(
            http, "GET", url_of(sandbox.url, "billingAccount"), params={"relatedParty.id": customer}
        )
    ).body
    account_ids = ",".join(a["id"] for a in accounts)
    payments = (
        await call(http, "GET", url_of(sandbox.url, "payment"), params={"account.id": account_ids})
    ).body
    assert payments
    found["Payment"] = encode_global_id("Payment", payments[0]["id"])
    services = (
        await call(
            http, "GET", url_of(sandbox.url, "service"), params={"relatedParty.id": customer}
        )
    ).body
    problem = await call(http, "POST", url_of(sandbox.url, "serviceProblem"), json={
        "category": "network", "priority": 2, "description": "test", "reason": "test",
        "originatorParty": {"id": "noc", "@referredType": "Organization", "name": "NOC"},
        "affectedService": [{"id": services[0]["id"], "@referredType": "Service"}],
        "status": "acknowledged",
    })  # fmt: skip
    assert problem.status == 201, problem.body
    found["ServiceProblem"] = encode_global_id("ServiceProblem", problem.body["id"])
    return found


NODE = "query($id: ID!) { node(id: $id) { id __typename } }"


async def test_node_gives_a_customer_their_own_objects_and_null_for_anyone_elses(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    mine, theirs = await ids_of(http, sandbox, A), await ids_of(http, sandbox, B)
    assert set(mine) == set(theirs)
    assert len(mine) == 14
    for type_name in mine:
        own = await gql(NODE, {"id": mine[type_name]}, principal=f"customer:{A}")
        assert "errors" not in own, (type_name, own)
        assert own["data"]["node"] == {"id": mine[type_name], "__typename": type_name}, type_name
        other = await gql(NODE, {"id": theirs[type_name]}, principal=f"customer:{A}")
        missing = await gql(
            NODE, {"id": encode_global_id(type_name, "x-000000-9")}, principal=f"customer:{A}"
        )
        assert other == missing == {"data": {"node": None}}, type_name
        staff = await gql(NODE, {"id": theirs[type_name]}, principal="agent:a1")
        assert staff["data"]["node"]["id"] == theirs[type_name], type_name


async def test_root_fields_for_other_customers_are_refused_to_customers(gql: GQL) -> None:
    for query in (
        f'{{ customer(id: "{B}") {{ name }} }}',
        '{ customers(search: "cus-000001") { totalCount } }',
        "{ customers { totalCount } }",
    ):
        result = await gql(query, principal=f"customer:{A}")
        assert result["data"] is None
        assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN", query


async def test_everything_under_me_is_the_customers_own(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    query = """{ me { reference
      billingAccounts { reference
        bills(first: 100) { edges { node { reference account { reference } } } } }
      products(first: 100) { edges { node { reference
        services { reference supportingResources { reference } } } } }
      troubleTickets(first: 100) { edges { node { reference } } }
      productOrders(first: 100) { edges { node { reference } } }
      usage(first: 100) { edges { node { reference } } }
      paymentMethods { reference }
      payments(first: 100) { edges { node { reference account { reference } } } }
    } }"""
    result = await gql(query, principal=f"customer:{A}")
    assert "errors" not in result, result
    me = result["data"]["me"]
    accounts = {a["reference"] for a in me["billingAccounts"]}
    held = (
        await call(
            http, "GET", url_of(sandbox.url, "billingAccount"), params={"relatedParty.id": A}
        )
    ).body
    assert accounts == {a["id"] for a in held}
    for account in me["billingAccounts"]:
        assert all(
            e["node"]["account"]["reference"] == account["reference"]
            for e in account["bills"]["edges"]
        )
    assert all(e["node"]["account"]["reference"] in accounts for e in me["payments"]["edges"])
    products = (
        await call(http, "GET", url_of(sandbox.url, "product"), params={"relatedParty.id": A})
    ).body
    assert {e["node"]["reference"] for e in me["products"]["edges"]} == {p["id"] for p in products}


async def test_anonymous_callers_reach_only_the_catalogue(gql: GQL) -> None:
    result = await gql(NODE, {"id": encode_global_id("Bill", "cb-000001-1-01")})
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    catalogue = await gql("{ productOfferings(first: 2) { edges { node { name } } } }")
    assert len(catalogue["data"]["productOfferings"]["edges"]) == 2


@pytest.mark.parametrize("role", [Role.CUSTOMER, Role.ANONYMOUS])
async def test_a_careless_resolver_reading_sources_directly_still_cannot_leak(
    gateway: RunningGateway, role: Role
) -> None:
    """The sources a request sees are already scoped: an unfiltered search returns only what
    the principal may read (and for anonymous callers, nothing, without a backend request)."""
    principal = Principal(subject=A, role=role, customer_id=A if role is Role.CUSTOMER else None)
    sources, scope = sources_for(principal, gateway.state.sources)
    if scope is not None:
        loaders = Loaders()  # the request holds its loaders; the scope only refers to them
        scope.bind(loaders)
    before = gateway.backend_requests()
    products: list[Any] = await sources.product.search({})
    bills = await sources.bill.by_ids(["cb-000001-1-01", "cb-000004-1-01"])
    lines = await sources.bill_rate.by_ref("bill.id", ["cb-000001-1-01", "cb-000004-1-01"])
    if role is Role.CUSTOMER:
        assert products
        assert {p["id"].split("-")[1] for p in products} == {"000004"}
        assert [b["id"] for b in bills] == ["cb-000004-1-01"]
        assert lines
        assert {line["bill"]["id"] for line in lines} == {"cb-000004-1-01"}
    else:
        assert products == bills == lines == []
        assert gateway.backend_requests() == before
