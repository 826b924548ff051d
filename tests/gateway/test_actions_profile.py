"""``updateContactMedium`` end to end: real tokens, a real gateway, the sandbox's TMF632
individuals.

Each test checks the person's record in the sandbox and the gateway's next answer; a refusal,
that nothing was written or, for input wrong on its face, that no backend was asked at all.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from graph.ids import encode_global_id
from graph.sandbox import RunningSandbox
from tests.gateway.actions_support import (
    NOT_SUBSTANTIAL,
    record_of,
    refused_before_any_backend_request,
)
from tests.gateway.conftest import GQL, RunningGateway
from tests.support.tmf_client import call, url_of

ME = "customer:cus-000001"
AGENT = "agent:a1"
# Seed 7 (tests/conftest.py): cus-000001 is ind-000001, with a preferred e-mail address, a
# mobile number and a home address in Freiburg (each test asserts what it relies on).
PERSON = "ind-000001"
CARD_NUMBER = "4111111111111111"

MEDIA = """contactMedia { kind preferred contactType email phoneNumber
  address { street1 street2 postCode city stateOrProvince country } }"""
UPDATE = f"""mutation($input: UpdateContactMediumInput!) {{
  updateContactMedium(input: $input) {{
    person {{ id fullName {MEDIA} }} errors {{ code message field }} }} }}"""
MINE = f"{{ me {{ person {{ {MEDIA} }} }} }}"


async def update(gql: GQL, given: dict[str, Any], principal: str = ME) -> dict[str, Any]:
    result = await gql(UPDATE, {"input": given}, principal=principal)
    assert "errors" not in result, result
    payload: dict[str, Any] = result["data"]["updateContactMedium"]
    return payload


def problems(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    assert payload["person"] is None, payload
    assert payload["errors"], payload
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def media_of(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, person: str = PERSON
) -> list[dict[str, Any]]:
    """The person's contact media as TMF632 stores them."""
    media: list[dict[str, Any]] = (await record_of(http, sandbox, "individual", person))[
        "contactMedium"
    ]
    return media


def of_kind(media: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [m for m in media if m["mediumType"] == kind]


async def individual_writes(http: aiohttp.ClientSession, sandbox: RunningSandbox) -> int:
    stats = (await call(http, "GET", f"{sandbox.url}/admin/stats")).body["apis"]
    methods = stats.get("TMF632", {}).get("byMethod", {})
    return sum(count for method, count in methods.items() if method != "GET")


async def test_a_new_email_address_replaces_the_old_one_and_the_next_query_shows_it(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    before = await media_of(http, sandbox)
    assert [m["mediumType"] for m in before] == ["email", "phone", "postalAddress"]
    assert before[0]["preferred"] is True
    payload = await update(gql, {"email": {"address": " Marlene.Weber+Home@Example.ORG "}})
    assert payload["errors"] == []
    emails = [m for m in payload["person"]["contactMedia"] if m["kind"] == "EMAIL"]
    assert emails == [
        {
            "kind": "EMAIL",
            "preferred": True,  # the replaced medium keeps its preference
            "contactType": "email",
            "email": "marlene.weber+home@example.org",  # lowercased
            "phoneNumber": None,
            "address": None,
        }
    ]
    after = await media_of(http, sandbox)
    assert after[1:] == before[1:]  # the phone and the address are as they were
    assert after[0]["characteristic"]["emailAddress"] == "marlene.weber+home@example.org"
    mine = (await gql(MINE, principal=ME))["data"]["me"]["person"]["contactMedia"]
    assert [m["email"] for m in mine if m["kind"] == "EMAIL"] == ["marlene.weber+home@example.org"]
    # The CRM's own index follows: the person is found by the new address.
    found = await call(
        http,
        "GET",
        url_of(sandbox.url, "individual"),
        params={"contactMedium.characteristic.emailAddress": "marlene.weber+home@example.org"},
    )
    assert [p["id"] for p in found.body] == [PERSON]


async def test_all_three_at_once_normalized(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    payload = await update(
        gql,
        {
            "email": {"address": "m.weber@example.de"},
            "phone": {"number": "06 1234 5678"},  # national: its country is the address's
            "postalAddress": {
                "street1": "Damrak  1",
                "postCode": "1012lg",
                "city": "Amsterdam",
                "country": "nl",
            },
        },
    )
    assert payload["errors"] == []
    media = await media_of(http, sandbox)
    assert len(media) == 3
    assert of_kind(media, "phone")[0]["characteristic"] == {
        "contactType": "mobile",
        "phoneNumber": "+31612345678",
    }
    assert of_kind(media, "postalAddress")[0]["characteristic"] == {
        "contactType": "home",
        "street1": "Damrak 1",
        "postCode": "1012 LG",
        "city": "Amsterdam",
        "country": "NL",
    }
    shown = {m["kind"]: m for m in payload["person"]["contactMedia"]}
    assert shown["PHONE"]["phoneNumber"] == "+31612345678"
    assert shown["POSTAL_ADDRESS"]["address"] == {
        "street1": "Damrak 1",
        "street2": None,
        "postCode": "1012 LG",
        "city": "Amsterdam",
        "stateOrProvince": None,
        "country": "NL",
    }


@pytest.mark.parametrize(
    ("phone", "stored"),
    [
        pytest.param({"number": "+49 (151) 234-567-89"}, "+4915123456789", id="international"),
        pytest.param({"number": "0049 151 23456789"}, "+4915123456789", id="00 prefix"),
        pytest.param({"number": "0151 23456789", "country": "de"}, "+4915123456789", id="DE"),
        pytest.param({"number": "(415) 555-0100", "country": "US"}, "+14155550100", id="US"),
        pytest.param({"number": "020 7946 0018", "country": "GB"}, "+442079460018", id="GB"),
    ],
)
async def test_phone_numbers_are_stored_in_e164(
    gql: GQL,
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    phone: dict[str, str],
    stored: str,
) -> None:
    payload = await update(gql, {"phone": phone})
    assert payload["errors"] == []
    [medium] = of_kind(await media_of(http, sandbox), "phone")
    assert medium["characteristic"]["phoneNumber"] == stored


async def test_a_contact_type_replaces_that_one_or_adds_it_and_keeps_the_others(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    before = await media_of(http, sandbox)
    work = {
        "street1": "Kaiser-Joseph-Straße 1",
        "postCode": "79098",
        "city": "Freiburg im Breisgau",
        "country": "DE",
        "contactType": "work",
    }
    assert (await update(gql, {"postalAddress": work}))["errors"] == []
    media = await media_of(http, sandbox)
    addresses = of_kind(media, "postalAddress")
    assert [a["characteristic"]["contactType"] for a in addresses] == ["home", "work"]
    assert addresses[0] == of_kind(before, "postalAddress")[0]  # home untouched
    assert addresses[1]["preferred"] is False
    moved = {**work, "street1": "Bertoldstraße 5"}
    assert (await update(gql, {"postalAddress": moved}))["errors"] == []
    addresses = of_kind(await media_of(http, sandbox), "postalAddress")
    assert [a["characteristic"]["street1"] for a in addresses] == [
        of_kind(before, "postalAddress")[0]["characteristic"]["street1"],
        "Bertoldstraße 5",
    ]


async def test_every_problem_is_reported_at_once_and_no_backend_is_asked(
    gql: GQL, gateway: RunningGateway
) -> None:
    requests = gateway.backend_requests()
    payload = await update(
        gql,
        {
            "email": {"address": "marlene@@example"},
            "phone": {"number": "+49 151"},
            "postalAddress": {
                "street1": "",
                "postCode": "7910",
                "city": "x" * 81,
                "country": "DE",
            },
        },
    )
    assert problems(payload) == [
        ("INVALID_EMAIL", ["email", "address"]),
        ("INVALID_ADDRESS", ["postalAddress", "street1"]),
        ("INVALID_ADDRESS", ["postalAddress", "city"]),
        ("INVALID_ADDRESS", ["postalAddress", "postCode"]),
        ("INVALID_PHONE", ["phone", "number"]),
    ]
    assert gateway.backend_requests() == requests


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param({"email": {"address": ""}}, ("INVALID_EMAIL", ["email", "address"]), id="e0"),
        pytest.param(
            {"email": {"address": "no-at-sign.example.com"}},
            ("INVALID_EMAIL", ["email", "address"]),
            id="no @",
        ),
        pytest.param(
            {"email": {"address": "a..b@example.com"}},
            ("INVALID_EMAIL", ["email", "address"]),
            id="double dot",
        ),
        pytest.param(
            {"email": {"address": "a b@example.com"}},
            ("INVALID_EMAIL", ["email", "address"]),
            id="space",
        ),
        pytest.param(
            {"email": {"address": "ab@localhost"}},
            ("INVALID_EMAIL", ["email", "address"]),
            id="no domain",
        ),
        pytest.param(
            {"email": {"address": "ab@-bad.example.com"}},
            ("INVALID_EMAIL", ["email", "address"]),
            id="bad label",
        ),
        pytest.param(
            {"email": {"address": f"{'a' * 65}@example.com"}},
            ("INVALID_EMAIL", ["email", "address"]),
            id="local part > 64",
        ),
        pytest.param(
            {"email": {"address": f"a@{'b' * 63}.{'c' * 63}.{'d' * 63}.{'e' * 63}.com"}},
            ("INVALID_EMAIL", ["email", "address"]),
            id="> 254",
        ),
        pytest.param(
            {"email": {"address": "a@example.com", "contactType": "work; drop"}},
            ("INVALID_EMAIL", ["email", "contactType"]),
            id="contact type",
        ),
        pytest.param(
            {"phone": {"number": "0151 23456789"}},
            ("INVALID_PHONE", ["phone", "number"]),
            id="national without country",
        ),
        pytest.param(
            {"phone": {"number": "+49 151 2345 6789 0123"}},
            ("INVALID_PHONE", ["phone", "number"]),
            id="16 digits",
        ),
        pytest.param(
            {"phone": {"number": "+4915x23456789"}},
            ("INVALID_PHONE", ["phone", "number"]),
            id="letters",
        ),
        pytest.param(
            {"phone": {"number": "+0151234567"}},
            ("INVALID_PHONE", ["phone", "number"]),
            id="country code 0",
        ),
        pytest.param(
            {"phone": {"number": "0151 23456789", "country": "ZZ"}},
            ("INVALID_PHONE", ["phone", "country"]),
            id="unknown country",
        ),
        pytest.param(
            {"postalAddress": {"street1": "A 1", "postCode": "1234", "city": "B", "country": "XX"}},
            ("INVALID_ADDRESS", ["postalAddress", "country"]),
            id="country",
        ),
        pytest.param(
            {"postalAddress": {"street1": "A 1", "postCode": "1234", "city": "B", "country": "DE"}},
            ("INVALID_ADDRESS", ["postalAddress", "postCode"]),
            id="DE postcode",
        ),
        pytest.param(
            {"postalAddress": {"street1": "A 1", "postCode": "123", "city": "B", "country": "AT"}},
            ("INVALID_ADDRESS", ["postalAddress", "postCode"]),
            id="AT postcode",
        ),
        pytest.param(
            {
                "postalAddress": {
                    "street1": "A 1",
                    "postCode": "80001",
                    "city": "B",
                    "country": "CH",
                }
            },
            ("INVALID_ADDRESS", ["postalAddress", "postCode"]),
            id="CH postcode",
        ),
        pytest.param(
            {"postalAddress": {"street1": "A 1", "postCode": "7500", "city": "B", "country": "FR"}},
            ("INVALID_ADDRESS", ["postalAddress", "postCode"]),
            id="FR postcode",
        ),
        pytest.param(
            {
                "postalAddress": {
                    "street1": "A 1",
                    "postCode": "0123 AB",
                    "city": "B",
                    "country": "NL",
                }
            },
            ("INVALID_ADDRESS", ["postalAddress", "postCode"]),
            id="NL postcode",
        ),
        pytest.param(
            {"postalAddress": {"street1": "A 1", "postCode": "SW1A", "city": "B", "country": "GB"}},
            ("INVALID_ADDRESS", ["postalAddress", "postCode"]),
            id="GB postcode",
        ),
        pytest.param(
            {
                "postalAddress": {
                    "street1": "1 Main St",
                    "postCode": "9410",
                    "city": "San Francisco",
                    "stateOrProvince": "CA",
                    "country": "US",
                }
            },
            ("INVALID_ADDRESS", ["postalAddress", "postCode"]),
            id="US postcode",
        ),
        pytest.param(
            {
                "postalAddress": {
                    "street1": "1 Main St",
                    "postCode": "94105",
                    "city": "San Francisco",
                    "country": "US",
                }
            },
            ("INVALID_ADDRESS", ["postalAddress", "stateOrProvince"]),
            id="US state",
        ),
        pytest.param(
            {"postalAddress": {"street1": "A 1", "postCode": "#1", "city": "B", "country": "JP"}},
            ("INVALID_ADDRESS", ["postalAddress", "postCode"]),
            id="generic postcode",
        ),
        pytest.param(
            {
                "postalAddress": {
                    "street1": "A 1\nB 2",
                    "postCode": "79098",
                    "city": "B",
                    "country": "DE",
                }
            },
            ("INVALID_ADDRESS", ["postalAddress", "street1"]),
            id="line break",
        ),
        pytest.param(
            {
                "postalAddress": {
                    "street1": "A 1",
                    "street2": "x" * 101,
                    "postCode": "79098",
                    "city": "B",
                    "country": "DE",
                }
            },
            ("INVALID_ADDRESS", ["postalAddress", "street2"]),
            id="street2 too long",
        ),
        pytest.param(
            {
                "postalAddress": {
                    "street1": f"Card {CARD_NUMBER}",
                    "postCode": "79098",
                    "city": "B",
                    "country": "DE",
                }
            },
            ("CARD_NUMBER_REFUSED", ["postalAddress", "street1"]),
            id="card number",
        ),
        pytest.param({}, ("INVALID_INPUT", None), id="nothing"),
    ],
)
async def test_bad_contact_details_are_refused_before_any_backend_request(
    gql: GQL,
    gateway: RunningGateway,
    given: dict[str, Any],
    expected: tuple[str, list[str] | None],
) -> None:
    requests = gateway.backend_requests()
    payload = await update(gql, given)
    assert problems(payload) == [expected]
    assert gateway.backend_requests() == requests
    assert CARD_NUMBER not in orjson.dumps(payload).decode()


async def test_a_postcode_valid_elsewhere_is_accepted_generically(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    address = {"street1": "1-1 Chiyoda", "postCode": "100-0001", "city": "Tokyo", "country": "JP"}
    assert (await update(gql, {"postalAddress": address}))["errors"] == []
    [medium] = of_kind(await media_of(http, sandbox), "postalAddress")
    assert medium["characteristic"]["postCode"] == "100-0001"


async def test_the_same_details_again_write_nothing(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    [email] = of_kind(await media_of(http, sandbox), "email")
    payload = await update(gql, {"email": {"address": email["characteristic"]["emailAddress"]}})
    assert payload["errors"] == []
    assert await individual_writes(http, sandbox) == 0


async def test_another_persons_email_address_is_refused(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    """An e-mail address identifies a person (registration refuses one already held): a
    customer cannot take another person's -- in any spelling -- and nothing is written."""
    [theirs] = of_kind(await media_of(http, sandbox, "ind-000002"), "email")
    address = theirs["characteristic"]["emailAddress"]
    before = await media_of(http, sandbox)
    payload = await update(gql, {"email": {"address": address.upper()}})
    assert problems(payload) == [("ALREADY_REGISTERED", ["email", "address"])]
    assert address not in payload["errors"][0]["message"]
    assert await individual_writes(http, sandbox) == 0
    assert await media_of(http, sandbox) == before


async def test_changes_sent_at_once_are_all_kept(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    """Each change rewrites the whole contactMedium array: changes sent at the same moment take
    turns, and none undoes another."""
    changes = [
        {"phone": {"number": "+49 151 1111 2222"}},
        {"email": {"address": "marlene@example.org", "contactType": "work"}},
        {"postalAddress": {"street1": "Hauptstr. 5", "postCode": "79098", "city": "Freiburg",
                           "country": "DE"}},
    ]  # fmt: skip
    payloads = await asyncio.gather(*(update(gql, given) for given in changes))
    assert [p["errors"] for p in payloads] == [[], [], []]
    media = await media_of(http, sandbox)
    assert [m["characteristic"]["phoneNumber"] for m in of_kind(media, "phone")] == [
        "+4915111112222"
    ]
    emails = {m["characteristic"]["emailAddress"] for m in of_kind(media, "email")}
    assert "marlene@example.org" in emails
    assert len(emails) == 2  # the work address beside the one there was
    [address] = of_kind(media, "postalAddress")
    assert address["characteristic"]["street1"] == "Hauptstr. 5"


async def test_a_customer_cannot_change_another_customers_details(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    before = await media_of(http, sandbox, "ind-000003")
    given = {"customer": encode_global_id("Customer", "cus-000003"), "email": {"address": "x@y.de"}}
    payload = await update(gql, given)
    assert problems(payload) == [("NOT_FOUND", ["customer"])]
    assert await individual_writes(http, sandbox) == 0
    assert await media_of(http, sandbox, "ind-000003") == before


async def test_an_agent_must_name_the_customer(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    payload = await update(gql, {"email": {"address": "x@example.com"}}, principal=AGENT)
    assert problems(payload) == [("INVALID_INPUT", ["customer"])]
    assert await individual_writes(http, sandbox) == 0


async def test_an_agent_updates_a_customers_phone_and_it_is_recorded_with_the_agent(
    gql: GQL, gateway: RunningGateway, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    given = {
        "customer": encode_global_id("Customer", "cus-000002"),
        "phone": {"number": "+43 664 1234567", "contactType": "mobile"},
    }
    payload = await update(gql, given, principal=AGENT)
    assert payload["errors"] == []
    [phone] = [m for m in payload["person"]["contactMedia"] if m["kind"] == "PHONE"]
    assert phone["phoneNumber"] == "+436641234567"
    [stored] = of_kind(await media_of(http, sandbox, "ind-000002"), "phone")
    assert stored["characteristic"]["phoneNumber"] == "+436641234567"
    deadline = time.monotonic() + 5
    while gateway.state.audit.pending:
        assert time.monotonic() < deadline, "audit records still pending"
        await asyncio.sleep(0.02)
    reply = await call(
        http,
        "GET",
        url_of(sandbox.url, "partyInteraction"),
        params={"relatedParty.id": "cus-000002"},
    )
    [record] = [r for r in reply.body if r.get("reason") == "Assisted service: updateContactMedium"]
    assert {(p["role"], p["id"]) for p in record["relatedParty"]} == {
        ("customer", "cus-000002"),
        ("agent", "a1"),
    }
    assert record["description"].startswith("Agent a1, for the customer, changed their phone")
    assert "664" not in orjson.dumps(record).decode()  # the record names what, not the values
    [item] = record["interactionItem"]
    assert item["item"] == {
        "id": "ind-000002",
        "role": "contact details changed",
        "name": "individual",
        "@referredType": "Individual",
    }


@pytest.mark.parametrize(("who", "code"), NOT_SUBSTANTIAL)
async def test_who_may_not_change_contact_details(
    gateway: RunningGateway,
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    dev_idp_key: Path,
    who: str | None,
    code: str,
) -> None:
    """Changing contact details is "substantial"."""
    given = {"email": {"address": "x@example.com"}}
    await refused_before_any_backend_request(http, gateway, dev_idp_key, who, code, UPDATE, given)
    assert await individual_writes(http, sandbox) == 0
