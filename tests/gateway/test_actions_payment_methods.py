"""``addPaymentMethod``, ``setDefaultPaymentMethod`` and ``removePaymentMethod`` end to end:
real tokens, a real gateway, the sandbox's TMF670 payment methods and TMF666 billing accounts.

Each test checks the effect where it lives (the sandbox's records) and in the gateway's next
answer (read-your-writes); a refusal, that nothing was written (the sandbox's count of write
requests) or, for input wrong on its face, that no backend was asked at all. Card numbers and
IBANs are looked for everywhere they could leak: the answer, the stored records, the logs.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from graph.sandbox import RunningSandbox
from graph.sandbox.backend import Backend
from graph.sandbox.errors import TmfError
from graph.sandbox.rules import BillingAccountRules, Rules
from tests.gateway.actions_support import (
    NOT_SUBSTANTIAL,
    gid,
    interactions_of,
    merge_patch,
    payload_of,
    refused_before_any_backend_request,
)
from tests.gateway.conftest import GQL, RunningGateway
from tests.support.tmf_client import call, url_of

ME = "customer:cus-000001"
AGENT = "agent:a1"
# Seed 7 (tests/conftest.py), as of 2026-11-26: each test asserts what it relies on.
MY_METHOD = "pm-000001-1"  # cus-000001's only method: SEPA, preferred, default of both accounts
MY_ACCOUNTS = ("ba-000001-1", "ba-000001-2")
TWO = "customer:cus-000004"  # a card (pm-1: preferred, default of both accounts) and a SEPA
TWO_CARD, TWO_SEPA = "pm-000004-1", "pm-000004-2"  # mandate (pm-2, unused)
TWO_ACCOUNTS = ("ba-000004-1", "ba-000004-2")
THREE = "customer:cus-000015"  # SEPA pm-1 pays ba-1 and ba-2; card pm-2 pays ba-3
OTHERS_METHOD = "pm-000003-1"
OTHERS_ACCOUNT = "ba-000003-1"
CARD_NUMBER = "4111111111111111"  # Luhn-valid test card number
IBAN = "DE89 3704 0044 0532 0130 00"  # the standard example IBAN (valid check digits)
IBAN_MASKED = "DE** **** **** **** **30 00"

METHOD_FIELDS = """id reference name kind isPreferred status validUntil
  card { brand lastFourDigits expirationMonth expirationYear }
  bankAccount { accountNumber accountNumberType bank }"""
ADD = f"""mutation($input: AddPaymentMethodInput!) {{ addPaymentMethod(input: $input) {{
  paymentMethod {{ {METHOD_FIELDS} }} errors {{ code message field }} }} }}"""
SET_DEFAULT = """mutation($input: SetDefaultPaymentMethodInput!) {
  setDefaultPaymentMethod(input: $input) {
    paymentMethod { reference isPreferred }
    billingAccounts { reference defaultPaymentMethod { reference } }
    errors { code message field } } }"""
REMOVE = """mutation($input: RemovePaymentMethodInput!) { removePaymentMethod(input: $input) {
  removedPaymentMethodId errors { code message field } } }"""
MINE = f"""{{ me {{ paymentMethods {{ {METHOD_FIELDS} }}
  billingAccounts {{ reference defaultPaymentMethod {{ reference }} }} }} }}"""


def card(**changes: Any) -> dict[str, Any]:
    given = {
        "token": "tok_visa_4242_abcdefgh",
        "brand": "Visa",
        "lastFourDigits": "4242",
        "expiryMonth": 12,
        "expiryYear": 2029,
    }
    return {**given, **changes}


def mandate(**changes: Any) -> dict[str, Any]:
    given = {
        "iban": IBAN,
        "accountHolder": "Marlene Weber",
        "bic": "COBADEFFXXX",
        "bank": "Commerzbank",
        "authorized": True,
    }
    return {**given, **changes}


async def act(
    gql: GQL, document: str, given: dict[str, Any], principal: str = ME
) -> dict[str, Any]:
    """The action's payload (no GraphQL error expected)."""
    return await payload_of(gql, document, given, principal)


def problems(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    assert payload["errors"], payload
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def stored(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, customer: str
) -> dict[str, dict[str, Any]]:
    """The customer's payment methods as TMF670 stores them, by id."""
    reply = await call(
        http, "GET", url_of(sandbox.url, "paymentMethod"), params={"relatedParty.id": customer}
    )
    assert reply.status == 200, reply.body
    return {r["id"]: r for r in reply.body}


async def defaults(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, customer: str
) -> dict[str, str | None]:
    """Each of the customer's billing accounts -> its default method, as TMF666 stores it."""
    reply = await call(
        http, "GET", url_of(sandbox.url, "billingAccount"), params={"relatedParty.id": customer}
    )
    assert reply.status == 200, reply.body
    return {a["id"]: (a.get("defaultPaymentMethod") or {}).get("id") for a in reply.body}


async def writes(http: aiohttp.ClientSession, sandbox: RunningSandbox) -> int:
    """Write requests the sandbox has received, TMF683's records (written apart) aside."""
    stats = (await call(http, "GET", f"{sandbox.url}/admin/stats")).body["apis"]
    return sum(
        count
        for api, entry in stats.items()
        if api != "TMF683"
        for method, count in entry["byMethod"].items()
        if method != "GET"
    )


# -- addPaymentMethod -------------------------------------------------------------------------


async def test_a_tokenized_card_is_stored_and_the_next_query_shows_it(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    before = await stored(http, sandbox, "cus-000001")
    assert list(before) == [MY_METHOD]
    assert before[MY_METHOD]["isPreferred"] is True
    payload = await act(gql, ADD, {"card": card()})
    assert payload["errors"] == []
    added = payload["paymentMethod"]
    assert added["kind"] == "TOKENIZED_CARD"
    assert added["name"] == "Visa ending 4242"
    assert added["isPreferred"] is False  # the customer has a preferred method already
    assert added["status"] == "active"
    assert added["card"] == {
        "brand": "Visa",
        "lastFourDigits": "4242",
        "expirationMonth": 12,
        "expirationYear": 2029,
    }
    assert added["validUntil"].startswith("2029-12-31")
    after = await stored(http, sandbox, "cus-000001")
    record = after[added["reference"]]
    assert record["@type"] == "tokenizedCard"
    assert record["token"] == "tok_visa_4242_abcdefgh"
    assert record["relatedParty"]["id"] == "cus-000001"  # one object, as TMF670 has it
    assert record["relatedParty"]["@referredType"] == "Customer"
    assert record["account"] == []
    assert after[MY_METHOD]["isPreferred"] is True
    mine = (await gql(MINE, principal=ME))["data"]["me"]
    assert {m["reference"] for m in mine["paymentMethods"]} == {MY_METHOD, added["reference"]}
    # Accounts keep their default: adding a method changes no account.
    assert {a["defaultPaymentMethod"]["reference"] for a in mine["billingAccounts"]} == {MY_METHOD}


async def test_a_sepa_mandate_is_stored_masked_and_the_iban_is_nowhere(
    gql: GQL,
    gateway: RunningGateway,
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    payload = await act(gql, ADD, {"sepaMandate": mandate(), "name": "Salary account"})
    assert payload["errors"] == []
    added = payload["paymentMethod"]
    assert added["kind"] == "BANK_ACCOUNT_DEBIT"
    assert added["name"] == "Salary account"
    assert added["bankAccount"] == {
        "accountNumber": IBAN_MASKED,
        "accountNumberType": "IBAN",
        "bank": "Commerzbank",
    }
    record = (await stored(http, sandbox, "cus-000001"))[added["reference"]]
    assert record["@type"] == "bankAccountDebit"
    assert record["accountNumber"] == IBAN_MASKED
    assert record["BIC"] == "COBADEFFXXX"
    assert record["owner"] == "Marlene Weber"
    recorded = await interactions_of(http, sandbox, gateway, "cus-000001", "addPaymentMethod")
    assert len(recorded) == 1
    mine = await gql(MINE, principal=ME)
    everything = [
        orjson.dumps(payload).decode(),
        orjson.dumps(mine).decode(),
        orjson.dumps(await stored(http, sandbox, "cus-000001")).decode(),
        orjson.dumps(recorded).decode(),
        caplog.text,
    ]
    for text in everything:
        for secret in (IBAN, IBAN.replace(" ", ""), "3704 0044 0532", "370400440532"):
            assert secret not in text


@pytest.mark.parametrize(
    ("given", "field"),
    [
        pytest.param({"card": card(token=CARD_NUMBER)}, ["card", "token"], id="token"),
        pytest.param(
            {"card": card(token="4111 1111 1111 1111")}, ["card", "token"], id="spaced token"
        ),
        pytest.param({"card": card(), "name": f"card {CARD_NUMBER}"}, ["name"], id="name"),
        pytest.param(
            {"sepaMandate": mandate(iban=CARD_NUMBER)}, ["sepaMandate", "iban"], id="iban"
        ),
        pytest.param(
            {"sepaMandate": mandate(accountHolder=CARD_NUMBER)},
            ["sepaMandate", "accountHolder"],
            id="account holder",
        ),
        pytest.param(
            {"sepaMandate": mandate(bank="Bank 4111-1111-1111-1111")},
            ["sepaMandate", "bank"],
            id="bank",
        ),
    ],
)
async def test_a_card_number_anywhere_is_refused_and_never_stored_echoed_or_logged(
    gql: GQL,
    gateway: RunningGateway,
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    given: dict[str, Any],
    field: list[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    requests = gateway.backend_requests()
    result = await gql(ADD, {"input": given}, principal=ME)
    payload = result["data"]["addPaymentMethod"]
    assert payload["paymentMethod"] is None
    assert problems(payload) == [("CARD_NUMBER_REFUSED", field)]
    assert gateway.backend_requests() == requests  # refused before any backend request
    assert await writes(http, sandbox) == 0
    records = await stored(http, sandbox, "cus-000001")
    assert list(records) == [MY_METHOD]
    recent = await call(http, "GET", f"{sandbox.url}/admin/requests")
    for text in (
        orjson.dumps(result).decode(),
        orjson.dumps(records).decode(),
        orjson.dumps(recent.body).decode(),
        caplog.text,
    ):
        assert CARD_NUMBER not in text
        assert "4111 1111" not in text
        assert "4111-1111" not in text


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param(
            {"sepaMandate": mandate(iban="DE89 3704 0044 0532 0130 01")},
            [("INVALID_INPUT", ["sepaMandate", "iban"])],
            id="wrong check digits",
        ),
        pytest.param(
            {"sepaMandate": mandate(iban="DE89 3704 0044 0532 0130")},
            [("INVALID_INPUT", ["sepaMandate", "iban"])],
            id="too short",
        ),
        pytest.param(
            {"sepaMandate": mandate(iban="BR15 0000 0000 0000 1093 2840 814P 2")},
            [("INVALID_INPUT", ["sepaMandate", "iban"])],
            id="not a SEPA country",
        ),
        pytest.param(
            {"sepaMandate": mandate(authorized=False)},
            [("INVALID_INPUT", ["sepaMandate", "authorized"])],
            id="mandate not authorized",
        ),
        pytest.param(
            {"sepaMandate": mandate(bic="NOT A BIC")},
            [("INVALID_INPUT", ["sepaMandate", "bic"])],
            id="bic",
        ),
        pytest.param(
            {"sepaMandate": mandate(accountHolder=" ")},
            [("INVALID_INPUT", ["sepaMandate", "accountHolder"])],
            id="no account holder",
        ),
        pytest.param(
            {"card": card(expiryYear=2026, expiryMonth=10)},
            [("PAYMENT_METHOD_UNUSABLE", ["card"])],
            id="expired card",
        ),
        pytest.param(
            {"card": card(lastFourDigits="42")},
            [("INVALID_INPUT", ["card", "lastFourDigits"])],
            id="last four",
        ),
        pytest.param({"card": card(), "name": "x" * 101}, [("TOO_LONG", ["name"])], id="name"),
        pytest.param(
            {"card": card(), "sepaMandate": mandate()},
            [("INVALID_INPUT", ["sepaMandate"])],
            id="both",
        ),
        pytest.param({}, [("INVALID_INPUT", ["card"])], id="neither"),
    ],
)
async def test_bad_input_is_refused_before_any_backend_request(
    gql: GQL,
    gateway: RunningGateway,
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    given: dict[str, Any],
    expected: list[tuple[str, list[str]]],
) -> None:
    requests = gateway.backend_requests()
    result = await gql(ADD, {"input": given}, principal=ME)
    payload = result["data"]["addPaymentMethod"]
    assert payload["paymentMethod"] is None
    assert problems(payload) == expected
    assert gateway.backend_requests() == requests
    assert await writes(http, sandbox) == 0
    for error in payload["errors"]:
        assert "0532" not in error["message"]  # an IBAN is never repeated


async def test_the_same_card_twice_is_refused(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    assert (await act(gql, ADD, {"card": card()}))["errors"] == []
    again = await act(gql, ADD, {"card": card()})
    assert problems(again) == [("INVALID_INPUT", ["card", "token"])]
    assert len(await stored(http, sandbox, "cus-000001")) == 2


async def test_a_new_preferred_method_takes_the_preference_from_the_old_one(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    payload = await act(gql, ADD, {"card": card(), "makePreferred": True})
    assert payload["errors"] == []
    assert payload["paymentMethod"]["isPreferred"] is True
    records = await stored(http, sandbox, "cus-000001")
    assert records[MY_METHOD]["isPreferred"] is False
    assert records[payload["paymentMethod"]["reference"]]["isPreferred"] is True
    mine = (await gql(MINE, principal=ME))["data"]["me"]
    preferred = [m["reference"] for m in mine["paymentMethods"] if m["isPreferred"]]
    assert preferred == [payload["paymentMethod"]["reference"]]
    # The accounts' default is setDefaultPaymentMethod's business, not this one's.
    assert await defaults(http, sandbox, "cus-000001") == dict.fromkeys(MY_ACCOUNTS, MY_METHOD)


class FailingMethodChanges(Rules):
    """TMF670 takes new payment methods but refuses every change of one."""

    def prepare_update(
        self, backend: Backend, old: dict[str, Any], new: dict[str, Any]
    ) -> dict[str, Any]:
        raise TmfError(503, "Service unavailable", "injected: method changes fail")


async def test_a_new_preferred_method_whose_predecessor_keeps_the_preference_is_reported(
    gql: GQL,
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sandbox.backend.rules, "paymentMethod", FailingMethodChanges())
    payload = await act(gql, ADD, {"card": card(), "makePreferred": True})
    [error] = payload["errors"]
    assert error["code"] == "INCOMPLETE"
    assert error["message"] == (
        "Done: Visa ending 4242 was added as your preferred payment method. "
        "Not done (the TMF670 backend failed): SEPA direct debit GLS Bank is still marked "
        "preferred too. Repeat the request to complete it."
    )
    added = payload["paymentMethod"]  # what exists is shown
    assert added["isPreferred"] is True
    records = await stored(http, sandbox, "cus-000001")
    assert records[added["reference"]]["isPreferred"] is True
    assert records[MY_METHOD]["isPreferred"] is True


# -- setDefaultPaymentMethod ------------------------------------------------------------------


async def test_the_default_moves_to_another_method_on_every_account(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    assert await defaults(http, sandbox, "cus-000004") == dict.fromkeys(TWO_ACCOUNTS, TWO_CARD)
    before = await stored(http, sandbox, "cus-000004")
    assert (before[TWO_CARD]["isPreferred"], before[TWO_SEPA]["isPreferred"]) == (True, False)
    payload = await act(
        gql, SET_DEFAULT, {"paymentMethod": gid("PaymentMethod", TWO_SEPA)}, principal=TWO
    )
    assert payload["errors"] == []
    assert payload["paymentMethod"] == {"reference": TWO_SEPA, "isPreferred": True}
    assert sorted(payload["billingAccounts"], key=lambda a: a["reference"]) == [
        {"reference": a, "defaultPaymentMethod": {"reference": TWO_SEPA}} for a in TWO_ACCOUNTS
    ]
    assert await defaults(http, sandbox, "cus-000004") == dict.fromkeys(TWO_ACCOUNTS, TWO_SEPA)
    after = await stored(http, sandbox, "cus-000004")
    assert (after[TWO_CARD]["isPreferred"], after[TWO_SEPA]["isPreferred"]) == (False, True)
    assert after[TWO_CARD]["account"] == []
    assert sorted(a["id"] for a in after[TWO_SEPA]["account"]) == list(TWO_ACCOUNTS)
    mine = (await gql(MINE, principal=TWO))["data"]["me"]
    assert {a["defaultPaymentMethod"]["reference"] for a in mine["billingAccounts"]} == {TWO_SEPA}
    assert [m["reference"] for m in mine["paymentMethods"] if m["isPreferred"]] == [TWO_SEPA]


async def test_naming_a_billing_account_changes_only_its_default(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    sepa, card_method = "pm-000015-1", "pm-000015-2"
    assert await defaults(http, sandbox, "cus-000015") == {
        "ba-000015-1": sepa,
        "ba-000015-2": sepa,
        "ba-000015-3": card_method,
    }
    payload = await act(
        gql,
        SET_DEFAULT,
        {
            "paymentMethod": gid("PaymentMethod", card_method),
            "billingAccount": gid("BillingAccount", "ba-000015-1"),
        },
        principal=THREE,
    )
    assert payload["errors"] == []
    assert payload["billingAccounts"] == [
        {"reference": "ba-000015-1", "defaultPaymentMethod": {"reference": card_method}}
    ]
    assert await defaults(http, sandbox, "cus-000015") == {
        "ba-000015-1": card_method,
        "ba-000015-2": sepa,
        "ba-000015-3": card_method,
    }
    after = await stored(http, sandbox, "cus-000015")
    assert (after[sepa]["isPreferred"], after[card_method]["isPreferred"]) == (False, True)
    assert [a["id"] for a in after[sepa]["account"]] == ["ba-000015-2"]
    assert sorted(a["id"] for a in after[card_method]["account"]) == [
        "ba-000015-1",
        "ba-000015-3",
    ]


async def test_defaults_set_at_once_are_all_kept(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    """A method's account list is rewritten whole: two accounts moved to one method at the
    same moment take turns, and the method lists both."""
    sepa, card_method = "pm-000015-1", "pm-000015-2"
    before = await stored(http, sandbox, "cus-000015")
    assert [a["id"] for a in before[sepa]["account"]] == ["ba-000015-1", "ba-000015-2"]
    assert [a["id"] for a in before[card_method]["account"]] == ["ba-000015-3"]
    payloads = await asyncio.gather(
        *(
            act(
                gql,
                SET_DEFAULT,
                {
                    "paymentMethod": gid("PaymentMethod", card_method),
                    "billingAccount": gid("BillingAccount", account),
                },
                THREE,
            )
            for account in ("ba-000015-1", "ba-000015-2")
        )
    )
    assert [p["errors"] for p in payloads] == [[], []]
    after = await stored(http, sandbox, "cus-000015")
    assert sorted(a["id"] for a in after[card_method]["account"]) == [
        "ba-000015-1",
        "ba-000015-2",
        "ba-000015-3",
    ]
    assert after[sepa]["account"] == []
    assert set((await defaults(http, sandbox, "cus-000015")).values()) == {card_method}


async def test_the_default_already_set_writes_nothing(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    payload = await act(gql, SET_DEFAULT, {"paymentMethod": gid("PaymentMethod", MY_METHOD)})
    assert payload["errors"] == []
    assert payload["paymentMethod"] == {"reference": MY_METHOD, "isPreferred": True}
    assert len(payload["billingAccounts"]) == 2
    assert await writes(http, sandbox) == 0


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"status": "inactive"}, id="inactive"),
        pytest.param(
            {
                "validFor": {
                    "startDateTime": "2023-02-25T10:00:00Z",
                    "endDateTime": "2026-01-31T23:59:59Z",
                }
            },
            id="expired",
        ),
    ],
)
async def test_an_unusable_method_cannot_become_the_default(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession, change: dict[str, Any]
) -> None:
    made = await call(http, "PATCH", url_of(sandbox.url, "paymentMethod", TWO_SEPA), json=change)
    assert made.status == 200, made.body
    await call(http, "DELETE", f"{sandbox.url}/admin/stats")
    payload = await act(
        gql, SET_DEFAULT, {"paymentMethod": gid("PaymentMethod", TWO_SEPA)}, principal=TWO
    )
    assert payload["paymentMethod"] is None
    assert problems(payload) == [("PAYMENT_METHOD_UNUSABLE", ["paymentMethod"])]
    assert await writes(http, sandbox) == 0
    assert await defaults(http, sandbox, "cus-000004") == dict.fromkeys(TWO_ACCOUNTS, TWO_CARD)


@pytest.mark.parametrize(
    ("given", "field"),
    [
        pytest.param(
            {"paymentMethod": gid("PaymentMethod", OTHERS_METHOD)},
            ["paymentMethod"],
            id="method",
        ),
        pytest.param(
            {
                "paymentMethod": gid("PaymentMethod", MY_METHOD),
                "billingAccount": gid("BillingAccount", OTHERS_ACCOUNT),
            },
            ["billingAccount"],
            id="billing account",
        ),
    ],
)
async def test_another_customers_method_or_account_is_not_found_and_nothing_is_written(
    gql: GQL,
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    given: dict[str, Any],
    field: list[str],
) -> None:
    payload = await act(gql, SET_DEFAULT, given)
    assert problems(payload) == [("NOT_FOUND", field)]
    assert payload["paymentMethod"] is None
    assert await writes(http, sandbox) == 0
    assert await defaults(http, sandbox, "cus-000003") == {OTHERS_ACCOUNT: OTHERS_METHOD}


async def test_not_a_payment_method_id_is_refused_before_any_backend_request(
    gql: GQL, gateway: RunningGateway
) -> None:
    requests = gateway.backend_requests()
    for document in (SET_DEFAULT, REMOVE):
        result = await gql(document, {"input": {"paymentMethod": gid("Bill", "x")}}, ME)
        payload = next(iter(result["data"].values()))
        assert problems(payload) == [("INVALID_INPUT", ["paymentMethod"])]
    assert gateway.backend_requests() == requests


class FailingAccountChanges(BillingAccountRules):
    """TMF666 refuses every change of a billing account: a backend failing midway."""

    def prepare_update(
        self, backend: Backend, old: dict[str, Any], new: dict[str, Any]
    ) -> dict[str, Any]:
        raise TmfError(503, "Service unavailable", "injected: account changes fail")


async def test_a_backend_failing_midway_is_reported_exactly_and_a_repeat_completes_it(
    gql: GQL,
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sandbox.backend.rules, "billingAccount", FailingAccountChanges())
    given = {"paymentMethod": gid("PaymentMethod", TWO_SEPA)}
    payload = await act(gql, SET_DEFAULT, given, principal=TWO)
    [error] = payload["errors"]
    assert error["code"] == "INCOMPLETE"
    message = error["message"]
    # What was done, then what was not: the method is preferred, no account has changed,
    # and the card is still marked preferred too.
    assert message.startswith("Done: SEPA direct debit")
    assert "is now your preferred method" in message
    _, _, not_done = message.partition("Not done (the TMF666 backend failed): ")
    assert "Main account is still paid with its former method" in not_done
    assert "Home account is still paid with its former method" in not_done
    assert "ending" in not_done  # the card, named
    assert "is still preferred" in not_done
    assert payload["paymentMethod"] == {"reference": TWO_SEPA, "isPreferred": True}
    assert await defaults(http, sandbox, "cus-000004") == dict.fromkeys(TWO_ACCOUNTS, TWO_CARD)
    records = await stored(http, sandbox, "cus-000004")
    assert (records[TWO_CARD]["isPreferred"], records[TWO_SEPA]["isPreferred"]) == (True, True)

    monkeypatch.undo()
    payload = await act(gql, SET_DEFAULT, given, principal=TWO)
    assert payload["errors"] == []
    assert await defaults(http, sandbox, "cus-000004") == dict.fromkeys(TWO_ACCOUNTS, TWO_SEPA)
    records = await stored(http, sandbox, "cus-000004")
    assert (records[TWO_CARD]["isPreferred"], records[TWO_SEPA]["isPreferred"]) == (False, True)


# -- removePaymentMethod ----------------------------------------------------------------------


async def test_a_method_no_account_uses_is_removed(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    payload = await act(gql, REMOVE, {"paymentMethod": gid("PaymentMethod", TWO_SEPA)}, TWO)
    assert payload == {"removedPaymentMethodId": gid("PaymentMethod", TWO_SEPA), "errors": []}
    gone = await call(http, "GET", url_of(sandbox.url, "paymentMethod", TWO_SEPA))
    assert gone.status == 404
    mine = (await gql(MINE, principal=TWO))["data"]["me"]
    assert [m["reference"] for m in mine["paymentMethods"]] == [TWO_CARD]


async def test_a_default_method_is_in_use_until_another_default_is_set(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    given = {"paymentMethod": gid("PaymentMethod", TWO_CARD)}
    payload = await act(gql, REMOVE, given, TWO)
    assert payload["removedPaymentMethodId"] is None
    assert problems(payload) == [("PAYMENT_METHOD_IN_USE", ["paymentMethod"])]
    assert "Main account" in payload["errors"][0]["message"]
    assert await writes(http, sandbox) == 0
    assert TWO_CARD in await stored(http, sandbox, "cus-000004")

    moved = await act(
        gql, SET_DEFAULT, {"paymentMethod": gid("PaymentMethod", TWO_SEPA)}, principal=TWO
    )
    assert moved["errors"] == []
    payload = await act(gql, REMOVE, given, TWO)
    assert payload["errors"] == []
    assert list(await stored(http, sandbox, "cus-000004")) == [TWO_SEPA]


async def test_a_method_paying_a_payment_plan_is_in_use(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    plan = {
        "numberOfPayments": 3,
        "paymentFrequency": "monthly",
        "planType": "installment",
        "status": "active",
        "totalAmount": {"unit": "EUR", "value": 90.0},
        "paymentMethod": {"id": TWO_SEPA, "@referredType": "PaymentMethod"},
    }
    made = await call(
        http,
        "PATCH",
        url_of(sandbox.url, "billingAccount", TWO_ACCOUNTS[1]),
        json={"paymentPlan": [plan]},
    )
    assert made.status == 200, made.body
    await call(http, "DELETE", f"{sandbox.url}/admin/stats")
    payload = await act(gql, REMOVE, {"paymentMethod": gid("PaymentMethod", TWO_SEPA)}, TWO)
    assert problems(payload) == [("PAYMENT_METHOD_IN_USE", ["paymentMethod"])]
    assert "payment plan of Home account" in payload["errors"][0]["message"]
    assert await writes(http, sandbox) == 0
    assert TWO_SEPA in await stored(http, sandbox, "cus-000004")


async def test_the_preferred_method_stays_until_another_is_preferred(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    added = await act(gql, ADD, {"card": card(), "makePreferred": True}, TWO)
    new = added["paymentMethod"]["reference"]  # preferred, the default of no account
    await call(http, "DELETE", f"{sandbox.url}/admin/stats")
    payload = await act(gql, REMOVE, {"paymentMethod": gid("PaymentMethod", new)}, TWO)
    assert problems(payload) == [("PAYMENT_METHOD_IN_USE", ["paymentMethod"])]
    assert "preferred" in payload["errors"][0]["message"]
    assert await writes(http, sandbox) == 0
    # Once another method is preferred, it goes.
    made = await act(gql, SET_DEFAULT, {"paymentMethod": gid("PaymentMethod", TWO_CARD)}, TWO)
    assert made["errors"] == []
    payload = await act(gql, REMOVE, {"paymentMethod": gid("PaymentMethod", new)}, TWO)
    assert payload["errors"] == []


async def test_the_last_method_stays_until_another_is_added(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    for account in MY_ACCOUNTS:  # no account's default any more: only the last one
        await merge_patch(http, sandbox, "billingAccount", account, {"defaultPaymentMethod": None})
    await call(http, "DELETE", f"{sandbox.url}/admin/stats")
    payload = await act(gql, REMOVE, {"paymentMethod": gid("PaymentMethod", MY_METHOD)})
    assert problems(payload) == [("PAYMENT_METHOD_IN_USE", ["paymentMethod"])]
    assert "only payment method" in payload["errors"][0]["message"]
    assert await writes(http, sandbox) == 0
    assert list(await stored(http, sandbox, "cus-000001")) == [MY_METHOD]


async def test_another_customers_method_cannot_be_removed(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    payload = await act(gql, REMOVE, {"paymentMethod": gid("PaymentMethod", OTHERS_METHOD)})
    assert problems(payload) == [("NOT_FOUND", ["paymentMethod"])]
    assert await writes(http, sandbox) == 0
    assert OTHERS_METHOD in await stored(http, sandbox, "cus-000003")


# -- who may act ------------------------------------------------------------------------------

ACTIONS = [
    pytest.param(ADD, {"card": card()}, id="addPaymentMethod"),
    pytest.param(SET_DEFAULT, {"paymentMethod": gid("PaymentMethod", MY_METHOD)}, id="setDefault"),
    pytest.param(REMOVE, {"paymentMethod": gid("PaymentMethod", MY_METHOD)}, id="remove"),
]


@pytest.mark.parametrize(("document", "given"), ACTIONS)
async def test_an_agent_must_name_the_customer(
    gql: GQL,
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    document: str,
    given: dict[str, Any],
) -> None:
    payload = await act(gql, document, given, principal=AGENT)
    assert problems(payload) == [("INVALID_INPUT", ["customer"])]
    assert await writes(http, sandbox) == 0


async def test_an_agent_manages_a_customers_methods_and_each_action_is_recorded_with_the_agent(
    gql: GQL, gateway: RunningGateway, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    customer = gid("Customer", "cus-000004")
    added = await act(gql, ADD, {"customer": customer, "sepaMandate": mandate()}, principal=AGENT)
    assert added["errors"] == []
    new = added["paymentMethod"]["reference"]
    moved = await act(
        gql,
        SET_DEFAULT,
        {"customer": customer, "paymentMethod": gid("PaymentMethod", new)},
        principal=AGENT,
    )
    assert moved["errors"] == []
    removed = await act(
        gql,
        REMOVE,
        {"customer": customer, "paymentMethod": gid("PaymentMethod", TWO_CARD)},
        principal=AGENT,
    )
    assert removed["errors"] == []
    assert await defaults(http, sandbox, "cus-000004") == dict.fromkeys(TWO_ACCOUNTS, new)
    assert set(await stored(http, sandbox, "cus-000004")) == {TWO_SEPA, new}
    for action in ("addPaymentMethod", "setDefaultPaymentMethod", "removePaymentMethod"):
        [record] = await interactions_of(http, sandbox, gateway, "cus-000004", action)
        assert record["reason"] == f"Assisted service: {action}"
        parties = {(p["role"], p["id"]) for p in record["relatedParty"]}
        assert parties == {("customer", "cus-000004"), ("agent", "a1")}
        assert record["channel"][0]["id"] == "agent-desktop"
        assert record["interactionItem"], record


async def test_an_agent_cannot_act_for_a_customer_that_does_not_exist(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    given = {"customer": gid("Customer", "cus-999999"), "card": card()}
    payload = await act(gql, ADD, given, principal=AGENT)
    assert problems(payload) == [("NOT_FOUND", ["customer"])]
    assert await writes(http, sandbox) == 0


async def test_a_customer_cannot_act_for_another(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    given = {"customer": gid("Customer", "cus-000003"), "card": card()}
    payload = await act(gql, ADD, given)
    assert problems(payload) == [("NOT_FOUND", ["customer"])]
    assert await writes(http, sandbox) == 0
    assert list(await stored(http, sandbox, "cus-000003")) == [OTHERS_METHOD]


@pytest.mark.parametrize(("document", "given"), ACTIONS)
@pytest.mark.parametrize(("who", "code"), NOT_SUBSTANTIAL)
async def test_who_may_not_manage_payment_methods(
    gql: GQL,
    gateway: RunningGateway,
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    dev_idp_key: Path,
    document: str,
    given: dict[str, Any],
    who: str | None,
    code: str,
) -> None:
    """Changing payment methods is "substantial"."""
    await refused_before_any_backend_request(http, gateway, dev_idp_key, who, code, document, given)
    assert await writes(http, sandbox) == 0
