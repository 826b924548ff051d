"""``payBill`` end to end: real tokens, a real gateway, the sandbox's TMF676 settling bills.

Each test checks the effect where it lives -- the sandbox's payments, bills and balances, and
the gateway's next answer (read-your-writes) -- and, for a refusal, that nothing was written
(the sandbox's count of TMF676 POSTs) or, for input that is wrong on its face, that no backend
was asked at all (the gateway's count of backend requests).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from graph.actions.runner import settle_seconds
from graph.auth.devidp import load_or_create_key, mint
from graph.sandbox import RunningSandbox
from graph.schema.common import encode_global_id
from graph.stores import MemoryIdempotency
from tests.gateway.conftest import (
    GQL,
    RunningGateway,
    running_gateway,
    settings_for,
    token_for,
)
from tests.support.tmf_client import call, url_of

ME = "customer:cus-000001"
AGENT = "agent:a1"
# Seed 7 (tests/conftest.py), as of 2026-11-26; tests assert the state they start from.
SENT_BILL = "cb-000001-2-23"  # sent, 14.98 EUR open, the only open bill of ba-000001-2
SENT_ACCOUNT = "ba-000001-2"
PART_BILL = "cb-000001-1-03"  # partiallyPaid, 26.62 EUR open, on ba-000001-1
PART_ACCOUNT = "ba-000001-1"
SETTLED_BILL = "cb-000001-1-01"
METHOD = "pm-000001-1"  # active SEPA debit of cus-000001
OTHERS_BILL = "cb-000003-1-12"  # cus-000003's, 96.40 EUR open
OTHERS_METHOD = "pm-000003-1"
TWO_BILLS = ("cb-000007-1-13", "cb-000007-1-24")  # cus-000007, both open on ba-000007-1
TWO_BILLS_ACCOUNT = "ba-000007-1"
TWO_BILLS_METHOD = "pm-000007-1"
CARD_NUMBER = "4111111111111111"  # Luhn-valid test card number

MONEY = "{ amount currency }"
PAY = f"""mutation($input: PayBillInput!) {{ payBill(input: $input) {{
  payment {{ id reference status channel totalAmount {MONEY}
    items {{ amount {MONEY} bill {{ reference }} }}
    method {{ reference }} account {{ reference }} }}
  bills {{ id reference state remainingAmount {MONEY} }}
  account {{ reference outstanding {MONEY} paymentStatus }}
  errors {{ code message field }}
}} }}"""
ACCOUNTS = f"""{{ me {{ billingAccounts {{
  reference outstanding {MONEY}
  payments(first: 100) {{ edges {{ node {{ reference totalAmount {MONEY} }} }} }}
}} }} }}"""
BILL = f"""query($id: ID!) {{ node(id: $id) {{ ... on Bill {{
  reference state remainingAmount {MONEY} }} }} }}"""


def gid(type_name: str, tmf_id: str) -> str:
    return encode_global_id(type_name, tmf_id)


def new_key() -> str:
    return str(uuid.uuid4())


def pay_input(
    *bills: str | tuple[str, str],
    method: str | None = METHOD,
    key: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A PayBillInput: bills by backend id, optionally (id, amount)."""
    shares = [
        {"bill": gid("Bill", b)}
        if isinstance(b, str)
        else {"bill": gid("Bill", b[0]), "amount": b[1]}
        for b in bills
    ]
    given: dict[str, Any] = {"bills": shares, "idempotencyKey": key or new_key(), **extra}
    if method is not None:
        given["paymentMethod"] = gid("PaymentMethod", method)
    return given


async def pay(gql: GQL, given: dict[str, Any], principal: str = ME) -> dict[str, Any]:
    """The payBill payload (no GraphQL error expected)."""
    result = await gql(PAY, {"input": given}, principal=principal)
    assert "errors" not in result, result
    payload: dict[str, Any] = result["data"]["payBill"]
    return payload


def refused(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    """(code, field) of each user error, after checking that nothing was returned."""
    assert payload["payment"] is None, payload
    assert payload["bills"] == []
    assert payload["account"] is None
    assert payload["errors"], payload
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def fetch(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, collection: str, record_id: str
) -> dict[str, Any]:
    reply = await call(http, "GET", url_of(sandbox.url, collection, record_id))
    assert reply.status == 200, reply.body
    record: dict[str, Any] = reply.body
    return record


async def payments_of(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, account: str
) -> list[dict[str, Any]]:
    """The account's payments as TMF676 lists them."""
    reply = await call(
        http, "GET", url_of(sandbox.url, "payment"), params={"account.id": account, "limit": "1000"}
    )
    assert reply.status == 200, reply.body
    records: list[dict[str, Any]] = reply.body
    return records


async def payment_posts(http: aiohttp.ClientSession, sandbox: RunningSandbox) -> int:
    """How many POSTs TMF676 has received."""
    stats = (await call(http, "GET", f"{sandbox.url}/admin/stats")).body["apis"]
    return int(stats.get("TMF676", {}).get("byMethod", {}).get("POST", 0))


def outstanding(account: dict[str, Any]) -> str:
    return str(
        next(b for b in account["accountBalance"] if b["balanceType"] == "outstanding")["amount"][
            "value"
        ]
    )


async def wait_for_audit(gateway: RunningGateway, within: float = 5.0) -> None:
    """Until the gateway's audit writer has sent every record to TMF683."""
    deadline = time.monotonic() + within
    while gateway.state.audit.pending:
        assert time.monotonic() < deadline, "audit records still pending"
        await asyncio.sleep(0.02)


async def interactions_of(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, customer: str
) -> list[dict[str, Any]]:
    reply = await call(
        http,
        "GET",
        url_of(sandbox.url, "partyInteraction"),
        params={"relatedParty.id": customer, "limit": "1000"},
    )
    assert reply.status == 200, reply.body
    records: list[dict[str, Any]] = reply.body
    return [r for r in records if r.get("reason", "").endswith(": payBill")]


async def post_as(
    http: aiohttp.ClientSession,
    gateway: RunningGateway,
    token: str,
    query: str,
    variables: dict[str, Any],
) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    body = orjson.dumps({"query": query, "variables": variables})
    async with http.post(f"{gateway.url}/graphql", data=body, headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        result: dict[str, Any] = orjson.loads(await resp.read())
        return result


def new_card(**overrides: Any) -> dict[str, Any]:
    return {
        "token": "tok_" + uuid.uuid4().hex,
        "brand": "Visa",
        "lastFourDigits": "4242",
        "expiryMonth": 12,
        "expiryYear": 2029,
        **overrides,
    }


# -- paying ------------------------------------------------------------------------------------


async def test_paying_a_bill_in_full_settles_it_and_the_next_query_sees_the_payment(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    bill = await fetch(http, sandbox, "customerBill", SENT_BILL)
    assert bill["state"] == "sent"
    assert bill["remainingAmount"] == {"unit": "EUR", "value": 14.98}
    assert outstanding(await fetch(http, sandbox, "billingAccount", SENT_ACCOUNT)) == "14.98"
    before = await payments_of(http, sandbox, SENT_ACCOUNT)

    payload = await pay(gql, pay_input(SENT_BILL))

    assert payload["errors"] == []
    payment = payload["payment"]
    assert payment["status"] == "done"
    assert payment["totalAmount"] == {"amount": "14.98", "currency": "EUR"}
    assert payment["items"] == [
        {"amount": {"amount": "14.98", "currency": "EUR"}, "bill": {"reference": SENT_BILL}}
    ]
    assert payment["method"] == {"reference": METHOD}
    assert payment["account"] == {"reference": SENT_ACCOUNT}
    assert payload["bills"] == [
        {
            "id": gid("Bill", SENT_BILL),
            "reference": SENT_BILL,
            "state": "SETTLED",
            "remainingAmount": {"amount": "0.00", "currency": "EUR"},
        }
    ]
    assert payload["account"] == {
        "reference": SENT_ACCOUNT,
        "outstanding": {"amount": "0.00", "currency": "EUR"},
        "paymentStatus": "paid",
    }

    # The system of record: one more payment, the bill settled, the balance down.
    after = await payments_of(http, sandbox, SENT_ACCOUNT)
    assert len(after) == len(before) + 1
    made = next(p for p in after if p["id"] == payment["reference"])
    assert made["totalAmount"] == {"unit": "EUR", "value": 14.98}
    assert made["payer"]["id"] == "cus-000001"
    assert made["correlatorId"].startswith("csm-")
    assert (await fetch(http, sandbox, "customerBill", SENT_BILL))["state"] == "settled"
    assert outstanding(await fetch(http, sandbox, "billingAccount", SENT_ACCOUNT)) == "0.0"

    # Read-your-writes: the next query sees the payment and the new balance.
    seen = await gql(ACCOUNTS, principal=ME)
    assert "errors" not in seen, seen
    account = next(
        a for a in seen["data"]["me"]["billingAccounts"] if a["reference"] == SENT_ACCOUNT
    )
    assert account["outstanding"] == {"amount": "0.00", "currency": "EUR"}
    references = [e["node"]["reference"] for e in account["payments"]["edges"]]
    assert payment["reference"] in references
    node = await gql(BILL, {"id": gid("Bill", SENT_BILL)}, principal=ME)
    assert node["data"]["node"]["state"] == "SETTLED"


async def test_a_partial_amount_leaves_the_bill_partially_paid(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    assert (await fetch(http, sandbox, "customerBill", SENT_BILL))["state"] == "sent"
    payload = await pay(gql, pay_input((SENT_BILL, "10.00")))
    assert payload["errors"] == []
    assert payload["payment"]["totalAmount"] == {"amount": "10.00", "currency": "EUR"}
    assert payload["bills"][0]["state"] == "PARTIALLY_PAID"
    assert payload["bills"][0]["remainingAmount"] == {"amount": "4.98", "currency": "EUR"}
    assert payload["account"]["outstanding"] == {"amount": "4.98", "currency": "EUR"}
    bill = await fetch(http, sandbox, "customerBill", SENT_BILL)
    assert bill["state"] == "partiallyPaid"
    assert bill["remainingAmount"] == {"unit": "EUR", "value": 4.98}
    node = await gql(BILL, {"id": gid("Bill", SENT_BILL)}, principal=ME)
    assert node["data"]["node"]["remainingAmount"] == {"amount": "4.98", "currency": "EUR"}


async def test_two_bills_of_one_account_in_one_payment(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    first, second = [await fetch(http, sandbox, "customerBill", b) for b in TWO_BILLS]
    assert first["remainingAmount"]["value"] == 41.76
    assert second["remainingAmount"]["value"] == 49.97
    before = await payments_of(http, sandbox, TWO_BILLS_ACCOUNT)

    payload = await pay(
        gql,
        pay_input(TWO_BILLS[0], (TWO_BILLS[1], "20.00"), method=TWO_BILLS_METHOD),
        principal="customer:cus-000007",
    )

    assert payload["errors"] == []
    assert payload["payment"]["totalAmount"] == {"amount": "61.76", "currency": "EUR"}
    assert sorted(
        (i["bill"]["reference"], i["amount"]["amount"]) for i in payload["payment"]["items"]
    ) == [(TWO_BILLS[0], "41.76"), (TWO_BILLS[1], "20.00")]
    assert [
        (b["reference"], b["state"], b["remainingAmount"]["amount"]) for b in payload["bills"]
    ] == [
        (TWO_BILLS[0], "SETTLED", "0.00"),
        (TWO_BILLS[1], "PARTIALLY_PAID", "29.97"),
    ]
    assert payload["account"]["outstanding"] == {"amount": "29.97", "currency": "EUR"}
    after = await payments_of(http, sandbox, TWO_BILLS_ACCOUNT)
    assert len(after) == len(before) + 1


async def test_paying_with_a_new_tokenized_card_stores_only_the_token(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    card = new_card()
    payload = await pay(gql, pay_input(SENT_BILL, method=None, newCard=card))
    assert payload["errors"] == []
    assert card["token"] not in orjson.dumps(payload).decode()
    made = await fetch(http, sandbox, "payment", payload["payment"]["reference"])
    method = made["paymentMethod"]
    assert method["@type"] == "tokenizedCard"
    assert method["token"] == card["token"]
    assert method["lastFourDigits"] == "4242"
    assert method["expirationDate"].startswith("2029-12-31")
    assert (await fetch(http, sandbox, "customerBill", SENT_BILL))["state"] == "settled"


# -- refusals ----------------------------------------------------------------------------------


async def test_another_customers_bill_is_not_found_and_nothing_is_posted(
    gql: GQL, gateway: RunningGateway, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    posts = await payment_posts(http, sandbox)
    before = await payments_of(http, sandbox, "ba-000003-1")
    payload = await pay(gql, pay_input(OTHERS_BILL))
    assert refused(payload) == [("NOT_FOUND", ["bills", "0", "bill"])]
    # Mixed with one's own bill: only the other customer's is named.
    payload = await pay(gql, pay_input(SENT_BILL, OTHERS_BILL))
    assert refused(payload) == [("NOT_FOUND", ["bills", "1", "bill"])]
    assert await payment_posts(http, sandbox) == posts
    assert await payments_of(http, sandbox, "ba-000003-1") == before
    assert (await fetch(http, sandbox, "customerBill", OTHERS_BILL))["state"] == "sent"
    # The message does not tell whether the bill exists.
    missing = await pay(gql, pay_input("cb-999999-1-01"))
    assert missing["errors"][0]["message"] == payload["errors"][0]["message"]


@pytest.mark.parametrize(
    ("amount", "why"),
    [("-5.00", "negative"), ("0", "zero"), ("0.00", "zero"), ("1.005", "three decimals"),
     ("100000.01", "over the maximum")],
)  # fmt: skip
async def test_invalid_amounts_are_refused_before_any_backend_request(
    gql: GQL,
    gateway: RunningGateway,
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    amount: str,
    why: str,
) -> None:
    requests = gateway.backend_requests()
    payload = await pay(gql, pay_input((SENT_BILL, amount)))
    assert refused(payload) == [("INVALID_AMOUNT", ["bills", "0", "amount"])], why
    assert gateway.backend_requests() == requests
    assert await payment_posts(http, sandbox) == 0


async def test_a_non_decimal_amount_is_bad_user_input(
    gql: GQL, gateway: RunningGateway, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    requests = gateway.backend_requests()
    for amount in ("ten", "1e400x", ""):
        result = await gql(PAY, {"input": pay_input((SENT_BILL, amount))}, principal=ME)
        assert result["data"] is None
        assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", result
    assert gateway.backend_requests() == requests
    assert await payment_posts(http, sandbox) == 0


async def test_more_than_remains_is_refused(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    payload = await pay(gql, pay_input((SENT_BILL, "14.99")))
    assert refused(payload) == [("AMOUNT_EXCEEDS_REMAINING", ["bills", "0", "amount"])]
    assert "14.98" in payload["errors"][0]["message"]
    assert await payment_posts(http, sandbox) == 0


async def test_a_settled_bill_has_nothing_to_pay(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    assert (await fetch(http, sandbox, "customerBill", SETTLED_BILL))["state"] == "settled"
    payload = await pay(gql, pay_input(SETTLED_BILL))
    assert refused(payload) == [("NOTHING_TO_PAY", ["bills", "0"])]
    # Every problem of the kind is named, each with its path.
    payload = await pay(gql, pay_input(SETTLED_BILL, (PART_BILL, "99.00"), "cb-000001-1-02"))
    assert refused(payload) == [
        ("NOTHING_TO_PAY", ["bills", "0"]),
        ("AMOUNT_EXCEEDS_REMAINING", ["bills", "1", "amount"]),
        ("NOTHING_TO_PAY", ["bills", "2"]),
    ]
    assert await payment_posts(http, sandbox) == 0


async def test_bills_of_two_accounts_are_refused(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    payload = await pay(gql, pay_input(SENT_BILL, PART_BILL))
    assert refused(payload) == [("INVALID_INPUT", ["bills"])]
    assert await payment_posts(http, sandbox) == 0


@pytest.mark.parametrize(
    "bills",
    [
        pytest.param([SENT_BILL, SENT_BILL], id="the same bill twice"),
        pytest.param([], id="no bill"),
        pytest.param([f"cb-000001-1-{n:02d}" for n in range(1, 22)], id="21 bills"),
    ],
)
async def test_malformed_bill_lists_are_refused_before_any_backend_request(
    gql: GQL, gateway: RunningGateway, bills: list[str]
) -> None:
    requests = gateway.backend_requests()
    payload = await pay(gql, pay_input(*bills))
    assert refused(payload) == [("INVALID_INPUT", ["bills"])]
    assert gateway.backend_requests() == requests


async def test_not_a_bill_id_is_refused(gql: GQL, gateway: RunningGateway) -> None:
    requests = gateway.backend_requests()
    given = pay_input(SENT_BILL)
    given["bills"][0]["bill"] = gid("PaymentMethod", METHOD)
    assert refused(await pay(gql, given)) == [("INVALID_INPUT", ["bills", "0", "bill"])]
    given["bills"][0]["bill"] = "not-a-global-id"
    assert refused(await pay(gql, given)) == [("INVALID_INPUT", ["bills", "0", "bill"])]
    assert gateway.backend_requests() == requests


async def test_an_unusable_payment_method_is_refused(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    reply = await call(
        http, "PATCH", url_of(sandbox.url, "paymentMethod", METHOD), json={"status": "inactive"}
    )
    assert reply.status == 200, reply.body
    payload = await pay(gql, pay_input(SENT_BILL))
    assert refused(payload) == [("PAYMENT_METHOD_UNUSABLE", ["paymentMethod"])]
    # Active again, but past its validity.
    reply = await call(
        http,
        "PATCH",
        url_of(sandbox.url, "paymentMethod", METHOD),
        json={
            "status": "active",
            "validFor": {
                "startDateTime": "2022-10-21T10:00:00Z",
                "endDateTime": "2026-10-31T23:59:59Z",
            },
        },
    )
    assert reply.status == 200, reply.body
    payload = await pay(gql, pay_input(SENT_BILL))
    assert refused(payload) == [("PAYMENT_METHOD_UNUSABLE", ["paymentMethod"])]
    assert await payment_posts(http, sandbox) == 0


async def test_another_customers_payment_method_is_not_found(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    payload = await pay(gql, pay_input(SENT_BILL, method=OTHERS_METHOD))
    assert refused(payload) == [("NOT_FOUND", ["paymentMethod"])]
    payload = await pay(gql, pay_input(SENT_BILL, method="pm-999999-9"))
    assert refused(payload) == [("NOT_FOUND", ["paymentMethod"])]
    assert await payment_posts(http, sandbox) == 0


@pytest.mark.parametrize("both", [True, False], ids=["both", "neither"])
async def test_both_or_neither_payment_method_is_refused_before_any_backend_request(
    gql: GQL,
    gateway: RunningGateway,
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    both: bool,
) -> None:
    requests = gateway.backend_requests()
    given = pay_input(SENT_BILL, method=METHOD if both else None)
    if both:
        given["newCard"] = new_card()
    payload = await pay(gql, given)
    assert refused(payload) == [("INVALID_INPUT", ["paymentMethod"])]
    assert gateway.backend_requests() == requests
    assert await payment_posts(http, sandbox) == 0


@pytest.mark.parametrize(
    ("card", "field"),
    [
        pytest.param({"token": CARD_NUMBER}, "token", id="token"),
        pytest.param({"token": "4111 1111 1111 1111"}, "token", id="token with spaces"),
    ],
)
async def test_a_card_number_is_refused_and_never_stored_echoed_or_logged(
    gql: GQL,
    gateway: RunningGateway,
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    card: dict[str, str],
    field: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    requests = gateway.backend_requests()
    given = pay_input(SENT_BILL, method=None, newCard=new_card(**card))
    result = await gql(PAY, {"input": given}, principal=ME)
    assert refused(result["data"]["payBill"]) == [("CARD_NUMBER_REFUSED", ["newCard", field])]
    assert gateway.backend_requests() == requests
    assert await payment_posts(http, sandbox) == 0
    digits = CARD_NUMBER
    assert digits not in orjson.dumps(result).decode()
    assert "4111 1111" not in orjson.dumps(result).decode()
    assert digits not in caplog.text
    assert "4111 1111" not in caplog.text
    recent = await call(http, "GET", f"{sandbox.url}/admin/requests")
    assert digits not in orjson.dumps(recent.body).decode()
    for account in (SENT_ACCOUNT, PART_ACCOUNT):
        assert digits not in orjson.dumps(await payments_of(http, sandbox, account)).decode()


async def test_an_idempotency_key_reused_for_another_request_is_refused(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    key = new_key()
    before = await payments_of(http, sandbox, SENT_ACCOUNT)
    first = await pay(gql, pay_input((SENT_BILL, "5.00"), key=key))
    assert first["errors"] == []
    for other in (
        pay_input((SENT_BILL, "6.00"), key=key),
        pay_input(SENT_BILL, key=key),
        pay_input(PART_BILL, key=key),
        pay_input((SENT_BILL, "5.00"), key=key, method=None, newCard=new_card()),
    ):
        assert refused(await pay(gql, other)) == [("IDEMPOTENCY_KEY_REUSED", ["idempotencyKey"])]
    assert len(await payments_of(http, sandbox, SENT_ACCOUNT)) == len(before) + 1
    assert await payment_posts(http, sandbox) == 1


async def test_a_refused_request_frees_its_key_for_the_corrected_one(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    key = new_key()
    wrong = await pay(gql, pay_input((SENT_BILL, "99.00"), key=key))
    assert refused(wrong) == [("AMOUNT_EXCEEDS_REMAINING", ["bills", "0", "amount"])]
    right = await pay(gql, pay_input((SENT_BILL, "9.00"), key=key))
    assert right["errors"] == []
    assert right["payment"]["totalAmount"]["amount"] == "9.00"


@pytest.mark.parametrize(
    "key", ["short", "has spaces in it", "x" * 129, "slash/not/allowed", "ключ-платежа-1"]
)
async def test_a_malformed_idempotency_key_is_refused_before_any_backend_request(
    gql: GQL, gateway: RunningGateway, key: str
) -> None:
    requests = gateway.backend_requests()
    payload = await pay(gql, pay_input(SENT_BILL, key=key))
    assert refused(payload) == [("INVALID_INPUT", ["idempotencyKey"])]
    assert gateway.backend_requests() == requests


# -- idempotency -------------------------------------------------------------------------------


async def test_the_same_request_twice_pays_once_and_answers_the_same(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    before = await payments_of(http, sandbox, SENT_ACCOUNT)
    given = pay_input((SENT_BILL, "4.00"))
    first = await pay(gql, given)
    second = await pay(gql, given)
    assert first["errors"] == []
    assert second == first
    assert len(await payments_of(http, sandbox, SENT_ACCOUNT)) == len(before) + 1
    assert (await fetch(http, sandbox, "customerBill", SENT_BILL))["remainingAmount"][
        "value"
    ] == 10.98


async def test_five_concurrent_requests_pay_once_and_answer_the_same(
    gql: GQL, gateway: RunningGateway, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    before = await payments_of(http, sandbox, SENT_ACCOUNT)
    given = pay_input(SENT_BILL)
    payloads = await asyncio.gather(*(pay(gql, given) for _ in range(5)))
    assert payloads[0]["errors"] == []
    assert all(p == payloads[0] for p in payloads)
    after = await payments_of(http, sandbox, SENT_ACCOUNT)
    assert len(after) == len(before) + 1
    assert await payment_posts(http, sandbox) == 1
    # One action, one record.
    await wait_for_audit(gateway)
    assert len(await interactions_of(http, sandbox, "cus-000001")) == 1


async def test_a_lost_outcome_is_found_again_by_its_correlator(
    gql: GQL, gateway: RunningGateway, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    before = await payments_of(http, sandbox, SENT_ACCOUNT)
    given = pay_input(SENT_BILL)
    first = await pay(gql, given)
    assert first["errors"] == []
    store = gateway.state.stores.idempotency
    assert isinstance(store, MemoryIdempotency)
    store._entries = {}  # the outcome was lost (a restart, an evicted key)
    again = await pay(gql, given)
    assert again["errors"] == []
    assert again["payment"]["reference"] == first["payment"]["reference"]
    assert again == first
    assert len(await payments_of(http, sandbox, SENT_ACCOUNT)) == len(before) + 1
    assert await payment_posts(http, sandbox) == 1


async def test_a_lost_outcome_does_not_let_the_key_pay_for_another_request(
    gql: GQL, gateway: RunningGateway, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    key = new_key()
    first = await pay(gql, pay_input((SENT_BILL, "5.00"), key=key))
    assert first["errors"] == []
    store = gateway.state.stores.idempotency
    assert isinstance(store, MemoryIdempotency)
    store._entries = {}
    # Same key, another amount: not "already done" with the first payment's outcome.
    other = await pay(gql, pay_input((SENT_BILL, "6.00"), key=key))
    assert refused(other) == [("IDEMPOTENCY_KEY_REUSED", ["idempotencyKey"])]
    assert await payment_posts(http, sandbox) == 1


# -- who may pay -------------------------------------------------------------------------------


async def test_an_agent_pays_for_the_customer_and_the_interaction_names_both(
    gql: GQL, gateway: RunningGateway, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    before = await interactions_of(http, sandbox, "cus-000001")
    payload = await pay(gql, pay_input(SENT_BILL, customer="cus-000001"), principal=AGENT)
    assert payload["errors"] == []
    assert payload["bills"][0]["state"] == "SETTLED"
    made = await fetch(http, sandbox, "payment", payload["payment"]["reference"])
    assert made["payer"]["id"] == "cus-000001"
    assert made["channel"]["id"] == "agent-desktop"

    await wait_for_audit(gateway)
    records = [r for r in await interactions_of(http, sandbox, "cus-000001") if r not in before]
    assert len(records) == 1
    record = records[0]
    assert record["reason"] == "Assisted service: payBill"
    parties = {(p["role"], p["id"]) for p in record["relatedParty"]}
    assert parties == {("customer", "cus-000001"), ("agent", "a1")}
    assert [c["id"] for c in record["channel"]] == ["agent-desktop"]
    assert record["channel"][0]["name"] == "Call centre"
    items = {
        (i["item"]["name"], i["item"]["id"], i["item"]["role"]) for i in record["interactionItem"]
    }
    assert items == {
        ("payment", payload["payment"]["reference"], "created"),
        ("customerBill", SENT_BILL, "paid"),
    }
    assert "a1" in record["description"]


async def test_a_customer_paying_alone_is_recorded_as_self_service(
    gql: GQL, gateway: RunningGateway, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    payload = await pay(gql, pay_input(SENT_BILL))
    assert payload["errors"] == []
    await wait_for_audit(gateway)
    [record] = await interactions_of(http, sandbox, "cus-000001")
    assert record["reason"] == "Self-service: payBill"
    assert [(p["role"], p["id"]) for p in record["relatedParty"]] == [("customer", "cus-000001")]
    assert record["channel"][0]["id"] == "web"


async def test_an_agent_must_name_the_customer(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    payload = await pay(gql, pay_input(SENT_BILL), principal=AGENT)
    assert refused(payload) == [("INVALID_INPUT", ["customer"])]
    payload = await pay(gql, pay_input(SENT_BILL, customer="cus-999999"), principal=AGENT)
    assert refused(payload) == [("NOT_FOUND", ["customer"])]
    assert await payment_posts(http, sandbox) == 0


async def test_an_agent_cannot_pay_another_customers_bill_for_the_customer(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    payload = await pay(
        gql, pay_input(OTHERS_BILL, customer=gid("Customer", "cus-000001")), principal=AGENT
    )
    assert refused(payload) == [("NOT_FOUND", ["bills", "0", "bill"])]
    # Nor with the assisted customer's bill and another customer's payment method.
    payload = await pay(
        gql, pay_input(SENT_BILL, method=OTHERS_METHOD, customer="cus-000001"), principal=AGENT
    )
    assert refused(payload) == [("NOT_FOUND", ["paymentMethod"])]
    assert await payment_posts(http, sandbox) == 0
    assert (await fetch(http, sandbox, "customerBill", OTHERS_BILL))["state"] == "sent"


async def test_a_customer_cannot_name_another_customer(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    payload = await pay(gql, pay_input(OTHERS_BILL, customer="cus-000003"))
    assert refused(payload) == [("NOT_FOUND", ["customer"])]
    assert await payment_posts(http, sandbox) == 0


async def test_an_analyst_is_forbidden(
    gql: GQL, gateway: RunningGateway, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    requests = gateway.backend_requests()
    result = await gql(PAY, {"input": pay_input(SENT_BILL)}, principal="analyst:x1")
    assert result["data"] is None
    assert [e["extensions"]["code"] for e in result["errors"]] == ["FORBIDDEN"]
    assert gateway.backend_requests() == requests
    assert await payment_posts(http, sandbox) == 0


async def test_anonymous_is_unauthenticated(
    gql: GQL, gateway: RunningGateway, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    requests = gateway.backend_requests()
    result = await gql(PAY, {"input": pay_input(SENT_BILL)})
    assert result["data"] is None
    assert [e["extensions"]["code"] for e in result["errors"]] == ["UNAUTHENTICATED"]
    assert gateway.backend_requests() == requests
    assert await payment_posts(http, sandbox) == 0


async def test_a_low_assurance_sign_in_pays_with_a_stored_method_but_not_a_new_card(
    gateway: RunningGateway, sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    token = mint(
        load_or_create_key(dev_idp_key),
        role="customer",
        channel="web",
        customer_id="cus-000001",
        subject="cus-000001",
        acr="low",
        ttl_seconds=600,
    )
    requests = gateway.backend_requests()
    card = await post_as(
        http, gateway, token, PAY, {"input": pay_input(SENT_BILL, method=None, newCard=new_card())}
    )
    assert "errors" not in card, card
    assert refused(card["data"]["payBill"]) == [("NOT_ALLOWED", ["newCard"])]
    assert gateway.backend_requests() == requests
    stored = await post_as(http, gateway, token, PAY, {"input": pay_input(SENT_BILL)})
    assert "errors" not in stored, stored
    assert stored["data"]["payBill"]["errors"] == []
    assert stored["data"]["payBill"]["bills"][0]["state"] == "SETTLED"
    assert await payment_posts(http, sandbox) == 1


# -- backends failing --------------------------------------------------------------------------


async def test_a_failing_payment_backend_is_an_error_and_pays_nothing(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    before = await payments_of(http, sandbox, SENT_ACCOUNT)
    fault = {"error_rate": 1.0, "error_status": 503}
    reply = await call(http, "PUT", f"{sandbox.url}/admin/faults/TMF676", json=fault)
    assert reply.status == 200, reply.body
    given = pay_input(SENT_BILL)
    result = await gql(PAY, {"input": given}, principal=ME)
    assert result["data"] is None
    assert [e["extensions"]["code"] for e in result["errors"]] == ["BACKEND_UNAVAILABLE"]
    assert "TMF676" in result["errors"][0]["message"]
    await call(http, "DELETE", f"{sandbox.url}/admin/faults")
    assert await payments_of(http, sandbox, SENT_ACCOUNT) == before
    assert (await fetch(http, sandbox, "customerBill", SENT_BILL))["state"] == "sent"
    # The key was not used up: the same request, once the backend is back, pays.
    payload = await pay(gql, given)
    assert payload["errors"] == []
    assert len(await payments_of(http, sandbox, SENT_ACCOUNT)) == len(before) + 1


async def test_a_bill_paid_meanwhile_is_a_user_error_not_a_backend_failure(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    # Two payments of the same bill with different keys race: both read 14.98 open (TMF676 is
    # slowed down, so both have read the bill before either pays); the backend takes the first
    # and refuses the second, which must come back as a typed error, not a backend outage.
    before = await payments_of(http, sandbox, SENT_ACCOUNT)
    fault = {"latency_ms": 150}
    reply = await call(http, "PUT", f"{sandbox.url}/admin/faults/TMF676", json=fault)
    assert reply.status == 200, reply.body
    results = await asyncio.gather(
        *(gql(PAY, {"input": pay_input(SENT_BILL)}, principal=ME) for _ in range(2))
    )
    assert all("errors" not in r for r in results), results
    payloads = [r["data"]["payBill"] for r in results]
    [paid] = [p for p in payloads if not p["errors"]]
    [other] = [p for p in payloads if p["errors"]]
    assert [code for code, _ in refused(other)] in (["BACKEND_REFUSED"], ["NOTHING_TO_PAY"])
    assert await payment_posts(http, sandbox) == 2  # both were sent: the race is real
    after = await payments_of(http, sandbox, SENT_ACCOUNT)
    assert [p["id"] for p in after if p not in before] == [paid["payment"]["reference"]]


async def test_without_its_idempotency_store_payment_fails_closed(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    settings = settings_for(sandbox, redis_url=f"redis://127.0.0.1:{closed}/0", events=False)
    async with running_gateway(settings) as gateway:
        assert gateway.state.stores.backend == "redis"
        token = token_for(ME, dev_idp_key)
        result = await post_as(http, gateway, token, PAY, {"input": pay_input(SENT_BILL)})
    assert result["data"] is None
    assert [e["extensions"]["code"] for e in result["errors"]] == ["BACKEND_UNAVAILABLE"]
    assert "nothing was done" in result["errors"][0]["message"]
    assert await payment_posts(http, sandbox) == 0
    assert (await fetch(http, sandbox, "customerBill", SENT_BILL))["state"] == "sent"


async def test_a_payment_that_lands_after_its_timeout_is_not_made_twice(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    """The POST times out at the gateway but the billing system carries it out. A repeat at
    once is told to wait (the outcome is unsettled), not run against a payment still in
    flight; once settled, the repeat finds that payment by its correlator: one payment."""
    before = await payments_of(http, sandbox, SENT_ACCOUNT)
    settings = settings_for(sandbox, backend_timeout=0.3, events=False)
    async with running_gateway(settings) as gateway:
        token = token_for(ME, dev_idp_key)
        fault = {"answer_latency_ms": 600, "methods": ["POST"]}
        await call(http, "PUT", f"{sandbox.url}/admin/faults/TMF676", json=fault)
        given = {"input": pay_input(SENT_BILL)}
        first = await post_as(http, gateway, token, PAY, given)
        assert [e["extensions"]["code"] for e in first["errors"]] == ["BACKEND_TIMEOUT"]
        await call(http, "DELETE", f"{sandbox.url}/admin/faults")
        again = await post_as(http, gateway, token, PAY, given)
        assert refused(again["data"]["payBill"]) == [("ACTION_IN_PROGRESS", ["idempotencyKey"])]
        landed = [p for p in await payments_of(http, sandbox, SENT_ACCOUNT) if p not in before]
        assert len(landed) == 1  # the first attempt's payment is there
        await asyncio.sleep(settle_seconds(0.3) + 0.2)
        settled = await post_as(http, gateway, token, PAY, given)
    payload = settled["data"]["payBill"]
    assert payload["errors"] == []
    assert payload["payment"]["reference"] == landed[0]["id"]
    after = [p for p in await payments_of(http, sandbox, SENT_ACCOUNT) if p not in before]
    assert [p["id"] for p in after] == [landed[0]["id"]]
