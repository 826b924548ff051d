"""registerCustomer end to end: a person, a customer and a billing account created together
(or, when a backend refuses, not at all; when its answer is lost, completed by a repeat), a
development sign-in that this gateway accepts, and the action recorded."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from typing import Any

import aiohttp
import orjson
import pytest

from graph.resolvers.registration import MARKER
from graph.sandbox import RunningSandbox
from graph.sandbox.backend import Backend
from graph.sandbox.errors import TmfError
from graph.sandbox.rules import BillingAccountRules, CustomerRules, IndividualRules
from tests.gateway.actions_support import (
    clear_faults,
    forget_requests,
    gid,
    interactions_of,
    payload_of,
    post_graphql,
    set_fault,
    write_requests,
)
from tests.gateway.conftest import GQL, RunningGateway, running_gateway, settings_for
from tests.support.tmf_client import call, url_of

REGISTER = """mutation($input: RegisterCustomerInput!) { registerCustomer(input: $input) {
  customer { id reference name status }
  person { id givenName familyName fullName }
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
    return await payload_of(gql, REGISTER, person, principal)


async def register_at(http: aiohttp.ClientSession, gateway: RunningGateway, person: Any) -> Any:
    """Register through ``gateway`` (not the ``gateway`` fixture's), without a sign-in."""
    result = await post_graphql(http, gateway.url, REGISTER, {"input": person})
    assert "errors" not in result, result
    return result["data"]["registerCustomer"]


async def as_token(
    http: aiohttp.ClientSession, gateway: RunningGateway, token: str, query: str
) -> dict[str, Any]:
    return await post_graphql(http, gateway.url, query, token=token)


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


async def customers_of(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, individual: str
) -> list[dict[str, Any]]:
    reply = await call(
        http, "GET", url_of(sandbox.url, "customer"), params={"engagedParty.id": individual}
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
        "id": payload["person"]["id"],
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

    # Each record carries the registration's correlator: random, the same on both.
    (person,) = people
    (marker,) = person["externalReference"]
    assert marker["externalReferenceType"] == MARKER
    assert re.fullmatch(r"reg-[0-9a-f]{32}", marker["name"])
    assert crm["characteristic"] == [
        {"name": "registration", "valueType": "string", "value": marker["name"]}
    ]

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
    assert await write_requests(http, sandbox) == []


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
    (record,) = await interactions_of(
        http, sandbox, gateway, reference, "Assisted service: registerCustomer"
    )
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


# -- a backend refuses: what was created is deleted again ---------------------------------------


class _RefusedAccounts(BillingAccountRules):
    def validate_create(self, backend: Backend, record: dict[str, Any]) -> None:
        raise TmfError(422, "Credit check failed", "no account for this customer")


class _RefusedCustomers(CustomerRules):
    def validate_create(self, backend: Backend, record: dict[str, Any]) -> None:
        raise TmfError(422, "Blocked", "customer creation is suspended")


class _UndeletablePeople(IndividualRules):
    def validate_delete(self, backend: Backend, record: dict[str, Any]) -> None:
        raise TmfError(409, "Locked", "the person is being archived")


async def test_a_refused_billing_account_undoes_the_person_and_the_customer(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sandbox.backend.rules, "billingAccount", _RefusedAccounts())
    payload = await register(gql, new_person("undone@example.org"))
    assert payload["customer"] is None
    (error,) = payload["errors"]
    assert error["code"] == "BACKEND_REFUSED"
    assert (
        "the billing account (TMF666) could not be created: it was refused (Credit check "
        "failed: no account for this customer)" in error["message"]
    )
    assert "nothing was registered" in error["message"]
    deleted = re.findall(r"(individual|customer) ((?:ind|cus)-n[0-9a-f]{16})", error["message"])
    assert [kind for kind, _ in deleted] == ["customer", "individual"]
    for kind, record_id in deleted:
        reply = await call(http, "GET", url_of(sandbox.url, kind, record_id))
        assert reply.status == 404
    assert await individuals_with(http, sandbox, "undone@example.org") == []
    # Nothing was left: the same person registers once the billing system takes them.
    monkeypatch.undo()
    again = await register(gql, new_person("undone@example.org"))
    assert again["errors"] == []


async def test_a_refused_customer_undoes_the_person(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sandbox.backend.rules, "customer", _RefusedCustomers())
    payload = await register(gql, new_person("halfway@example.org"))
    (error,) = payload["errors"]
    assert error["code"] == "BACKEND_REFUSED"
    assert "the customer (TMF629) could not be created: it was refused (Blocked" in error["message"]
    assert re.search(r"deleted again \(individual ind-n[0-9a-f]{16}\)", error["message"])
    assert await individuals_with(http, sandbox, "halfway@example.org") == []


async def test_when_the_undo_fails_too_the_answer_names_what_is_left_and_a_repeat_continues(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sandbox.backend.rules, "billingAccount", _RefusedAccounts())
    monkeypatch.setitem(sandbox.backend.rules, "individual", _UndeletablePeople())
    payload = await register(gql, new_person("stranded@example.org"))
    (error,) = payload["errors"]
    assert error["code"] == "INCOMPLETE"
    left = re.search(r"could not be deleted: individual (ind-n[0-9a-f]{16})", error["message"])
    undone = re.search(r"deleted again: customer (cus-n[0-9a-f]{16})", error["message"])
    assert left, error["message"]
    assert undone, error["message"]
    assert "send the registration again" in error["message"]
    stranded = await call(http, "GET", url_of(sandbox.url, "individual", left.group(1)))
    assert stranded.status == 200
    gone = await call(http, "GET", url_of(sandbox.url, "customer", undone.group(1)))
    assert gone.status == 404
    # As the answer said: the address is not taken; a repeat continues with the person left.
    monkeypatch.undo()
    again = await register(gql, new_person("stranded@example.org"))
    assert again["errors"] == []
    assert again["person"]["id"] == gid("Person", left.group(1))
    assert [p["id"] for p in await individuals_with(http, sandbox, "stranded@example.org")] == [
        left.group(1)
    ]


# -- a backend's answer is lost: a repeat completes the registration ------------------------------


@pytest.mark.parametrize(
    ("api", "made"),
    [
        pytest.param("TMF632", [], id="the person's answer lost"),
        pytest.param("TMF629", ["individual"], id="the customer's answer lost"),
    ],
)
async def test_a_record_whose_answer_was_lost_is_completed_by_a_repeat(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, api: str, made: list[str]
) -> None:
    """The POST is carried out but answered after the gateway gave up waiting: the answer says
    what may have been created and to send it again; a repeat, once the outcome has settled,
    continues after what exists. (The repeat goes to a second gateway, with an idempotency store
    of its own, as a process sharing no Redis would: the first one holds the address while the
    late write may still land -- that is checked too.)"""
    email = f"late-{api.lower()}@example.org"
    settings = settings_for(sandbox, backend_timeout=0.5, events=False)
    await set_fault(http, sandbox, api, methods=["POST"], answer_latency_ms=1500)
    async with running_gateway(settings) as first:
        payload = await register_at(http, first, new_person(email))
        assert payload["customer"] is None
        assert payload["signIn"] is None
        (error,) = payload["errors"]
        assert error["code"] == "INCOMPLETE"
        assert "may have been created" in error["message"]
        assert "Send the same registration again in 7 seconds" in error["message"]
        assert (payload["person"] is not None) == bool(made)
        assert re.findall(r"(individual|customer) (?:ind|cus)-n", error["message"]) == made
        # The same registration at once is told to wait: the late write may still be landing.
        early = await register_at(http, first, new_person(email))
        assert [e["code"] for e in early["errors"]] == ["ACTION_IN_PROGRESS"]
        assert "being settled" in early["errors"][0]["message"]
    await clear_faults(http, sandbox)
    (person,) = await individuals_with(http, sandbox, email)  # it did land
    async with running_gateway(settings) as second:
        again = await register_at(http, second, new_person(email))
        assert again["errors"] == []
        assert again["person"]["id"] == gid("Person", person["id"])
        assert again["signIn"] is not None
        me = await as_token(http, second, again["signIn"]["accessToken"], ME)
    assert me["data"]["me"]["reference"] == again["customer"]["reference"]
    assert me["data"]["me"]["billingAccounts"] == [again["billingAccount"]]
    # One of each: the repeat created only what was missing.
    assert [p["id"] for p in await individuals_with(http, sandbox, email)] == [person["id"]]
    customers = await customers_of(http, sandbox, person["id"])
    assert [c["id"] for c in customers] == [again["customer"]["reference"]]


async def test_another_persons_unfinished_registration_is_not_taken_over(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    """A person left by an unfinished registration is continued only for the same person
    (names and date of birth); to anyone else the address is taken."""
    email = "unfinished@example.org"
    stranded = {
        "givenName": "Grace",
        "familyName": "Hopper",
        "birthDate": "1980-12-09T00:00:00Z",
        "contactMedium": [{"mediumType": "email", "characteristic": {"emailAddress": email}}],
        "externalReference": [{"externalReferenceType": MARKER, "name": "reg-" + "0" * 32}],
    }
    made = await call(http, "POST", url_of(sandbox.url, "individual"), json=stranded)
    assert made.status == 201, made.body
    await forget_requests(http, sandbox)
    payload = await register(gql, new_person(email))
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("ALREADY_REGISTERED", ["email"])
    ]
    assert payload["person"] is None
    assert await write_requests(http, sandbox) == []


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
