"""Customers and people through the gateway's HTTP API, against the sandbox."""

from __future__ import annotations

import aiohttp

from graph.sandbox import RunningSandbox
from tests.gateway.conftest import GQL
from tests.support.tmf_client import call, url_of

ME = """
query Me {
  me {
    id reference name status
    person { givenName familyName fullName birthDate
             contactMedia { kind preferred email phoneNumber
                            address { street1 postCode city country } } }
  }
}
"""


async def test_me_is_the_signed_in_customer_as_the_crm_holds_it(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    result = await gql(ME, principal="customer:cus-000003")
    assert "errors" not in result, result
    me = result["data"]["me"]
    customer = (await call(http, "GET", url_of(sandbox.url, "customer", "cus-000003"))).body
    person = (await call(http, "GET", customer["engagedParty"]["href"])).body
    assert me["reference"] == "cus-000003"
    assert me["name"] == customer["name"]
    assert me["person"]["familyName"] == person["familyName"]
    assert me["person"]["birthDate"] == person["birthDate"][:10]
    emails = [m["email"] for m in me["person"]["contactMedia"] if m["kind"] == "EMAIL"]
    assert emails == [
        c["characteristic"]["emailAddress"]
        for c in person["contactMedium"]
        if c["mediumType"] == "email"
    ]


async def test_me_needs_a_customer_principal(gql: GQL) -> None:
    anonymous = await gql(ME)
    assert anonymous["data"] is None
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    agent = await gql(ME, principal="agent:a1")
    assert agent["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_agents_find_customers_by_email_phone_and_name(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    person = (await call(http, "GET", url_of(sandbox.url, "individual", "ind-000005"))).body
    email = next(
        c["characteristic"]["emailAddress"]
        for c in person["contactMedium"]
        if c["mediumType"] == "email"
    )
    phone = next(
        c["characteristic"]["phoneNumber"]
        for c in person["contactMedium"]
        if c["mediumType"] == "phone"
    )
    query = """query($s: String) {
      customers(search: $s, first: 10) { totalCount edges { node { reference } } } }"""
    for search in (email, phone, "cus-000005"):
        result = await gql(query, {"s": search}, principal="agent:a1")
        assert "errors" not in result, result
        refs = [e["node"]["reference"] for e in result["data"]["customers"]["edges"]]
        assert refs == ["cus-000005"], search
    by_name = await gql(query, {"s": person["familyName"]}, principal="agent:a1")
    refs = [e["node"]["reference"] for e in by_name["data"]["customers"]["edges"]]
    assert "cus-000005" in refs
    customer_try = await gql(query, {"s": email}, principal="customer:cus-000001")
    assert customer_try["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_customers_pages_with_cursors(gql: GQL) -> None:
    query = """query($after: String) { customers(first: 7, after: $after) {
      totalCount pageInfo { hasNextPage endCursor } edges { node { reference } } } }"""
    seen: list[str] = []
    after = None
    while True:
        page = (await gql(query, {"after": after}, principal="analyst:x"))["data"]["customers"]
        assert page["totalCount"] == 20
        seen += [e["node"]["reference"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [f"cus-{i:06d}" for i in range(1, 21)]
    too_many = await gql("{ customers(first: 1000) { totalCount } }", principal="analyst:x")
    assert too_many["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_unknown_ids_are_not_found(gql: GQL) -> None:
    result = await gql('{ customer(id: "cus-999999") { name } }', principal="agent:a1")
    assert result["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    node = await gql('{ node(id: "Q3VzdG9tZXI6Y3VzLTk5OTk5OQ") { id } }', principal="agent:a1")
    assert node["data"]["node"] is None
    bad = await gql('{ node(id: "%%%") { id } }', principal="agent:a1")
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_node_round_trips_a_customer(gql: GQL) -> None:
    first = await gql('{ customer(id: "cus-000002") { id name } }', principal="agent:a1")
    global_id = first["data"]["customer"]["id"]
    again = await gql(
        "query($id: ID!) { node(id: $id) { id ... on Customer { name } } }",
        {"id": global_id},
        principal="agent:a1",
    )
    assert again["data"]["node"] == first["data"]["customer"]


async def test_customer_takes_a_global_id_or_a_crm_reference(gql: GQL) -> None:
    by_reference = await gql(
        '{ customer(id: "cus-000002") { id reference } }', principal="agent:a1"
    )
    global_id = by_reference["data"]["customer"]["id"]
    by_global = await gql(
        "query($id: ID!) { customer(id: $id) { id reference } }",
        {"id": global_id},
        principal="agent:a1",
    )
    assert by_global["data"] == by_reference["data"]
