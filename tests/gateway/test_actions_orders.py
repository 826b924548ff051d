"""quoteProductOrder, placeProductOrder and cancelProductOrder end to end: prices from the
catalogue and the inventory, orders that the sandbox then completes (or that are cancelled while
open), every refusal a typed user error with nothing written, and each action recorded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from graph.sandbox import RunningSandbox, SandboxConfig
from graph.schema.common import encode_global_id
from tests.conftest import TODAY
from tests.gateway.actions_support import (
    forget_requests,
    interactions_of,
    post_graphql,
    record_of,
    write_requests,
)
from tests.gateway.conftest import GQL, RunningGateway, running_gateway, settings_for, token_for
from tests.support.tmf_client import call, url_of

QUOTE = """query($input: QuoteProductOrderInput!) { quoteProductOrder(input: $input) {
  quote {
    items {
      itemId action
      offering { reference } product { reference }
      prices { name priceType recurringChargePeriod price { amount currency } }
      currentPrices { priceType price { amount } }
      oneTimeCharge { amount currency } recurringChange { amount currency }
    }
    dueNow { amount currency } monthlyChange { amount currency }
  }
  errors { code message field }
} }"""

PLACE = """mutation($input: PlaceProductOrderInput!) { placeProductOrder(input: $input) {
  order {
    reference state description channel notes { text author }
    items { itemId action state offering { reference } product { reference } }
    totalPrice { amount currency }
  }
  quote { dueNow { amount } monthlyChange { amount } }
  errors { code message field }
} }"""

CANCEL = """mutation($input: CancelProductOrderInput!) { cancelProductOrder(input: $input) {
  order { reference state cancellationReason cancellationDate }
  errors { code message field }
} }"""

MY_ORDERS = "{ me { productOrders { edges { node { reference state } } } } }"
MY_PRODUCTS = """{ me { products { edges { node {
  reference status offering { reference } prices { priceType price { amount } }
} } } } }"""


def offering(slug: str) -> str:
    return encode_global_id("ProductOffering", f"off-{slug}")


def product(record_id: str) -> str:
    return encode_global_id("Product", record_id)


def order(record_id: str) -> str:
    return encode_global_id("ProductOrder", record_id)


def eur(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "EUR"}


async def run(gql: GQL, document: str, field: str, given: dict[str, Any], who: str | None) -> Any:
    result = await gql(document, {"input": given}, principal=who)
    assert "errors" not in result, result
    return result["data"][field]


async def quote(gql: GQL, items: list[dict[str, Any]], who: str | None = None, **extra: Any) -> Any:
    return await run(gql, QUOTE, "quoteProductOrder", {"items": items, **extra}, who)


async def place(gql: GQL, items: list[dict[str, Any]], who: str | None, **extra: Any) -> Any:
    return await run(gql, PLACE, "placeProductOrder", {"items": items, **extra}, who)


async def cancel(gql: GQL, order_id: str, who: str, **extra: Any) -> Any:
    return await run(gql, CANCEL, "cancelProductOrder", {"order": order(order_id), **extra}, who)


def problems(payload: dict[str, Any]) -> set[tuple[str, tuple[str, ...]]]:
    return {(e["code"], tuple(e["field"] or ())) for e in payload["errors"]}


async def poll(
    gql: GQL, document: str, who: str, done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Ask again until ``done`` holds for the data (the sandbox completes orders over time)."""
    deadline = time.monotonic() + 5
    while True:
        result = await gql(document, principal=who)
        assert "errors" not in result, result
        data: dict[str, Any] = result["data"]
        if done(data):
            return data
        assert time.monotonic() < deadline, f"never reached: {data}"
        await asyncio.sleep(0.05)


async def sandbox_order(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, order_id: str
) -> dict[str, Any]:
    return await record_of(http, sandbox, "productOrder", order_id)


# -- quotes ------------------------------------------------------------------------------------


async def test_anyone_can_quote_new_offerings_and_nothing_is_written(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    await forget_requests(http, sandbox)
    payload = await quote(
        gql,
        [{"action": "ADD", "offering": offering("fiber-100")},
         {"action": "ADD", "offering": offering("phone-lite")}],
    )  # fmt: skip
    assert payload["errors"] == []
    fiber, phone = payload["quote"]["items"]
    assert fiber["itemId"] == "1"
    assert fiber["action"] == "ADD"
    assert fiber["offering"] == {"reference": "off-fiber-100"}
    assert fiber["product"] is None
    assert fiber["prices"] == [
        {
            "name": "Fiber 100 monthly fee",
            "priceType": "RECURRING",
            "recurringChargePeriod": "month",
            "price": eur("34.99"),
        },
        {
            "name": "Fiber 100 installation",
            "priceType": "ONE_TIME",
            "recurringChargePeriod": None,
            "price": eur("49.00"),
        },
    ]
    assert fiber["currentPrices"] == []
    assert fiber["oneTimeCharge"] == eur("49.00")
    assert fiber["recurringChange"] == eur("34.99")
    assert phone["oneTimeCharge"] == eur("249.00")
    assert phone["recurringChange"] == eur("0.00")
    assert payload["quote"]["dueNow"] == eur("298.00")
    assert payload["quote"]["monthlyChange"] == eur("34.99")
    assert await write_requests(http, sandbox) == []


async def test_a_customer_quotes_a_change_a_termination_and_an_addition(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    await forget_requests(http, sandbox)
    payload = await quote(
        gql,
        [
            {"action": "MODIFY", "product": product("prd-000003-1"),
             "offering": offering("mobile-unlimited")},
            {"action": "DELETE", "product": product("prd-000003-2")},
            {"action": "ADD", "offering": offering("tv-basic")},
        ],
        "customer:cus-000003",
    )  # fmt: skip
    assert payload["errors"] == []
    change, end, new = payload["quote"]["items"]
    assert change["product"] == {"reference": "prd-000003-1"}
    assert change["offering"] == {"reference": "off-mobile-unlimited"}
    assert change["currentPrices"] == [{"priceType": "RECURRING", "price": {"amount": "29.99"}}]
    assert change["recurringChange"] == eur("10.00")  # 39.99 instead of 29.99
    assert end["offering"] is None
    assert end["prices"] == []
    assert end["recurringChange"] == eur("-4.99")
    assert new["recurringChange"] == eur("9.99")
    assert payload["quote"]["monthlyChange"] == eur("15.00")
    assert payload["quote"]["dueNow"] == eur("0.00")
    assert await write_requests(http, sandbox) == []


async def test_quote_refusals_name_every_item_and_reason(gql: GQL) -> None:
    payload = await quote(
        gql,
        [
            {"action": "ADD", "offering": offering("nothing-like-it")},
            {"action": "ADD", "offering": offering("mobile-classic")},  # retired
            {"action": "DELETE", "product": product("prd-000005-1")},  # another customer's
            {"action": "DELETE", "product": product("prd-000002-2")},  # terminated
            {"action": "MODIFY", "product": product("prd-000002-1"),
             "offering": offering("fiber-100")},  # a mobile plan is not a fiber line
        ],
        "customer:cus-000002",
    )  # fmt: skip
    assert payload["quote"] is None
    assert problems(payload) == {
        ("UNKNOWN_OFFERING", ("items", "0", "offering")),
        ("OFFERING_NOT_SELLABLE", ("items", "1", "offering")),
        ("NOT_FOUND", ("items", "2", "product")),
        ("PRODUCT_NOT_ACTIVE", ("items", "3", "product")),
        ("INVALID_INPUT", ("items", "4", "offering")),
    }


async def test_without_a_sign_in_only_additions_are_quoted(
    gql: GQL, gateway: RunningGateway
) -> None:
    before = gateway.backend_requests()
    payload = await quote(
        gql,
        [{"action": "ADD", "offering": offering("tv-basic")},
         {"action": "DELETE", "product": product("prd-000002-1")}],
    )  # fmt: skip
    assert problems(payload) == {("NOT_ALLOWED", ("items", "1", "action"))}
    named = await quote(
        gql, [{"action": "ADD", "offering": offering("tv-basic")}], customer="cus-000002"
    )
    assert problems(named) == {("NOT_ALLOWED", ("customer",))}
    assert gateway.backend_requests() == before


async def test_malformed_items_reach_no_backend(gql: GQL, gateway: RunningGateway) -> None:
    before = gateway.backend_requests()
    payload = await quote(
        gql,
        [
            {"action": "ADD"},
            {"action": "ADD", "offering": "not-an-id"},
            {"action": "DELETE", "product": offering("tv-basic")},  # an offering's id
            {"action": "NO_CHANGE", "offering": offering("tv-basic")},
        ],
        "customer:cus-000002",
    )
    assert problems(payload) == {
        ("INVALID_INPUT", ("items", "1", "offering")),
        ("INVALID_INPUT", ("items", "2", "product")),
        ("INVALID_INPUT", ("items", "3", "action")),
    }
    shape = await quote(gql, [{"action": "ADD"}], "customer:cus-000002")
    assert problems(shape) == {("INVALID_INPUT", ("items", "0", "offering"))}
    assert gateway.backend_requests() == before


# -- placing orders -----------------------------------------------------------------------------


async def test_an_order_adds_a_product_once_completed(
    gql: GQL, gateway: RunningGateway, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    who = "customer:cus-000003"
    payload = await place(
        gql, [{"action": "ADD", "offering": offering("tv-basic")}], who, note="Evenings, please."
    )
    assert payload["errors"] == []
    placed = payload["order"]
    assert placed["state"] in ("ACKNOWLEDGED", "IN_PROGRESS", "COMPLETED")  # it moves fast here
    assert placed["description"] == "New TV Basic"
    assert placed["channel"] == "Web portal"
    assert placed["notes"] == [{"text": "Evenings, please.", "author": "Customer"}]
    (item,) = placed["items"]
    assert item["itemId"] == "1"
    assert item["action"] == "ADD"
    assert item["offering"] == {"reference": "off-tv-basic"}
    assert placed["totalPrice"] == [eur("9.99")]
    assert payload["quote"] == {"dueNow": {"amount": "0.00"}, "monthlyChange": {"amount": "9.99"}}
    # Read-your-writes: the next query lists the order.
    orders = (await gql(MY_ORDERS, principal=who))["data"]["me"]["productOrders"]["edges"]
    assert placed["reference"] in [e["node"]["reference"] for e in orders]
    record = await sandbox_order(http, sandbox, placed["reference"])
    assert record["billingAccount"]["id"] == "ba-000003-1"  # the customer's only account
    assert record["relatedParty"][0]["id"] == "cus-000003"

    # The sandbox completes the order: a new, active TV Basic product.
    data = await poll(
        gql,
        MY_PRODUCTS,
        who,
        lambda d: any(
            e["node"]["offering"]["reference"] == "off-tv-basic" and e["node"]["status"] == "ACTIVE"
            for e in d["me"]["products"]["edges"]
        ),
    )
    (new,) = [
        e["node"]
        for e in data["me"]["products"]["edges"]
        if e["node"]["offering"]["reference"] == "off-tv-basic"
    ]
    assert new["prices"] == [{"priceType": "RECURRING", "price": {"amount": "9.99"}}]
    completed = await sandbox_order(http, sandbox, placed["reference"])
    assert completed["state"] == "completed"
    assert completed["productOrderItem"][0]["product"]["id"] == new["reference"]

    (recorded,) = [
        r
        for r in await interactions_of(http, sandbox, gateway, "cus-000003")
        if r["reason"] == "Self-service: placeProductOrder"
    ]
    assert recorded["interactionItem"][0]["item"]["id"] == placed["reference"]
    assert recorded["channel"][0]["id"] == "web"


async def test_terminating_a_product_ends_it(gql: GQL) -> None:
    who = "customer:cus-000005"
    payload = await place(gql, [{"action": "DELETE", "product": product("prd-000005-1")}], who)
    assert payload["errors"] == []
    assert payload["order"]["items"][0]["action"] == "DELETE"
    assert payload["order"]["items"][0]["product"] == {"reference": "prd-000005-1"}
    assert payload["quote"]["monthlyChange"] == {"amount": "-29.99"}
    await poll(
        gql,
        MY_PRODUCTS,
        who,
        lambda d: (
            ("prd-000005-1", "TERMINATED")
            in {(e["node"]["reference"], e["node"]["status"]) for e in d["me"]["products"]["edges"]}
        ),
    )
    again = await quote(gql, [{"action": "DELETE", "product": product("prd-000005-1")}], who)
    assert problems(again) == {("PRODUCT_NOT_ACTIVE", ("items", "0", "product"))}


async def test_a_change_of_plan_changes_the_product(gql: GQL) -> None:
    who = "customer:cus-000008"
    payload = await place(
        gql,
        [
            {
                "action": "MODIFY",
                "product": product("prd-000008-1"),
                "offering": offering("mobile-m"),
            }
        ],
        who,
    )
    assert payload["errors"] == []
    assert payload["quote"]["monthlyChange"] == {"amount": "7.00"}  # 19.99 instead of 12.99
    data = await poll(
        gql,
        MY_PRODUCTS,
        who,
        lambda d: any(
            e["node"]["reference"] == "prd-000008-1"
            and e["node"]["offering"]["reference"] == "off-mobile-m"
            for e in d["me"]["products"]["edges"]
        ),
    )
    (changed,) = [
        e["node"]
        for e in data["me"]["products"]["edges"]
        if e["node"]["reference"] == "prd-000008-1"
    ]
    assert changed["status"] == "ACTIVE"
    assert changed["prices"] == [{"priceType": "RECURRING", "price": {"amount": "19.99"}}]


async def test_the_billing_account_is_named_when_there_are_several(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    who = "customer:cus-000001"
    items = [{"action": "ADD", "offering": offering("roaming-eu")}]
    await forget_requests(http, sandbox)
    unnamed = await place(gql, items, who)
    assert problems(unnamed) == {("INVALID_INPUT", ("billingAccount",))}
    theirs = encode_global_id("BillingAccount", "ba-000002-1")
    other = await place(gql, items, who, billingAccount=theirs)
    assert problems(other) == {("NOT_FOUND", ("billingAccount",))}
    assert await write_requests(http, sandbox) == []
    mine = encode_global_id("BillingAccount", "ba-000001-2")
    payload = await place(gql, items, who, billingAccount=mine)
    assert payload["errors"] == []
    record = await sandbox_order(http, sandbox, payload["order"]["reference"])
    assert record["billingAccount"]["id"] == "ba-000001-2"


async def test_refused_orders_write_nothing(
    gql: GQL, gateway: RunningGateway, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    who = "customer:cus-000002"
    await forget_requests(http, sandbox)
    payload = await place(
        gql,
        [{"action": "DELETE", "product": product("prd-000005-1")},  # another customer's
         {"action": "ADD", "offering": offering("mobile-classic")}],
        who,
    )  # fmt: skip
    assert payload["order"] is None
    assert problems(payload) == {
        ("NOT_FOUND", ("items", "0", "product")),
        ("OFFERING_NOT_SELLABLE", ("items", "1", "offering")),
    }
    assert await write_requests(http, sandbox) == []
    before = gateway.backend_requests()
    long_note = await place(
        gql, [{"action": "ADD", "offering": offering("tv-basic")}], who, note="x" * 2001
    )
    assert problems(long_note) == {("TOO_LONG", ("note",))}
    assert gateway.backend_requests() == before


async def test_the_same_idempotency_key_places_one_order(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    who = "customer:cus-000006"
    items = [{"action": "ADD", "offering": offering("multisim")}]
    account = encode_global_id("BillingAccount", "ba-000006-1")
    key = "order-2026-11-26-0001"
    first, second = await asyncio.gather(
        place(gql, items, who, billingAccount=account, idempotencyKey=key),
        place(gql, items, who, billingAccount=account, idempotencyKey=key),
    )
    assert first["errors"] == []
    assert second["errors"] == []
    assert second["order"]["reference"] == first["order"]["reference"]
    assert second["quote"] == first["quote"]
    later = await place(gql, items, who, billingAccount=account, idempotencyKey=key)
    assert later["order"]["reference"] == first["order"]["reference"]
    reply = await call(
        http, "GET", url_of(sandbox.url, "productOrder"), params={"relatedParty.id": "cus-000006"}
    )
    mine = [
        o for o in reply.body if o["productOrderItem"][0]["productOffering"]["id"] == "off-multisim"
    ]
    assert [o["id"] for o in mine] == [first["order"]["reference"]]
    assert mine[0]["externalId"].startswith("csm-")  # found again if an answer is lost
    different = await place(
        gql, [{"action": "ADD", "offering": offering("tv-basic")}], who,
        billingAccount=account, idempotencyKey=key,
    )  # fmt: skip
    assert problems(different) == {("IDEMPOTENCY_KEY_REUSED", ("idempotencyKey",))}


async def test_after_the_key_was_forgotten_the_same_order_is_found_and_another_refused(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    """A second gateway (its own idempotency store, as after a restart without Redis) finds
    the order by the key's correlator -- if it is the same order: other items or another
    account mean the key was reused, and nothing is ordered."""
    who = "customer:cus-000006"
    items = [{"action": "ADD", "offering": offering("multisim")}]
    account = encode_global_id("BillingAccount", "ba-000006-1")
    given = {"items": items, "billingAccount": account, "idempotencyKey": "order-0002"}
    first = await place(gql, items, who, billingAccount=account, idempotencyKey="order-0002")
    assert first["errors"] == []
    token = token_for(who, dev_idp_key)
    async with running_gateway(settings_for(sandbox, events=False)) as other:
        await forget_requests(http, sandbox)
        again = await post_graphql(http, other.url, PLACE, {"input": given}, token)
        found = again["data"]["placeProductOrder"]
        assert found["errors"] == []
        assert found["order"]["reference"] == first["order"]["reference"]
        assert found["quote"] is None  # not re-made: the order may have changed things since
        for changed in (
            {"items": [{"action": "ADD", "offering": offering("tv-basic")}]},
            {"billingAccount": encode_global_id("BillingAccount", "ba-000006-2")},
        ):
            result = await post_graphql(
                http, other.url, PLACE, {"input": {**given, **changed}}, token
            )
            payload = result["data"]["placeProductOrder"]
            assert problems(payload) == {("IDEMPOTENCY_KEY_REUSED", ("idempotencyKey",))}
            assert payload["order"] is None
    assert await write_requests(http, sandbox) == []


async def test_an_agent_orders_for_the_customer_they_assist(
    gql: GQL, gateway: RunningGateway, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    items = [{"action": "ADD", "offering": offering("extra-data-10")}]
    unnamed = await place(gql, items, "agent:a1")
    assert problems(unnamed) == {("INVALID_INPUT", ("customer",))}
    payload = await place(gql, items, "agent:a1", customer="cus-000007")
    assert payload["errors"] == []
    assert payload["order"]["channel"] == "Call centre"
    record = await sandbox_order(http, sandbox, payload["order"]["reference"])
    assert record["relatedParty"][0]["id"] == "cus-000007"
    (recorded,) = [
        r
        for r in await interactions_of(http, sandbox, gateway, "cus-000007")
        if r["reason"] == "Assisted service: placeProductOrder"
    ]
    assert {(p["role"], p["id"]) for p in recorded["relatedParty"]} == {
        ("customer", "cus-000007"),
        ("agent", "a1"),
    }


@pytest.mark.parametrize(
    ("principal", "code"), [(None, "UNAUTHENTICATED"), ("analyst:x", "FORBIDDEN")]
)
async def test_only_customers_and_agents_order(
    gql: GQL, gateway: RunningGateway, principal: str | None, code: str
) -> None:
    before = gateway.backend_requests()
    items = [{"action": "ADD", "offering": offering("tv-basic")}]
    for document, field in ((PLACE, "placeProductOrder"), (CANCEL, "cancelProductOrder")):
        given = {"items": items} if field == "placeProductOrder" else {"order": order("ord-1")}
        result = await gql(document, {"input": given}, principal=principal)
        assert result["data"] is None, field
        assert [e["extensions"]["code"] for e in result["errors"]] == [code]
    assert gateway.backend_requests() == before


# -- cancelling: orders stay open long enough ------------------------------------------------


class TestCancelling:
    @pytest.fixture
    def sandbox_config(self, dev_idp_key: Path) -> SandboxConfig:
        return SandboxConfig(
            customers=20,
            seed=7,
            today=TODAY,
            order_step_seconds=60,
            delivery_backoff_seconds=0.02,
            idp_key_path=dev_idp_key,
        )

    async def test_an_open_order_is_cancelled(
        self,
        gql: GQL,
        gateway: RunningGateway,
        sandbox: RunningSandbox,
        http: aiohttp.ClientSession,
    ) -> None:
        who = "customer:cus-000003"
        placed = await place(gql, [{"action": "ADD", "offering": offering("tv-premium")}], who)
        reference = placed["order"]["reference"]
        assert placed["order"]["state"] == "ACKNOWLEDGED"
        assert [i["state"] for i in placed["order"]["items"]] == ["ACKNOWLEDGED"]
        payload = await cancel(gql, reference, who, reason="Changed my mind.")
        assert payload["errors"] == []
        assert payload["order"]["state"] == "CANCELLED"
        assert payload["order"]["cancellationReason"] == "Changed my mind."
        assert payload["order"]["cancellationDate"] is not None
        orders = (await gql(MY_ORDERS, principal=who))["data"]["me"]["productOrders"]["edges"]
        assert {"reference": reference, "state": "CANCELLED"} in [e["node"] for e in orders]
        assert (await sandbox_order(http, sandbox, reference))["state"] == "cancelled"
        reasons = [r["reason"] for r in await interactions_of(http, sandbox, gateway, "cus-000003")]
        assert "Self-service: cancelProductOrder" in reasons
        # Cancelled is final.
        again = await cancel(gql, reference, who)
        assert problems(again) == {("ORDER_NOT_CANCELLABLE", ("order",))}

    async def test_closed_and_other_customers_orders_are_refused_without_a_write(
        self, gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
    ) -> None:
        who = "customer:cus-000002"
        await forget_requests(http, sandbox)
        completed = await cancel(gql, "ord-000002-1", who)
        assert problems(completed) == {("ORDER_NOT_CANCELLABLE", ("order",))}
        assert "completed" in completed["errors"][0]["message"]
        theirs = await cancel(gql, "ord-000004-1", who)  # cus-000004's open order
        assert problems(theirs) == {("NOT_FOUND", ("order",))}
        assert await write_requests(http, sandbox) == []
        assert (await sandbox_order(http, sandbox, "ord-000004-1"))["state"] == "inProgress"
        seeded = await cancel(gql, "ord-000002-3", who)  # acknowledged: still open
        assert seeded["order"]["state"] == "CANCELLED"

    async def test_an_open_order_blocks_another_change_of_its_product(self, gql: GQL) -> None:
        who = "customer:cus-000003"
        first = await place(gql, [{"action": "DELETE", "product": product("prd-000003-2")}], who)
        assert first["errors"] == []
        second = await place(gql, [{"action": "DELETE", "product": product("prd-000003-2")}], who)
        assert problems(second) == {("INVALID_INPUT", ("items", "0", "product"))}
        assert first["order"]["reference"] in second["errors"][0]["message"]
        await cancel(gql, first["order"]["reference"], who)
        third = await quote(gql, [{"action": "DELETE", "product": product("prd-000003-2")}], who)
        assert third["errors"] == []

    async def test_an_agent_cancels_for_the_customer(
        self,
        gql: GQL,
        gateway: RunningGateway,
        sandbox: RunningSandbox,
        http: aiohttp.ClientSession,
    ) -> None:
        unnamed = await cancel(gql, "ord-000007-1", "agent:a1")
        assert problems(unnamed) == {("INVALID_INPUT", ("customer",))}
        wrong = await cancel(gql, "ord-000007-1", "agent:a1", customer="cus-000008")
        assert problems(wrong) == {("NOT_FOUND", ("order",))}
        payload = await cancel(gql, "ord-000007-1", "agent:a1", customer="cus-000007")
        assert payload["order"]["state"] == "CANCELLED"
        (recorded,) = [
            r
            for r in await interactions_of(http, sandbox, gateway, "cus-000007")
            if r["reason"] == "Assisted service: cancelProductOrder"
        ]
        assert ("agent", "a1") in {(p["role"], p["id"]) for p in recorded["relatedParty"]}


async def test_staff_quote_the_catalogue_and_agents_a_customers_changes(gql: GQL) -> None:
    items = [{"action": "ADD", "offering": offering("tv-basic")}]
    for staff in ("agent:a1", "analyst:x"):
        payload = await quote(gql, items, staff)
        assert payload["quote"]["monthlyChange"] == eur("9.99"), staff
    change = [{"action": "DELETE", "product": product("prd-000002-1")}]
    unnamed = await quote(gql, change, "agent:a1")
    assert problems(unnamed) == {("INVALID_INPUT", ("customer",))}
    assisted = await quote(gql, change, "agent:a1", customer="cus-000002")
    assert assisted["quote"]["monthlyChange"] == eur("-29.99")
    refused = await gql(QUOTE, {"input": {"items": change, "customer": "cus-000002"}}, "analyst:x")
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"]
