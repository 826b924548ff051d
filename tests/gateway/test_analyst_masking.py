"""Analysts read across customers with personal data masked, as each field declares."""

from __future__ import annotations

from tests.gateway.conftest import GQL

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
