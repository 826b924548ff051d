"""What every action shares: errors never quote card numbers, one operation holds a bounded
number of actions, and an agent's action is recorded with everything it read."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import pytest

from graph.auth.audit import REASON
from graph.sandbox import RunningSandbox
from tests.gateway.conftest import GQL, RunningGateway
from tests.gateway.test_actions_pay_bill import (
    AGENT,
    ME,
    PAY,
    SENT_BILL,
    new_key,
    pay_input,
    wait_for_audit,
)
from tests.support.tmf_client import call, url_of

CARD = "4111 1111 1111 1111"
REGISTER = """mutation($a: RegisterCustomerInput!, $b: RegisterCustomerInput!) {
  first: registerCustomer(input: $a) { customer { id } errors { code } }
  second: registerCustomer(input: $b) { customer { id } errors { code } } }"""


async def test_an_input_error_never_quotes_a_card_number(
    gql: GQL, caplog: pytest.LogCaptureFixture
) -> None:
    """graphql-core quotes the offending value when an input does not coerce (here, a card
    without its expiry): the number is redacted from the error."""
    caplog.set_level(logging.DEBUG)
    given = pay_input(SENT_BILL, method=None)
    given["newCard"] = {"token": CARD, "lastFourDigits": "1111", "expiryYear": 2030}
    result = await gql(PAY, {"input": given}, principal=ME)
    assert result["data"] is None
    (error,) = result["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "expiryMonth" in error["message"]
    assert "[redacted]" in error["message"]
    for shown in (str(result), caplog.text):
        assert "4111" not in shown
        assert "1111 1111" not in shown


async def test_an_anonymous_caller_registers_one_customer_per_request(
    gql: GQL, gateway: RunningGateway
) -> None:
    def person(n: int) -> dict[str, Any]:
        return {"givenName": "Ada", "familyName": f"Batch{n}", "email": f"ada{n}@example.org"}

    before = gateway.backend_requests()
    result = await gql(REGISTER, {"a": person(1), "b": person(2)})
    assert result["data"] is None
    (error,) = result["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "actions": 2, "maxActions": 1}
    assert gateway.backend_requests() == before


async def test_a_customer_sends_at_most_five_actions_at_once(
    gql: GQL, gateway: RunningGateway
) -> None:
    aliases = " ".join(f"p{n}: payBill(input: $input) {{ errors {{ code }} }}" for n in range(6))
    query = f"mutation($input: PayBillInput!) {{ {aliases} }}"
    before = gateway.backend_requests()
    result = await gql(query, {"input": pay_input(SENT_BILL)}, principal=ME)
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["maxActions"] == 5
    assert gateway.backend_requests() == before


async def test_an_agents_action_records_what_it_read_for_the_agent(
    gql: GQL, gateway: RunningGateway, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    """The action runs in the customer's scope, over the agent's observed sources: the bills,
    the account and the payment it read or made are in the agent's access record."""
    given = pay_input(SENT_BILL, customer="cus-000001", key=new_key())
    result = await gql(PAY, {"input": given}, principal=AGENT)
    assert result["data"]["payBill"]["errors"] == []
    viewed: list[dict[str, Any]] = []
    for _ in range(100):  # the access record is queued when the request ends
        await wait_for_audit(gateway)
        reply = await call(
            http,
            "GET",
            url_of(sandbox.url, "partyInteraction"),
            params={"relatedParty.id": "cus-000001", "limit": "1000"},
        )
        records = reply.body
        viewed = [r for r in records if r.get("reason") == REASON]
        if viewed:
            break
        await asyncio.sleep(0.05)
    assert viewed
    names = {item["item"]["name"] for r in viewed for item in r["interactionItem"]}
    assert {"customerBill", "billingAccount", "payment"} <= names, names
