"""GraphQL subscriptions end to end: a real gateway registered with the sandbox's TMF hubs, real
development-IdP tokens over graphql-transport-ws, and changes made the ways they happen --
mutations through the gateway, a bill run and service changes at the sandbox. What a
subscriber receives is read back through its own scope, so another customer's change never
reaches it."""

from __future__ import annotations

import asyncio
import datetime
import functools
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from graph.auth.devidp import load_or_create_key, mint
from graph.sandbox import RunningSandbox, SandboxConfig
from graph.sandbox.registry import COLLECTIONS
from graph.schema.common import encode_global_id
from tests.conftest import TODAY
from tests.gateway.conftest import (
    GQL,
    RunningGateway,
    running_gateway,
    settings_for,
    token_for,
)
from tests.support.listener import running_listener
from tests.support.tmf_client import call, url_of
from tests.support.ws import GraphQLWebSocket, graphql_ws

ME = "cus-000001"
OTHER = "cus-000002"

TICKETS = """subscription($ticket: ID, $customer: ID) {
  troubleTicketUpdated(ticket: $ticket, customer: $customer) {
    id reference status statusHistory { status }
  }
}"""
ORDERS = """subscription($order: ID) { productOrderProgress(order: $order) {
  reference state items { action state }
} }"""
BILLS = """subscription($customer: ID) { billIssued(customer: $customer) {
  reference billNo state amountDue { amount currency } remainingAmount { amount }
  lines { name taxIncludedAmount { amount } }
  account { reference outstanding { amount } }
} }"""
PAYMENTS = """subscription { paymentStatusChanged {
  reference status totalAmount { amount currency }
  items { amount { amount } bill { reference } }
  account { reference }
} }"""
HEALTH = """subscription($service: ID) { serviceHealthChanged(service: $service) {
  reference state health
} }"""

CREATE_TICKET = """mutation($input: CreateTroubleTicketInput!) {
  createTroubleTicket(input: $input) { ticket { reference } errors { code message } }
}"""
CANCEL_TICKET = """mutation($input: CancelTroubleTicketInput!) {
  cancelTroubleTicket(input: $input) { ticket { status } errors { code message } }
}"""
PLACE_ORDER = """mutation($input: PlaceProductOrderInput!) {
  placeProductOrder(input: $input) { order { reference state } errors { code message } }
}"""
PAY_BILL = """mutation($input: PayBillInput!) {
  payBill(input: $input) { payment { reference } errors { code message } }
}"""


@pytest.fixture
def sandbox_config(dev_idp_key: Path) -> SandboxConfig:
    """Orders step slowly enough that a subscriber sees each of their states."""
    return SandboxConfig(
        customers=20,
        seed=7,
        today=TODAY,
        order_step_seconds=0.3,
        delivery_backoff_seconds=0.02,
        idp_key_path=dev_idp_key,
    )


# -- helpers ---------------------------------------------------------------------------------


def gid(type_name: str, record_id: str) -> str:
    return encode_global_id(type_name, record_id)


async def subscribed(gateway: RunningGateway, count: int, within: float = 3.0) -> None:
    """Wait until ``count`` subscriptions listen to the fan-out (a subscription starts
    listening a moment after its ``subscribe`` message)."""
    fanout = gateway.state.events
    assert fanout is not None
    deadline = time.monotonic() + within
    while fanout.subscribers != count:
        assert time.monotonic() < deadline, f"{fanout.subscribers} subscribers, not {count}"
        await asyncio.sleep(0.01)


async def records(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, collection: str, customer: str
) -> list[dict[str, Any]]:
    reply = await call(
        http, "GET", url_of(sandbox.url, collection), params={"relatedParty.id": customer}
    )
    assert reply.status in (200, 206), reply.body
    found: list[dict[str, Any]] = reply.body
    return found


async def sandbox_ticket(http: aiohttp.ClientSession, sandbox: RunningSandbox, who: str) -> str:
    """A ticket raised at the ticketing system itself (as customer care would)."""
    reply = await call(http, "POST", url_of(sandbox.url, "troubleTicket"), json={
        "description": "No dial tone", "ticketType": "fault", "severity": "minor",
        "relatedParty": [{"id": who, "role": "customer", "@referredType": "Customer"}],
    })  # fmt: skip
    assert reply.status == 201, reply.body
    ticket_id: str = reply.body["id"]
    return ticket_id


async def bill_run(http: aiohttp.ClientSession, sandbox: RunningSandbox, **body: str) -> Any:
    reply = await call(http, "POST", f"{sandbox.url}/admin/bill-run", json=body)
    assert reply.status == 201, reply.body
    return reply.body["bills"]


async def mutate(gql: GQL, document: str, field: str, given: dict[str, Any], who: str) -> Any:
    result = await gql(document, {"input": given}, principal=who)
    assert "errors" not in result, result
    payload = result["data"][field]
    assert payload["errors"] == [], payload
    return payload


def error_of(message: dict[str, Any]) -> dict[str, Any]:
    """The one error of an operation that was refused or ended with an error."""
    if message["type"] == "error":
        [error] = message["payload"]
    else:
        assert message["type"] == "next", message
        assert message["payload"].get("data") is None, message
        [error] = message["payload"]["errors"]
    assert isinstance(error, dict)
    return error


async def refused(ws: GraphQLWebSocket, document: str, variables: dict[str, Any]) -> str:
    """The code a subscription is refused with."""
    message = await ws.next(await ws.subscribe(document, variables))
    code: str = error_of(message)["extensions"]["code"]
    return code


# -- what each subscription delivers ---------------------------------------------------------


async def test_a_customer_sees_their_ticket_move(
    gateway: RunningGateway,
    gql: GQL,
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    dev_idp_key: Path,
) -> None:
    [product, *_] = await records(http, sandbox, "product", ME)
    async with graphql_ws(http, gateway.url, token_for(f"customer:{ME}", dev_idp_key)) as ws:
        every = await ws.subscribe(TICKETS)
        await subscribed(gateway, 1)
        created = await mutate(gql, CREATE_TICKET, "createTroubleTicket", {
            "subject": gid("Product", product["id"]), "description": "The line is dead.",
        }, f"customer:{ME}")  # fmt: skip
        reference = created["ticket"]["reference"]
        first = (await ws.data(every))["troubleTicketUpdated"]
        assert first["reference"] == reference
        assert first["id"] == gid("TroubleTicket", reference)
        assert first["status"] == "ACKNOWLEDGED"
        assert first["statusHistory"] == [{"status": "ACKNOWLEDGED"}]

        # Customer care takes it on: a status and an attribute changed at once (two events,
        # one change), sent once.
        reply = await call(http, "PATCH", url_of(sandbox.url, "troubleTicket", reference), json={
            "status": "inProgress", "severity": "major",
        })  # fmt: skip
        assert reply.status == 200, reply.body
        taken = (await ws.data(every))["troubleTicketUpdated"]
        assert taken["status"] == "IN_PROGRESS"

        # One ticket only, on the same connection.
        one = await ws.subscribe(TICKETS, {"ticket": gid("TroubleTicket", reference)})
        await subscribed(gateway, 2)
        await mutate(gql, CANCEL_TICKET, "cancelTroubleTicket", {
            "ticket": gid("TroubleTicket", reference), "reason": "It works again.",
        }, f"customer:{ME}")  # fmt: skip
        for op in (every, one):
            moved = (await ws.data(op))["troubleTicketUpdated"]
            assert moved["reference"] == reference
            assert moved["status"] == "CANCELLED"
            history = [s["status"] for s in moved["statusHistory"]]
            assert history == ["ACKNOWLEDGED", "IN_PROGRESS", "CANCELLED"]
        assert await ws.quiet(every, 0.2)
        # The client stops one subscription: it stops listening, the other goes on.
        await ws.complete(one)
        await subscribed(gateway, 1)


async def test_product_order_progress_follows_the_order_to_completion(
    gateway: RunningGateway, gql: GQL, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    async with graphql_ws(http, gateway.url, token_for(f"customer:{ME}", dev_idp_key)) as ws:
        op = await ws.subscribe(ORDERS)
        await subscribed(gateway, 1)
        placed = await mutate(gql, PLACE_ORDER, "placeProductOrder", {
            "items": [{"action": "ADD", "offering": gid("ProductOffering", "off-tv-basic")}],
            "billingAccount": gid("BillingAccount", f"ba-{ME[4:]}-1"),
        }, f"customer:{ME}")  # fmt: skip
        reference = placed["order"]["reference"]
        states: list[str] = []
        while not states or states[-1] not in ("COMPLETED", "FAILED"):
            order = (await ws.data(op))["productOrderProgress"]
            assert order["reference"] == reference
            states.append(order["state"])
        assert states == ["ACKNOWLEDGED", "IN_PROGRESS", "COMPLETED"]
        assert order["items"] == [{"action": "ADD", "state": "COMPLETED"}]


async def test_a_payment_is_announced_after_pay_bill(
    gateway: RunningGateway,
    gql: GQL,
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    dev_idp_key: Path,
) -> None:
    [bill] = await bill_run(http, sandbox, account=f"ba-{ME[4:]}-1")  # an open bill to pay
    async with graphql_ws(http, gateway.url, token_for(f"customer:{ME}", dev_idp_key)) as ws:
        op = await ws.subscribe(PAYMENTS)
        await subscribed(gateway, 1)
        paid = await mutate(gql, PAY_BILL, "payBill", {
            "bills": [{"bill": gid("Bill", bill["id"]), "amount": "1.00"}],
            "paymentMethod": gid("PaymentMethod", bill["paymentMethod"]["id"]),
            "idempotencyKey": str(uuid.uuid4()),
        }, f"customer:{ME}")  # fmt: skip
        payment = (await ws.data(op))["paymentStatusChanged"]
        assert payment == {
            "reference": paid["payment"]["reference"],
            "status": "done",
            "totalAmount": {"amount": "1.00", "currency": "EUR"},
            "items": [{"amount": {"amount": "1.00"}, "bill": {"reference": bill["id"]}}],
            "account": {"reference": bill["billingAccount"]["id"]},
        }


async def test_a_bill_run_announces_the_new_bill_with_its_lines_and_balance(
    gateway: RunningGateway, sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    account = f"ba-{ME[4:]}-1"
    async with graphql_ws(http, gateway.url, token_for(f"customer:{ME}", dev_idp_key)) as ws:
        op = await ws.subscribe(BILLS)
        await subscribed(gateway, 1)
        sent = []
        for _ in range(2):  # two runs: what the second event shows is read for it, not reused
            [issued] = await bill_run(http, sandbox, account=account)
            sent.append((issued, (await ws.data(op))["billIssued"]))
            balance = await call(http, "GET", url_of(sandbox.url, "billingAccount", account))
            [outstanding] = [
                b["amount"]["value"]
                for b in balance.body["accountBalance"]
                if b["balanceType"] == "outstanding"
            ]
            assert sent[-1][1]["account"] == {
                "reference": account,
                "outstanding": {"amount": f"{outstanding:.2f}"},
            }
    for issued, bill in sent:
        amount = f"{issued['amountDue']['value']:.2f}"
        assert bill["reference"] == issued["id"]
        assert bill["billNo"] == issued["billNo"]
        assert bill["state"] == "NEW"
        assert bill["amountDue"] == {"amount": amount, "currency": "EUR"}
        assert bill["remainingAmount"] == {"amount": amount}
        # Its lines: the rates the run wrote for it.
        lines = [float(line["taxIncludedAmount"]["amount"]) for line in bill["lines"]]
        assert sum(lines) == pytest.approx(issued["amountDue"]["value"])
        assert all(line["name"].endswith("fee") for line in bill["lines"])
    first, second = (float(bill["account"]["outstanding"]["amount"]) for _, bill in sent)
    assert second == pytest.approx(first + sent[1][0]["amountDue"]["value"])


async def test_service_health_is_sent_when_it_changes(
    gateway: RunningGateway, sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    services = [s for s in await records(http, sandbox, "service", ME) if s["state"] == "active"]
    assert len(services) >= 2, "cus-000001 needs two active services in the seeded data"
    first, second = services[0]["id"], services[1]["id"]
    service_url = functools.partial(url_of, sandbox.url, "service")
    async with graphql_ws(http, gateway.url, token_for(f"customer:{ME}", dev_idp_key)) as ws:
        every = await ws.subscribe(HEALTH)
        only_second = await ws.subscribe(HEALTH, {"service": gid("Service", second)})
        await subscribed(gateway, 2)

        # TMF638: the first service suspended -> not in service, no health (UNKNOWN).
        reply = await call(http, "PATCH", service_url(first), json={"state": "inactive"})
        assert reply.status == 200, reply.body
        sent = (await ws.data(every))["serviceHealthChanged"]
        assert sent == {"reference": first, "state": "INACTIVE", "health": "UNKNOWN"}

        # TMF656: a problem of the highest priority on the second service -> DOWN.
        reply = await call(http, "POST", url_of(sandbox.url, "serviceProblem"), json={
            "category": "network", "priority": 1, "description": "Cell site down",
            "reason": "outage", "status": "acknowledged",
            "affectedService": [{"id": second, "@referredType": "Service"}],
            "originatorParty": {"id": "noc", "@referredType": "Organization", "name": "NOC"},
        })  # fmt: skip
        assert reply.status == 201, reply.body
        down = {"reference": second, "state": "ACTIVE", "health": "DOWN"}
        assert (await ws.data(every))["serviceHealthChanged"] == down
        assert (await ws.data(only_second))["serviceHealthChanged"] == down

        # A change that leaves the health as it was is not sent; the next one that moves it is.
        reply = await call(http, "PATCH", service_url(first), json={"description": "Suspended"})
        assert reply.status == 200, reply.body
        reply = await call(http, "PATCH", service_url(first), json={"state": "active"})
        assert reply.status == 200, reply.body
        back = (await ws.data(every))["serviceHealthChanged"]
        assert back["reference"] == first
        assert back["state"] == "ACTIVE"
        assert back["health"] != "UNKNOWN"
        assert await ws.quiet(only_second, 0.2)  # the first service is not the one it follows


# -- whose objects ---------------------------------------------------------------------------


async def test_a_customer_never_receives_another_customers_event(
    gateway: RunningGateway,
    gql: GQL,
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    dev_idp_key: Path,
) -> None:
    [theirs, *_] = await records(http, sandbox, "product", OTHER)
    async with graphql_ws(http, gateway.url, token_for(f"customer:{ME}", dev_idp_key)) as ws:
        tickets = await ws.subscribe(TICKETS)
        bills = await ws.subscribe(BILLS)
        await subscribed(gateway, 2)
        # The other customer's changes: through the gateway, and at the backends.
        await mutate(gql, CREATE_TICKET, "createTroubleTicket", {
            "subject": gid("Product", theirs["id"]), "description": "Slow internet.",
        }, f"customer:{OTHER}")  # fmt: skip
        await sandbox_ticket(http, sandbox, OTHER)
        await bill_run(http, sandbox, customer=OTHER)
        # Then one change of mine of each kind: the first thing received is mine.
        mine = await sandbox_ticket(http, sandbox, ME)
        [my_bill] = await bill_run(http, sandbox, account=f"ba-{ME[4:]}-2")
        assert (await ws.data(tickets))["troubleTicketUpdated"]["reference"] == mine
        assert (await ws.data(bills))["billIssued"]["reference"] == my_bill["id"]
    # The other customer's events did reach this subscriber's queue: its scope left them out.
    assert gateway.state.events is not None
    assert gateway.state.events.counts["delivered"] >= 5


async def test_an_agent_follows_the_customer_being_assisted(
    gateway: RunningGateway, sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    assisted, other = "cus-000003", "cus-000004"
    async with graphql_ws(http, gateway.url, token_for("agent:a1", dev_idp_key)) as ws:
        assert await refused(ws, TICKETS, {}) == "BAD_USER_INPUT"  # the customer is required
        assert await refused(ws, TICKETS, {"customer": "cus-999999"}) == "NOT_FOUND"
        op = await ws.subscribe(TICKETS, {"customer": gid("Customer", assisted)})
        await subscribed(gateway, 1)
        await sandbox_ticket(http, sandbox, other)
        ticket = await sandbox_ticket(http, sandbox, assisted)
        assert (await ws.data(op))["troubleTicketUpdated"]["reference"] == ticket


async def test_who_may_not_subscribe_is_refused_before_listening(
    gateway: RunningGateway, sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    async with graphql_ws(http, gateway.url, token_for("analyst:x", dev_idp_key)) as ws:
        assert await refused(ws, TICKETS, {"customer": ME}) == "FORBIDDEN"
        assert await refused(ws, BILLS, {"customer": ME}) == "FORBIDDEN"
    async with graphql_ws(http, gateway.url) as ws:  # no token
        assert await refused(ws, TICKETS, {}) == "UNAUTHENTICATED"
        assert await refused(ws, PAYMENTS, {}) == "UNAUTHENTICATED"
    theirs = await sandbox_ticket(http, sandbox, OTHER)
    async with graphql_ws(http, gateway.url, token_for(f"customer:{ME}", dev_idp_key)) as ws:
        assert await refused(ws, TICKETS, {"customer": OTHER}) == "NOT_FOUND"
        assert await refused(ws, TICKETS, {"ticket": gid("TroubleTicket", theirs)}) == "NOT_FOUND"
        assert await refused(ws, TICKETS, {"ticket": gid("Bill", theirs)}) == "BAD_USER_INPUT"
        assert await refused(ws, HEALTH, {"service": "not-an-id"}) == "BAD_USER_INPUT"
    assert gateway.state.events is not None
    assert gateway.state.events.subscribers == 0


async def test_fields_need_the_assurance_their_queries_need(
    gateway: RunningGateway, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    key = load_or_create_key(dev_idp_key)
    low = mint(key, role="customer", channel="web", customer_id=ME, subject=ME, acr="low")
    notes = "subscription { troubleTicketUpdated { reference notes { text } } }"
    async with graphql_ws(http, gateway.url, low) as ws:
        message = await ws.next(await ws.subscribe(notes))
        error = error_of(message)
        assert error["extensions"]["code"] == "FORBIDDEN"
        assert error["extensions"]["field"] == "TroubleTicket.notes"
        await ws.subscribe(TICKETS)  # without the notes: allowed on a low sign-in
        await subscribed(gateway, 1)


# -- how subscriptions end -------------------------------------------------------------------


async def test_token_expiry_ends_the_subscription(
    gateway: RunningGateway, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    token = token_for(f"customer:{ME}", dev_idp_key, ttl=2)
    async with graphql_ws(http, gateway.url, token) as ws:
        await ws.subscribe(TICKETS)
        await subscribed(gateway, 1)
        assert await ws.closed(within=5) == 4401
    await subscribed(gateway, 0)  # and it no longer listens


async def test_a_slow_subscriber_is_ended_while_another_keeps_receiving(
    gateway: RunningGateway,
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    dev_idp_key: Path,
) -> None:
    fanout = gateway.state.events
    assert fanout is not None
    token = token_for(f"customer:{ME}", dev_idp_key)
    async with (
        graphql_ws(http, gateway.url, token) as slow,
        graphql_ws(http, gateway.url, token) as steady,
    ):
        # The slow one may fall 2 events behind; the steady one the default 100.
        fanout.queue_size = 2
        slow_op = await slow.subscribe(TICKETS)
        await subscribed(gateway, 1)
        fanout.queue_size = 100
        steady_op = await steady.subscribe(TICKETS)
        await subscribed(gateway, 2)
        # Every reload of a ticket takes 150 ms: events arrive faster than they are handled.
        fault = {"latency_ms": 150, "methods": ["GET"]}
        reply = await call(http, "PUT", f"{sandbox.url}/admin/faults/TMF621", json=fault)
        assert reply.status == 200, reply.body
        made = [await sandbox_ticket(http, sandbox, ME) for _ in range(6)]

        ended = None
        for _ in range(len(made) + 1):
            message = await slow.next(slow_op)
            if message["type"] != "next" or "errors" in message["payload"]:
                ended = error_of(message)
                break
        assert ended is not None
        assert ended["extensions"]["code"] == "BACKEND_UNAVAILABLE"
        assert "subscribe again" in ended["message"]
        assert (await slow.next(slow_op))["type"] == "complete"

        received = [(await steady.data(steady_op))["troubleTicketUpdated"] for _ in made]
        assert [t["reference"] for t in received] == made
        await call(http, "DELETE", f"{sandbox.url}/admin/faults")
        later = await sandbox_ticket(http, sandbox, ME)
        assert (await steady.data(steady_op))["troubleTicketUpdated"]["reference"] == later
    assert fanout.counts["overflows"] >= 1


async def test_subscriptions_complete_when_the_event_fanout_stops(
    gateway: RunningGateway, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    fanout = gateway.state.events
    assert fanout is not None
    async with graphql_ws(http, gateway.url, token_for(f"customer:{ME}", dev_idp_key)) as ws:
        tickets = await ws.subscribe(TICKETS)
        bills = await ws.subscribe(BILLS)
        await subscribed(gateway, 2)
        await fanout.stop()  # what the gateway does at shutdown
        assert (await ws.next(tickets))["type"] == "complete"
        assert (await ws.next(bills))["type"] == "complete"
    await subscribed(gateway, 0)


async def test_a_broadcast_gap_ends_idle_subscriptions_with_the_error(
    gateway: RunningGateway, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    async with graphql_ws(http, gateway.url, token_for(f"customer:{ME}", dev_idp_key)) as ws:
        op = await ws.subscribe(TICKETS)
        await subscribed(gateway, 1)
        await gateway.state.stores.broadcast.publish_once("gap", b"")  # as after Redis returns
        error = error_of(await ws.next(op, within=2))
        assert error["extensions"]["code"] == "BACKEND_UNAVAILABLE"
        assert (await ws.next(op))["type"] == "complete"


# -- the sandbox's bill run ------------------------------------------------------------------


async def test_the_bill_run_issues_the_next_bill_and_publishes_the_v5_event(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    account = "ba-000005-1"
    before = await call(
        http, "GET", url_of(sandbox.url, "customerBill"),
        params={"billingAccount.id": account, "sort": "billDate"},
    )  # fmt: skip
    latest = before.body[-1]
    async with running_listener() as listener:
        hub_url = f"{sandbox.url}{COLLECTIONS['customerBill'].api.base_path}/hub"
        hub = await call(http, "POST", hub_url, json={
            "callback": listener.url, "query": "eventType=CustomerBillCreateEvent",
        })  # fmt: skip
        assert hub.status == 201, hub.body
        [bill] = await bill_run(http, sandbox, account=account)
        [(name, event)] = await listener.wait_for(1)
    assert name == "customerBillCreateEvent"
    assert event["eventType"] == "CustomerBillCreateEvent"
    assert event["@type"] == "CustomerBillCreateEvent"  # v5: the envelope is typed,
    carried = event["event"]["customerBill"]
    assert carried["id"] == bill["id"]
    assert carried["billingAccount"]["@type"] == "BillingAccountRef"  # and so is every entity
    # The period follows the previous bill; amounts add up; the rates exist.
    start = datetime.date.fromisoformat(latest["billingPeriod"]["endDateTime"][:10])
    assert bill["billingPeriod"]["startDateTime"][:10] == str(start + datetime.timedelta(days=1))
    assert bill["billDate"][:10] == str(TODAY)
    assert bill["state"] == "new"
    assert bill["remainingAmount"] == bill["amountDue"] == bill["taxIncludedAmount"]
    rates = await call(
        http, "GET", url_of(sandbox.url, "appliedCustomerBillingRate"),
        params={"bill.id": bill["id"]},
    )  # fmt: skip
    total = sum(round(r["taxIncludedAmount"]["value"] * 100) for r in rates.body)
    assert rates.body
    assert total == round(bill["amountDue"]["value"] * 100)
    previous = await call(http, "GET", url_of(sandbox.url, "customerBill", latest["id"]))
    assert "nextBillDate" not in previous.body  # the new bill is the latest now


async def test_the_bill_run_refuses_what_it_cannot_bill(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    url = f"{sandbox.url}/admin/bill-run"
    cases: list[tuple[Any, int]] = [
        ({"account": "ba-999999-1"}, 404),
        ({"customer": "cus-999999"}, 404),
        ({}, 400),
        ({"account": "ba-000001-1", "customer": ME}, 400),
        ({"account": 7}, 400),
        ([], 400),
    ]
    for body, status in cases:
        reply = await call(http, "POST", url, json=body)
        assert reply.status == status, (body, reply.body)
    # A new account has no product yet: nothing to bill.
    account = await call(http, "POST", url_of(sandbox.url, "billingAccount"), json={
        "name": "Spare account",
        "relatedParty": [{"id": ME, "role": "owner", "@referredType": "Customer", "name": "Me"}],
    })  # fmt: skip
    assert account.status == 201, account.body
    reply = await call(http, "POST", url, json={"account": account.body["id"]})
    assert reply.status == 422, reply.body
    assert reply.body["reason"] == "Nothing to bill"
    # A customer's run bills each of their accounts that has charges.
    issued = await bill_run(http, sandbox, customer="cus-000006")
    assert issued
    assert {b["relatedParty"][0]["id"] for b in issued} == {"cus-000006"}


# -- errors sent over the WebSocket ----------------------------------------------------------


async def test_errors_sent_over_the_websocket_carry_codes_and_safe_messages(
    gateway: RunningGateway, sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    """graphql-transport-ws sends each result as it is made; its errors are coded as an HTTP
    answer's are (and a backend's own message never reaches the client)."""
    async with graphql_ws(http, gateway.url, token_for(f"customer:{ME}", dev_idp_key)) as ws:
        message = await ws.next(await ws.subscribe('{ node(id: "bm90IGFuIGlk!") { id } }'))
        error = error_of(message) if message["type"] == "error" else message["payload"]["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        fault = {"down": "503"}
        reply = await call(http, "PUT", f"{sandbox.url}/admin/faults/TMF629", json=fault)
        assert reply.status == 200, reply.body
        message = await ws.next(await ws.subscribe("{ me { reference name } }"))
        [error] = message["payload"]["errors"]
        assert error["extensions"]["code"] == "BACKEND_UNAVAILABLE"
        assert error["message"] == "The TMF629 backend is unavailable."
        assert "correlationId" in error["extensions"]


async def test_shutdown_completes_subscriptions_and_closes_the_websocket(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    async with running_gateway(settings_for(sandbox)) as gateway:
        context = graphql_ws(http, gateway.url, token_for(f"customer:{ME}", dev_idp_key))
        ws = await context.__aenter__()
        op = await ws.subscribe(TICKETS)
        await subscribed(gateway, 1)

        async def client() -> tuple[str, int | None]:
            return (await ws.next(op))["type"], await ws.closed()

        seen = asyncio.create_task(client())
        started = time.monotonic()
    assert time.monotonic() - started < 2
    assert await seen == ("complete", 1001)
    await context.__aexit__(None, None, None)
