"""Analysts read across customers with personal data masked, as each field declares."""

from __future__ import annotations

import aiohttp
import orjson

from graph.sandbox import RunningSandbox
from tests.gateway.conftest import GQL
from tests.support.tmf_client import call, url_of

QUERY = """query($id: ID!) { customer(id: $id) {
  name
  person { givenName familyName fullName birthDate contactMedia { kind email } }
  paymentMethods { name card { lastFourDigits brand } bankAccount { accountNumber } }
  products(first: 5) { edges { node { name services { supportingResources { value } } } } }
} }"""


async def test_analysts_see_initials_and_no_contact_or_payment_details(gql: GQL) -> None:
    agent = (await gql(QUERY, {"id": "cus-000004"}, principal="agent:a1"))["data"]["customer"]
    analyst = (await gql(QUERY, {"id": "cus-000004"}, principal="analyst:x"))["data"]["customer"]
    person, masked = agent["person"], analyst["person"]
    assert person["contactMedia"]
    assert person["birthDate"]
    assert masked["contactMedia"] == []
    assert masked["birthDate"] is None
    for field in ("givenName", "familyName", "fullName"):
        words = person[field].split()
        assert masked[field] == " ".join(f"{w[0]}." for w in words), field
        assert masked[field] != person[field]
    assert analyst["name"] == " ".join(f"{w[0]}." for w in agent["name"].split())
    assert any(m["card"] or m["bankAccount"] for m in agent["paymentMethods"])
    assert all(m["card"] is None and m["bankAccount"] is None for m in analyst["paymentMethods"])
    values = [
        r["value"]
        for e in agent["products"]["edges"]
        for s in e["node"]["services"]
        for r in s["supportingResources"]
    ]
    masked_values = [
        r["value"]
        for e in analyst["products"]["edges"]
        for s in e["node"]["services"]
        for r in s["supportingResources"]
    ]
    assert any(values)
    assert not any(masked_values)
    # not personal: product names stay as they are
    assert [e["node"]["name"] for e in analyst["products"]["edges"]] == [
        e["node"]["name"] for e in agent["products"]["edges"]
    ]


async def test_customers_see_their_own_data_unmasked(gql: GQL) -> None:
    query = "{ me { name person { contactMedia { email } } } }"
    me = (await gql(query, principal="customer:cus-000004"))["data"]["me"]
    agent = (await gql(QUERY, {"id": "cus-000004"}, principal="agent:a1"))["data"]["customer"]
    assert me["name"] == agent["name"]
    assert len(me["person"]["contactMedia"]) == len(agent["person"]["contactMedia"])


FULL = """query($id: ID!) { customer(id: $id) {
  name status
  person { givenName familyName fullName title gender birthDate contactMedia { email phoneNumber } }
  billingAccounts { name outstanding { amount } }
  paymentMethods { name description kind card { lastFourDigits } bankAccount { accountNumber } }
  usage(first: 50) { edges { node { usageType description characteristics { name value } } } }
  products(first: 20) { edges { node { name productSerialNumber characteristics { name value }
    services { name characteristics { name value }
      supportingResources { name value serialNumber characteristics { name value } } } } } }
  troubleTickets(first: 20) { edges { node { name description notes { text author }
    relatedEntities { name } } } }
  productOrders(first: 20) { edges { node { notes { text author } } } }
  interactions(first: 20) { edges { node { description notes { text author } } } }
} }"""


PERSONAL_KEYS = frozenset({
    "givenName", "familyName", "fullName", "formattedName", "emailAddress", "phoneNumber",
    "street1", "lastFourDigits", "accountNumber", "token",
})  # fmt: skip


def personal_strings(node: object) -> set[str]:
    """Values in a customer's backend records that identify a person."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key in PERSONAL_KEYS and isinstance(value, str) and len(value) >= 4:
                found.add(value)
            found |= personal_strings(value)
    elif isinstance(node, list):
        for item in node:
            found |= personal_strings(item)
    elif isinstance(node, str) and node.startswith("+49") and len(node) > 8:
        found.add(node)  # MSISDNs wherever they sit
    return found


async def test_no_personal_value_reaches_an_analyst(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    customer = "cus-000004"
    held: list[object] = []
    for collection in ("individual",):
        held.append((await call(http, "GET", url_of(sandbox.url, collection, "ind-000004"))).body)
    for collection in ("paymentMethod", "usage", "product", "service", "resource", "troubleTicket",
                       "productOrder", "partyInteraction"):  # fmt: skip
        reply = await call(
            http, "GET", url_of(sandbox.url, collection), params={"relatedParty.id": customer}
        )
        held.append(reply.body)
    secrets = personal_strings(held)
    assert len(secrets) >= 5, secrets
    agent_view = orjson.dumps(await gql(FULL, {"id": customer}, principal="agent:a1")).decode()
    analyst = await gql(FULL, {"id": customer}, principal="analyst:x")
    assert "errors" not in analyst, analyst["errors"]
    analyst_view = orjson.dumps(analyst).decode()
    assert any(s in agent_view for s in secrets)  # the query does reach personal data
    leaked = sorted(s for s in secrets if s in analyst_view)
    assert not leaked, leaked


async def test_analysts_look_customers_up_by_crm_reference_only(gql: GQL) -> None:
    query = "query($s: String!) { customers(search: $s) { edges { node { reference } } } }"
    by_reference = await gql(query, {"s": "cus-000004"}, principal="analyst:x")
    assert [e["node"]["reference"] for e in by_reference["data"]["customers"]["edges"]] == [
        "cus-000004"
    ]
    agent_found = await gql(
        '{ customer(id: "cus-000004") { person { familyName } } }', principal="agent:a1"
    )
    family = agent_found["data"]["customer"]["person"]["familyName"]
    by_name = await gql(query, {"s": family}, principal="analyst:x")
    assert by_name["data"]["customers"]["edges"] == []
