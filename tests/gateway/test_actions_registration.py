"""registerCustomer end to end: a person, a customer and a billing account created together
(or not at all), a development sign-in that this gateway accepts, and the action recorded."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from typing import Any

import aiohttp
import orjson
import pytest

from graph.sandbox import RunningSandbox
from tests.gateway.conftest import GQL, RunningGateway, running_gateway, settings_for
from tests.support.tmf_client import call, url_of

REGISTER = """mutation($input: RegisterCustomerInput!) { registerCustomer(input: $input) {
  customer { id reference name status }
  person { givenName familyName fullName }
  billingAccount { reference name state }
  signIn { accessToken tokenType expiresAt }
  errors { code message field }
} }"""

ME = """{ me {
  reference name status
  person { givenName familyName birthDate
           contactMedia { kind email phoneNumber address { street1 postCode city country } } }
  billingAccounts { reference name state }
} }"""

WRITES = ("POST", "PATCH", "DELETE")


def new_person(email: str, **extra: Any) -> dict[str, Any]:
    return {
        "givenName": "Ada",
        "familyName": "Lovelace-Byron",
        "email": email,
        "phone": "+49 151 2345 6789",
        "postalAddress": {
            "street1": "Analytical Lane 1",
            "postCode": "10115",
            "city": "Berlin",
            "country": "de",
        },
        "birthDate": "1990-12-10",
        **extra,
    }


async def register(gql: GQL, person: dict[str, Any], principal: str | None = None) -> Any:
    result = await gql(REGISTER, {"input": person}, principal=principal)
    assert "errors" not in result, result
    return result["data"]["registerCustomer"]


async def as_token(
    http: aiohttp.ClientSession, gateway: RunningGateway, token: str, query: str
) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    body = orjson.dumps({"query": query})
    async with http.post(f"{gateway.url}/graphql", data=body, headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        result: dict[str, Any] = orjson.loads(await resp.read())
        return result


async def writes(http: aiohttp.ClientSession, sandbox: RunningSandbox) -> list[str]:
    """The writes the sandbox received since the last ``forget_requests``."""
    reply = await call(http, "GET", f"{sandbox.url}/admin/requests")
    return [
        f"{r['method']} {r['path']}"
        for entries in reply.body.values()
        for r in entries
        if r["method"] in WRITES
    ]


async def forget_requests(http: aiohttp.ClientSession, sandbox: RunningSandbox) -> None:
    await call(http, "DELETE", f"{sandbox.url}/admin/requests")


async def individuals_with(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, email: str
) -> list[dict[str, Any]]:
    reply = await call(
        http,
        "GET",
        url_of(sandbox.url, "individual"),
        params={"contactMedium.characteristic.emailAddress": email},
    )
    assert reply.status == 200, reply.body
    found: list[dict[str, Any]] = reply.body
    return found


async def set_fault(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, api: str, **fault: object
) -> None:
    reply = await call(http, "PUT", f"{sandbox.url}/admin/faults/{api}", json=fault)
    assert reply.status == 200, reply.body


async def interactions_of(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, gateway: RunningGateway, customer: str
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 5
    while gateway.state.audit.pending:
        assert time.monotonic() < deadline, "the action's interaction was not written"
        await asyncio.sleep(0.02)
    reply = await call(
        http, "GET", url_of(sandbox.url, "partyInteraction"), params={"relatedParty.id": customer}
    )
    found: list[dict[str, Any]] = reply.body
    return found


async def test_self_registration_creates_a_consistent_customer_who_can_sign_in(
    gql: GQL, gateway: RunningGateway, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    payload = await register(gql, new_person("Ada.Lovelace@Example.org"))
    assert payload["errors"] == []
    customer = payload["customer"]
    assert re.fullmatch(r"cus-n[0-9a-f]{16}", customer["reference"])
    assert customer["name"] == "Ada Lovelace-Byron"
    assert customer["status"] == "approved"
    assert payload["person"] == {
        "givenName": "Ada",
        "familyName": "Lovelace-Byron",
        "fullName": "Ada Lovelace-Byron",
    }
    account = payload["billingAccount"]
    assert account["state"] == "active"
    sign_in = payload["signIn"]
    assert sign_in["tokenType"] == "Bearer"

    # The token is this gateway's: `me` is the new customer, consistent in every record.
    me = (await as_token(http, gateway, sign_in["accessToken"], ME))["data"]["me"]
    assert me["reference"] == customer["reference"]
    assert me["person"]["givenName"] == "Ada"
    assert me["person"]["birthDate"] == "1990-12-10"
    media = {m["kind"]: m for m in me["person"]["contactMedia"]}
    assert media["EMAIL"]["email"] == "ada.lovelace@example.org"  # stored in lower case
    assert media["PHONE"]["phoneNumber"] == "+4915123456789"
    assert media["POSTAL_ADDRESS"]["address"] == {
        "street1": "Analytical Lane 1",
        "postCode": "10115",
        "city": "Berlin",
        "country": "DE",
    }
    assert me["billingAccounts"] == [account]
    # The CRM lists the account on the customer, and the customer's person is the individual.
    crm = (await call(http, "GET", url_of(sandbox.url, "customer", customer["reference"]))).body
    assert [a["id"] for a in crm["account"]] == [account["reference"]]
    people = await individuals_with(http, sandbox, "ada.lovelace@example.org")
    assert [p["id"] for p in people] == [crm["engagedParty"]["id"]]

    # Recorded as a self-service interaction of the new customer, on the web channel.
    (record,) = await interactions_of(http, sandbox, gateway, customer["reference"])
    assert record["reason"] == "Self-service: registerCustomer"
    assert record["channel"][0]["id"] == "web"
    assert [p["role"] for p in record["relatedParty"]] == ["customer"]
    assert {i["item"]["id"] for i in record["interactionItem"]} == {
        crm["engagedParty"]["id"],
        customer["reference"],
        account["reference"],
    }


async def test_an_address_already_registered_is_refused_without_any_write(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    seeded = (await call(http, "GET", url_of(sandbox.url, "individual", "ind-000001"))).body
    email = next(
        m["characteristic"]["emailAddress"]
        for m in seeded["contactMedium"]
        if m["mediumType"] == "email"
    )
    await forget_requests(http, sandbox)
    payload = await register(gql, new_person(email.upper()))
    assert payload["customer"] is None
    assert payload["signIn"] is None
    assert payload["errors"] == [
        {
            "code": "ALREADY_REGISTERED",
            "message": "This e-mail address is registered already: sign in instead.",
            "field": ["email"],
        }
    ]
    assert await writes(http, sandbox) == []


async def test_bad_input_gets_every_problem_and_reaches_no_backend(
    gql: GQL, gateway: RunningGateway
) -> None:
    before = gateway.backend_requests()
    payload = await register(
        gql,
        {
            "givenName": "R2D2",
            "familyName": "x" * 101,
            "email": "not-an-address@",
            "phone": "0151 12",
            "postalAddress": {"street1": " ", "postCode": "!", "city": "Berlin", "country": "DEU"},
            "birthDate": "2099-01-01",
        },
    )
    assert payload["customer"] is None
    found = {(e["code"], tuple(e["field"])) for e in payload["errors"]}
    assert found == {
        ("INVALID_INPUT", ("givenName",)),
        ("TOO_LONG", ("familyName",)),
        ("INVALID_EMAIL", ("email",)),
        ("INVALID_PHONE", ("phone",)),
        ("INVALID_ADDRESS", ("postalAddress", "street1")),
        ("INVALID_ADDRESS", ("postalAddress", "postCode")),
        ("INVALID_ADDRESS", ("postalAddress", "country")),
        ("INVALID_INPUT", ("birthDate",)),
    }
    assert gateway.backend_requests() == before


async def test_minors_and_card_numbers_are_refused(gql: GQL) -> None:
    young = await register(gql, new_person("young@example.org", birthDate="2015-01-01"))
    assert [(e["code"], e["field"]) for e in young["errors"]] == [("INVALID_INPUT", ["birthDate"])]
    card = new_person("card@example.org")
    card["postalAddress"]["street1"] = "4111 1111 1111 1111"
    refused = await register(gql, card)
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [
        ("CARD_NUMBER_REFUSED", ["postalAddress", "street1"])
    ]
    assert "4111" not in refused["errors"][0]["message"]


async def test_a_double_submission_registers_once(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    person = new_person("twice@example.org")
    first, second = await asyncio.gather(register(gql, person), register(gql, person))
    outcomes = sorted([first, second], key=lambda p: p["customer"] is None)
    assert outcomes[0]["errors"] == []
    assert [e["code"] for e in outcomes[1]["errors"]] == ["ALREADY_REGISTERED"]
    assert len(await individuals_with(http, sandbox, "twice@example.org")) == 1


async def test_an_agent_registers_a_customer_and_the_record_names_the_agent(
    gql: GQL, gateway: RunningGateway, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    payload = await register(gql, new_person("assisted@example.org"), principal="agent:a1")
    assert payload["errors"] == []
    assert payload["signIn"] is None  # an agent never holds the customer's credentials
    reference = payload["customer"]["reference"]
    seen = await gql(
        """query($id: ID!) { customer(id: $id) {
             person { familyName contactMedia { email } } billingAccounts { reference } } }""",
        {"id": payload["customer"]["id"]},
        principal="agent:a1",
    )
    assert seen["data"]["customer"]["person"]["familyName"] == "Lovelace-Byron"
    assert {"email": "assisted@example.org"} in seen["data"]["customer"]["person"]["contactMedia"]
    assert seen["data"]["customer"]["billingAccounts"] == [
        {"reference": payload["billingAccount"]["reference"]}
    ]
    records = await interactions_of(http, sandbox, gateway, reference)
    (record,) = [r for r in records if r["reason"] == "Assisted service: registerCustomer"]
    assert record["channel"][0]["id"] == "agent-desktop"
    parties = {(p["role"], p["id"]) for p in record["relatedParty"]}
    assert parties == {("customer", reference), ("agent", "a1")}


@pytest.mark.parametrize(
    ("principal", "code"),
    [("customer:cus-000001", "FORBIDDEN"), ("analyst:x", "FORBIDDEN")],
)
async def test_existing_customers_and_analysts_do_not_register(
    gql: GQL, gateway: RunningGateway, principal: str, code: str
) -> None:
    before = gateway.backend_requests()
    result = await gql(REGISTER, {"input": new_person("nope@example.org")}, principal=principal)
    assert result["data"] is None
    assert [e["extensions"]["code"] for e in result["errors"]] == [code]
    assert gateway.backend_requests() == before


async def test_a_failed_billing_account_undoes_the_person_and_the_customer(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    await set_fault(http, sandbox, "TMF666", down="503")
    payload = await register(gql, new_person("undone@example.org"))
    assert payload["customer"] is None
    (error,) = payload["errors"]
    assert error["code"] == "INCOMPLETE"
    assert "the billing account (TMF666) could not be created" in error["message"]
    assert "nothing was registered" in error["message"]
    deleted = re.findall(r"(individual|customer) ((?:ind|cus)-n[0-9a-f]{16})", error["message"])
    assert [kind for kind, _ in deleted] == ["customer", "individual"]
    for kind, record_id in deleted:
        reply = await call(http, "GET", url_of(sandbox.url, kind, record_id))
        assert reply.status == 404
    assert await individuals_with(http, sandbox, "undone@example.org") == []
    # Nothing was left: the same person registers once the billing system is back.
    await call(http, "DELETE", f"{sandbox.url}/admin/faults")
    again = await register(gql, new_person("undone@example.org"))
    assert again["errors"] == []


async def test_a_failed_customer_undoes_the_person(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    await set_fault(http, sandbox, "TMF629", down="503")
    payload = await register(gql, new_person("halfway@example.org"))
    (error,) = payload["errors"]
    assert error["code"] == "INCOMPLETE"
    assert (
        "the customer (TMF629) could not be created: the system is unavailable"
        in (error["message"])
    )
    assert re.search(r"deleted again \(individual ind-n[0-9a-f]{16}\)", error["message"])
    assert await individuals_with(http, sandbox, "halfway@example.org") == []


async def test_when_the_undo_fails_too_the_answer_names_what_is_left(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    # The billing account cannot be created; the customer's POST is held until the person's
    # API goes down, so that the person cannot be deleted again.
    await set_fault(http, sandbox, "TMF666", down="503")
    await set_fault(http, sandbox, "TMF629", hang=True)
    await forget_requests(http, sandbox)
    task = asyncio.create_task(register(gql, new_person("stranded@example.org")))
    deadline = time.monotonic() + 5
    while "POST /tmf-api/customerManagement/v4/customer" not in await writes(http, sandbox):
        assert time.monotonic() < deadline, "the customer was never posted"
        await asyncio.sleep(0.02)
    await set_fault(http, sandbox, "TMF632", down="503")  # wakes the held POST
    await set_fault(http, sandbox, "TMF629")  # no fault: the customer can be deleted
    payload = await task
    (error,) = payload["errors"]
    assert error["code"] == "INCOMPLETE"
    left = re.search(r"could not be deleted: individual (ind-n[0-9a-f]{16})", error["message"])
    undone = re.search(r"deleted again: customer (cus-n[0-9a-f]{16})", error["message"])
    assert left, error["message"]
    assert undone, error["message"]
    assert "cannot be registered again" in error["message"]
    await call(http, "DELETE", f"{sandbox.url}/admin/faults")
    stranded = await call(http, "GET", url_of(sandbox.url, "individual", left.group(1)))
    assert stranded.status == 200
    gone = await call(http, "GET", url_of(sandbox.url, "customer", undone.group(1)))
    assert gone.status == 404
    # As the answer said: the address stays taken until the person is removed.
    again = await register(gql, new_person("stranded@example.org"))
    assert [e["code"] for e in again["errors"]] == ["ALREADY_REGISTERED"]


async def test_production_gives_no_sign_in(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    settings = dataclasses.replace(settings_for(sandbox), dev_idp=False)
    async with running_gateway(settings) as production:
        body = orjson.dumps(
            {"query": REGISTER, "variables": {"input": new_person("p@example.org")}}
        )
        headers = {"Content-Type": "application/json"}
        async with http.post(f"{production.url}/graphql", data=body, headers=headers) as resp:
            result = orjson.loads(await resp.read())
    payload = result["data"]["registerCustomer"]
    assert payload["errors"] == []
    assert payload["customer"]["reference"].startswith("cus-n")
    assert payload["signIn"] is None
