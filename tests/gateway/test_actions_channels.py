"""Actions per channel: the IVR and the kiosk act only through their trusted operations, a PIN
pays only with a stored method, and what a PIN may not do is refused before any backend call."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from graph.ids import decode_global_id
from graph.operations import manifest_at
from graph.sandbox import RunningSandbox
from tests.gateway.conftest import RunningGateway
from tests.gateway.test_channel_policy import IVR, KIOSK, Client
from tests.support.tmf_client import call, url_of

PAY_ADHOC = """mutation($input: PayBillInput!) { payBill(input: $input) {
  payment { reference } errors { code } } }"""


def doc(name: str) -> str:
    return manifest_at().by_name(name).document


@pytest.fixture
def client(gateway: RunningGateway, http: aiohttp.ClientSession, dev_idp_key: Path) -> Client:
    return Client(gateway, http, dev_idp_key)


async def _open_bill(client: Client, principal: str) -> dict[str, Any]:
    data = await client.ok(doc("IvrBalance" if principal == IVR else "KioskBill"), principal)
    return next(
        e["node"]
        for e in data["me"]["bills"]["edges"]
        if float(e["node"]["remainingAmount"]["amount"]) > 0
    )


async def _payments(http: aiohttp.ClientSession, sandbox: RunningSandbox, account: str) -> int:
    found = await call(http, "GET", url_of(sandbox.url, "payment"), params={"account.id": account})
    return len(found.body)


async def test_the_ivr_pays_a_bill_with_a_stored_method_through_its_operations(
    client: Client, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    bill = await _open_bill(client, IVR)
    account = bill["account"]["reference"]
    options = await client.ok(doc("IvrPaymentOptions"), IVR)
    method = next(m for m in options["me"]["paymentMethods"] if m["status"] == "active")
    before = await _payments(http, sandbox, account)
    data = await client.ok(
        doc("IvrPayBill"),
        IVR,
        bill=bill["id"],
        amount="1.00",
        paymentMethod=method["id"],
        idempotencyKey=str(uuid.uuid4()),
    )
    paid = data["payBill"]
    assert paid["errors"] == []
    assert paid["payment"]["status"] == "done"
    assert paid["payment"]["totalAmount"] == {"amount": "1.00", "currency": "EUR"}
    remaining = float(bill["remainingAmount"]["amount"]) - 1.0
    assert float(paid["bills"][0]["remainingAmount"]["amount"]) == pytest.approx(remaining)
    assert await _payments(http, sandbox, account) == before + 1


async def test_the_ivr_sends_no_document_of_its_own(client: Client) -> None:
    """An ad-hoc payBill from the IVR is not a trusted operation: refused, nothing sent."""
    variables = {"input": {"bills": [], "paymentMethod": "x", "idempotencyKey": "k" * 10}}
    await client.refused(PAY_ADHOC, IVR, "OPERATION_NOT_ALLOWED", **variables)


async def test_trusted_operations_are_for_their_own_channel(client: Client) -> None:
    """The kiosk's payBill (which may take a new card) is not the IVR's."""
    variables = {"bills": [], "idempotencyKey": "k" * 10}
    await client.refused(doc("KioskPayBill"), IVR, "OPERATION_NOT_ALLOWED", **variables)


async def test_the_kiosk_pays_with_a_card_its_reader_tokenized(
    client: Client, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    bill = await _open_bill(client, KIOSK)
    card = {
        "token": "tok_kiosk_" + uuid.uuid4().hex,
        "brand": "Visa",
        "lastFourDigits": "4242",
        "expiryMonth": 12,
        "expiryYear": 2030,
    }
    data = await client.ok(
        doc("KioskPayBill"),
        KIOSK,
        bills=[{"bill": bill["id"]}],
        newCard=card,
        idempotencyKey=str(uuid.uuid4()),
    )
    paid = data["payBill"]
    assert paid["errors"] == []
    assert paid["bills"][0]["state"] == "SETTLED"
    assert paid["bills"][0]["remainingAmount"]["amount"] == "0.00"
    reply = await call(http, "GET", url_of(sandbox.url, "payment", paid["payment"]["reference"]))
    stored = reply.body
    assert stored["paymentMethod"]["@type"] == "tokenizedCard"
    assert stored["paymentMethod"]["lastFourDigits"] == "4242"
    assert stored["channel"]["id"] == "kiosk"


async def test_a_card_number_at_the_kiosk_is_refused_and_kept_nowhere(
    client: Client, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    bill = await _open_bill(client, KIOSK)
    number = "4111111111111111"
    card = {"token": number, "lastFourDigits": "1111", "expiryMonth": 1, "expiryYear": 2031}
    result = await client.run(
        doc("KioskPayBill"),
        KIOSK,
        bills=[{"bill": bill["id"]}],
        newCard=card,
        idempotencyKey=str(uuid.uuid4()),
    )
    assert [e["code"] for e in result["data"]["payBill"]["errors"]] == ["CARD_NUMBER_REFUSED"]
    assert number not in str(result)
    payments = await call(http, "GET", url_of(sandbox.url, "payment"), params={"limit": "1000"})
    assert number not in str(payments.body)


async def test_the_ivr_reports_a_fault_on_a_product_through_its_operations(
    client: Client, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    products = await client.ok(doc("IvrProducts"), IVR)
    product = products["me"]["products"]["edges"][0]["node"]
    data = await client.ok(
        doc("IvrReportFault"),
        IVR,
        subject=product["id"],
        description="No signal since this morning",
        idempotencyKey=str(uuid.uuid4()),
    )
    reported = data["createTroubleTicket"]
    assert reported["errors"] == []
    assert reported["ticket"]["status"] == "ACKNOWLEDGED"
    reply = await call(
        http, "GET", url_of(sandbox.url, "troubleTicket", reported["ticket"]["reference"])
    )
    assert reply.body["description"] == "No signal since this morning"
    _, product_id = decode_global_id(product["id"])
    assert [e["id"] for e in reply.body["relatedEntity"]] == [product_id]
    assert reply.body["channel"]["id"] == "ivr"
