"""Billing accounts, bills, payments, payment methods and usage through the gateway's HTTP API,
compared with what the sandbox holds."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

import aiohttp
import orjson

from graph.context import Info
from graph.loaders import Loaders
from graph.resolvers import billing
from graph.sandbox import RunningSandbox
from graph.schema.billing import Bill, BillState, PaymentMethod, PaymentMethodKind, Usage
from graph.schema.common import encode_global_id
from tests.gateway.conftest import GQL, RunningGateway
from tests.support.tmf_client import call, url_of

AGENT = "agent:a1"
CUSTOMERS = [f"cus-{i:06d}" for i in range(1, 21)]

BILL_STATES = {
    "new": "NEW",
    "onHold": "ON_HOLD",
    "validated": "VALIDATED",
    "sent": "SENT",
    "partiallyPaid": "PARTIALLY_PAID",
    "settled": "SETTLED",
}
USAGE_STATUSES = {"rated": "RATED", "billed": "BILLED", "received": "RECEIVED"}

MONEY = "{ amount currency }"


def money(value: dict[str, Any] | None) -> dict[str, str] | None:
    """What the gateway should answer for a TMF Money."""
    if value is None:
        return None
    amount = Decimal(str(value["value"])).quantize(Decimal("0.01"))
    return {"amount": str(amount), "currency": value["unit"]}


def newest_first(records: list[dict[str, Any]], attribute: str) -> list[dict[str, Any]]:
    # Every seeded date-time is UTC with a Z, so the text orders like the time.
    return sorted(records, key=lambda r: r[attribute], reverse=True)


async def listing(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, collection: str, **params: str
) -> list[dict[str, Any]]:
    reply = await call(
        http, "GET", url_of(sandbox.url, collection), params={**params, "limit": "1000"}
    )
    assert reply.status == 200, reply.body
    records: list[dict[str, Any]] = reply.body
    return records


async def fetch(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, collection: str, record_id: str
) -> dict[str, Any]:
    reply = await call(http, "GET", url_of(sandbox.url, collection, record_id))
    assert reply.status == 200, reply.body
    record: dict[str, Any] = reply.body
    return record


async def node(gql: GQL, type_name: str, tmf_id: str, selection: str) -> dict[str, Any]:
    result = await gql(
        f"query($id: ID!) {{ node(id: $id) {{ id ... on {type_name} {{ {selection} }} }} }}",
        {"id": encode_global_id(type_name, tmf_id)},
        principal=AGENT,
    )
    assert "errors" not in result, result
    found: dict[str, Any] = result["data"]["node"]
    assert found is not None, (type_name, tmf_id)
    assert found["id"] == encode_global_id(type_name, tmf_id)
    return found


ACCOUNT = f"""
  reference name accountType state paymentStatus
  balances {{ type amount {MONEY} validFrom }}
  outstanding {MONEY} creditLimit {MONEY}
  defaultPaymentMethod {{ reference name kind }}
"""


async def test_a_billing_account_as_the_account_api_holds_it(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    account = await fetch(http, sandbox, "billingAccount", "ba-000001-1")
    got = await node(gql, "BillingAccount", "ba-000001-1", ACCOUNT)
    assert got["reference"] == "ba-000001-1"
    assert got["name"] == account["name"]
    assert got["accountType"] == account["accountType"]
    assert got["state"] == account["state"]
    assert got["paymentStatus"] == account["paymentStatus"]
    assert got["balances"] == [
        {
            "type": b["balanceType"],
            "amount": money(b["amount"]),
            "validFrom": b["validFor"]["startDateTime"].replace("Z", "+00:00"),
        }
        for b in account["accountBalance"]
    ]
    outstanding = next(b for b in account["accountBalance"] if b["balanceType"] == "outstanding")
    assert got["outstanding"] == money(outstanding["amount"])
    assert got["creditLimit"] == money(account["creditLimit"])
    method = await fetch(http, sandbox, "paymentMethod", account["defaultPaymentMethod"]["id"])
    assert got["defaultPaymentMethod"] == {
        "reference": method["id"],
        "name": method["name"],
        "kind": {"bankAccountDebit": "BANK_ACCOUNT_DEBIT", "tokenizedCard": "TOKENIZED_CARD"}[
            method["@type"]
        ],
    }


async def test_an_accounts_bills_page_newest_first(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    bills = await listing(http, sandbox, "customerBill", **{"billingAccount.id": "ba-000002-1"})
    expected = [b["id"] for b in newest_first(bills, "billDate")]
    assert len(expected) >= 12
    query = """query($id: ID!, $after: String) { node(id: $id) { ... on BillingAccount {
      bills(first: 5, after: $after) {
        totalCount pageInfo { hasNextPage hasPreviousPage endCursor }
        edges { node { reference billDate } } } } } }"""
    variables: dict[str, Any] = {"id": encode_global_id("BillingAccount", "ba-000002-1")}
    seen: list[str] = []
    while True:
        result = await gql(query, variables, principal=AGENT)
        assert "errors" not in result, result
        page = result["data"]["node"]["bills"]
        assert page["totalCount"] == len(expected)
        assert page["pageInfo"]["hasPreviousPage"] == bool(seen)
        seen += [e["node"]["reference"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        variables["after"] = page["pageInfo"]["endCursor"]
    assert seen == expected


BILL = f"""
  reference billNo billDate paymentDueDate billingPeriod {{ start end }}
  category runType state
  amountDue {MONEY} remainingAmount {MONEY} taxExcludedAmount {MONEY} taxIncludedAmount {MONEY}
  taxes {{ category rate amount {MONEY} }}
  lines {{ name description type date periodCoverage {{ start end }}
           taxExcludedAmount {MONEY} taxIncludedAmount {MONEY}
           taxes {{ category rate amount {MONEY} }} productReference }}
  appliedPayments {{ appliedAmount {MONEY} payment {{ reference totalAmount {MONEY} }} }}
  document {{ name url mimeType }}
  account {{ reference name }}
"""


def expected_taxes(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"category": t["taxCategory"], "rate": t["taxRate"], "amount": money(t["taxAmount"])}
        for t in items
    ]


async def test_a_bill_with_its_lines_payments_and_document(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    bills = await listing(http, sandbox, "customerBill", **{"billingAccount.id": "ba-000003-1"})
    bill = next(b for b in newest_first(bills, "billDate") if b.get("appliedPayment"))
    rates = await listing(http, sandbox, "appliedCustomerBillingRate", **{"bill.id": bill["id"]})
    assert len(rates) >= 2
    got = await node(gql, "Bill", bill["id"], BILL)
    assert got["reference"] == bill["id"]
    assert got["billNo"] == bill["billNo"]
    assert got["billDate"] == bill["billDate"][:10]
    assert got["paymentDueDate"] == bill["paymentDueDate"][:10]
    assert got["billingPeriod"] == {
        "start": bill["billingPeriod"]["startDateTime"][:10],
        "end": bill["billingPeriod"]["endDateTime"][:10],
    }
    assert (got["category"], got["runType"]) == (bill["category"], bill["runType"])
    assert got["state"] == BILL_STATES[bill["state"]]
    for field in ("amountDue", "remainingAmount", "taxExcludedAmount", "taxIncludedAmount"):
        assert got[field] == money(bill[field]), field
    assert got["taxes"] == expected_taxes(bill["taxItem"])
    assert got["lines"] == [
        {
            "name": r["name"],
            "description": r["description"],
            "type": r["type"],
            "date": r["date"].replace("Z", "+00:00"),
            "periodCoverage": {
                "start": r["periodCoverage"]["startDateTime"][:10],
                "end": r["periodCoverage"]["endDateTime"][:10],
            },
            "taxExcludedAmount": money(r["taxExcludedAmount"]),
            "taxIncludedAmount": money(r["taxIncludedAmount"]),
            "taxes": expected_taxes(r["appliedTax"]),
            "productReference": (r.get("product") or {}).get("id"),
        }
        for r in rates
    ]
    payments = [
        await fetch(http, sandbox, "payment", p["payment"]["id"]) for p in bill["appliedPayment"]
    ]
    assert got["appliedPayments"] == [
        {
            "appliedAmount": money(applied["appliedAmount"]),
            "payment": {"reference": payment["id"], "totalAmount": money(payment["totalAmount"])},
        }
        for applied, payment in zip(bill["appliedPayment"], payments, strict=True)
    ]
    document = bill["billDocument"][0]
    assert got["document"] == {
        "name": document["name"],
        "url": document["url"],
        "mimeType": document["mimeType"],
    }
    assert got["account"] == {"reference": "ba-000003-1", "name": bill["billingAccount"]["name"]}


async def test_an_accounts_payments_newest_first_with_the_bills_they_paid(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    payments = await listing(http, sandbox, "payment", **{"account.id": "ba-000004-1"})
    assert payments
    expected = newest_first(payments, "paymentDate")
    selection = f"""payments(first: 100) {{ totalCount edges {{ node {{
        reference name description status paymentDate statusDate
        totalAmount {MONEY} amount {MONEY} channel
        items {{ amount {MONEY} bill {{ reference billNo remainingAmount {MONEY} }} }}
        method {{ reference }} account {{ reference }} }} }} }}"""
    got = (await node(gql, "BillingAccount", "ba-000004-1", selection))["payments"]
    assert got["totalCount"] == len(expected)
    nodes = [e["node"] for e in got["edges"]]
    assert [n["reference"] for n in nodes] == [p["id"] for p in expected]
    bill_ids = {i["item"]["id"] for p in payments for i in p["paymentItem"]}
    bills = {
        b["id"]: b for b in await listing(http, sandbox, "customerBill", id=",".join(bill_ids))
    }
    for got_payment, payment in zip(nodes, expected, strict=True):
        assert got_payment["description"] == payment["description"]
        assert got_payment["name"] == payment.get("name")
        assert got_payment["status"] == payment["status"]
        assert got_payment["paymentDate"] == payment["paymentDate"].replace("Z", "+00:00")
        assert got_payment["statusDate"] == payment["statusDate"].replace("Z", "+00:00")
        assert got_payment["totalAmount"] == money(payment["totalAmount"])
        assert got_payment["amount"] == money(payment["amount"])
        assert got_payment["channel"] == payment["channel"]["name"]
        assert got_payment["method"] == {"reference": payment["paymentMethod"]["id"]}
        assert got_payment["account"] == {"reference": "ba-000004-1"}
        assert got_payment["items"] == [
            {
                "amount": money(item["amount"]),
                "bill": {
                    "reference": item["item"]["id"],
                    "billNo": bills[item["item"]["id"]]["billNo"],
                    "remainingAmount": money(bills[item["item"]["id"]]["remainingAmount"]),
                },
            }
            for item in payment["paymentItem"]
        ]


METHOD = """reference name description kind isPreferred status statusDate validUntil
  card { brand cardType lastFourDigits expirationMonth expirationYear }
  bankAccount { accountNumber accountNumberType bank }"""


async def test_payment_methods_show_safe_details_only(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    methods = await listing(
        http, sandbox, "paymentMethod", **{"relatedParty.id": ",".join(CUSTOMERS)}
    )
    card = next(m for m in methods if m["@type"] == "tokenizedCard")
    debit = next(m for m in methods if m["@type"] == "bankAccountDebit")

    got_card = await node(gql, "PaymentMethod", card["id"], METHOD)
    assert got_card["reference"] == card["id"]
    assert (got_card["name"], got_card["description"]) == (card["name"], card["description"])
    assert got_card["kind"] == "TOKENIZED_CARD"
    assert got_card["isPreferred"] == card["isPreferred"]
    assert got_card["status"] == card["status"]
    assert got_card["statusDate"] == card["statusDate"].replace("Z", "+00:00")
    assert got_card["validUntil"] == card["validFor"]["endDateTime"].replace("Z", "+00:00")
    year, month = card["expirationDate"][:7].split("-")
    assert got_card["card"] == {
        "brand": card["brand"],
        "cardType": card["cardType"],
        "lastFourDigits": card["lastFourDigits"],
        "expirationMonth": int(month),
        "expirationYear": int(year),
    }
    assert got_card["bankAccount"] is None

    got_debit = await node(gql, "PaymentMethod", debit["id"], METHOD)
    assert got_debit["kind"] == "BANK_ACCOUNT_DEBIT"
    assert got_debit["card"] is None
    assert got_debit["validUntil"] is None
    assert got_debit["bankAccount"] == {
        "accountNumber": debit["accountNumber"],
        "accountNumberType": debit["accountNumberType"],
        "bank": debit["bank"],
    }

    # The provider token is in the backend record and must never leave the gateway.
    assert card["token"].startswith("tok_")
    assert card["token"] not in orjson.dumps(got_card).decode()
    introspection = await gql(
        """{ a: __type(name: "PaymentMethod") { fields { name } }
             b: __type(name: "PaymentCard") { fields { name } }
             c: __type(name: "BankAccount") { fields { name } } }""",
        principal=AGENT,
    )
    names = {f["name"].lower() for t in introspection["data"].values() for f in t["fields"]}
    assert "lastfourdigits" in names
    assert not {n for n in names if "token" in n or "cardnumber" in n or "cvv" in n}


async def test_usage_with_characteristics_and_rated_amount(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    usages = await listing(http, sandbox, "usage", **{"relatedParty.id": ",".join(CUSTOMERS)})
    voice = next(
        u
        for u in usages
        if u["usageType"] == "voice"
        and u["ratedProductUsage"][0]["taxIncludedRatingAmount"]["value"] > 0
    )
    selection = f"""reference usageType usageDate description status
      characteristics {{ name value unit }} ratedAmount {MONEY} productReference"""
    got = await node(gql, "Usage", voice["id"], selection)
    assert got["reference"] == voice["id"]
    assert got["usageType"] == "voice"
    assert got["usageDate"] == voice["usageDate"].replace("Z", "+00:00")
    assert got["description"] == voice["description"]
    assert got["status"] == USAGE_STATUSES[voice["status"]]
    values = {c["name"]: c["value"] for c in voice["usageCharacteristic"]}
    assert got["characteristics"] == [
        {
            "name": c["name"],
            "value": str(c["value"]),
            "unit": values.get(c["name"] + "Unit"),
        }
        for c in voice["usageCharacteristic"]
    ]
    duration = next(c for c in got["characteristics"] if c["name"] == "duration")
    assert duration["unit"] == "seconds"
    total = sum(
        Decimal(str(r["taxIncludedRatingAmount"]["value"])) for r in voice["ratedProductUsage"]
    )
    assert Decimal(got["ratedAmount"]["amount"]) == total > 0
    assert got["productReference"] == voice["ratedProductUsage"][0]["productRef"]["id"]


DEEP = """
  name defaultPaymentMethod { name }
  bills(first: 3) { edges { node {
    billNo lines { name } account { name }
    appliedPayments { payment { reference method { name } } } } } }
  payments(first: 3) { edges { node {
    reference method { name } account { name }
    items { bill { billNo } } } } }
"""
# Each level loads only keys no earlier level cached (lines, paid bills, applied payments) or only
# cached ones (a bill's account; in the seed, a payment's method is the account's default), so
# the count depends on the number of levels, not on the number of accounts or their data.


async def test_accounts_batch_their_relations(gql: GQL, gateway: RunningGateway) -> None:
    async def requests_for(accounts: list[str]) -> int:
        aliases = " ".join(
            f'a{i}: node(id: "{encode_global_id("BillingAccount", a)}") '
            f"{{ ... on BillingAccount {{ {DEEP} }} }}"
            for i, a in enumerate(accounts)
        )
        # Reads only: the agent's access records are written after the answer.
        before = gateway.backend_requests("GET")
        result = await gql(f"{{ {aliases} }}", principal=AGENT)
        assert "errors" not in result, result
        for value in result["data"].values():
            assert value["bills"]["edges"]
            assert value["payments"]["edges"]
            assert value["bills"]["edges"][0]["node"]["lines"]
        return gateway.backend_requests("GET") - before

    one = await requests_for(["ba-000001-1"])
    five = await requests_for([f"ba-{i:06d}-1" for i in range(1, 6)])
    assert one > 0
    assert five == one


def fake_info(gateway: RunningGateway) -> Info:
    """Just what the record-level resolvers use: the request's sources and loaders."""
    context = SimpleNamespace(sources=gateway.state.sources, loaders=Loaders())
    return cast(Info, SimpleNamespace(context=context))


async def test_record_resolvers_for_customer_fields(
    gateway: RunningGateway, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    customers = CUSTOMERS[:5]
    info = fake_info(gateway)
    before = gateway.backend_requests()
    per_customer = await asyncio.gather(*(billing.bills_of_customer(info, c) for c in customers))
    assert gateway.backend_requests() - before == 2  # accounts, then bills: one request each
    for customer, bills in zip(customers, per_customer, strict=True):
        accounts = await listing(http, sandbox, "billingAccount", **{"relatedParty.id": customer})
        expected = await listing(
            http,
            sandbox,
            "customerBill",
            **{"billingAccount.id": ",".join(a["id"] for a in accounts)},
        )
        assert sorted(b["id"] for b in bills) == sorted(b["id"] for b in expected)
        dates = [b["billDate"] for b in bills]
        assert dates == sorted(dates, reverse=True)

    info = fake_info(gateway)
    customer = "cus-000006"
    accounts, methods, usage = await asyncio.gather(
        billing.billing_accounts_of(info, customer),
        billing.payment_methods_of(info, customer),
        billing.usage_of(info, customer),
    )
    party = {"relatedParty.id": customer}
    assert [a["id"] for a in accounts] == [
        a["id"] for a in await listing(http, sandbox, "billingAccount", **party)
    ]
    assert [m["id"] for m in methods] == [
        m["id"] for m in await listing(http, sandbox, "paymentMethod", **party)
    ]
    expected_usage = newest_first(await listing(http, sandbox, "usage", **party), "usageDate")
    assert [u["id"] for u in usage] == [u["id"] for u in expected_usage]
    payments = await billing.payments_of_customer(info, customer)
    expected_payments = await listing(
        http, sandbox, "payment", **{"account.id": ",".join(a["id"] for a in accounts)}
    )
    assert [p["id"] for p in payments] == [
        p["id"] for p in newest_first(expected_payments, "paymentDate")
    ]


def test_unknown_backend_values_become_null_not_errors() -> None:
    bill = Bill.from_record({"id": "cb-x", "state": "disputed"})
    assert bill.state is None
    assert (
        Bill.from_record({"id": "cb-y", "state": "partiallyPaid"}).state is BillState.PARTIALLY_PAID
    )
    usage = Usage.from_record({"id": "usg-x", "status": "lost", "ratedProductUsage": []})
    assert usage.status is None
    assert usage.rated_amount is None
    odd = PaymentMethod.from_record(cast(Any, {"id": "pm-x", "@type": "crypto"}))
    assert odd.kind is None
    assert (odd.card, odd.bank_account) == (None, None)


def test_unmasked_account_numbers_are_masked_and_cards_keep_four_digits() -> None:
    record: Any = {
        "id": "pm-x",
        "@type": "BankAccountDebit",  # the definition's name, not the enum value
        "accountNumber": "DE89 3704 0044 0532 0130 00",
        "bank": "Example Bank",
    }
    method = PaymentMethod.from_record(record)
    assert method.kind is PaymentMethodKind.BANK_ACCOUNT_DEBIT
    assert method.bank_account is not None
    assert method.bank_account.account_number == "DE** **** **** **** **30 00"
    card: Any = {"id": "pm-y", "@type": "bankCard", "cardNumber": "4111111111111111",
                 "lastFourDigits": "1111", "expirationDate": "2029-02-28T23:59:59Z"}  # fmt: skip
    got = PaymentMethod.from_record(card)
    assert got.card is not None
    assert (got.card.last_four_digits, got.card.expiration_month) == ("1111", 2)
    assert "4111111111111111" not in repr(got)
