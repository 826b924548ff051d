"""Backend change -> hub -> listener -> broadcast -> fan-out, with nothing faked: a real
gateway registers with the real sandbox at start, a change is made at the sandbox (through its
TMF API, or through a gateway mutation), and a fan-out subscriber on the gateway receives the
:class:`ChangeEvent` within a second. Also across two replicas on one Redis: each event
reaches every replica's subscribers once, whichever replica the backend called."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Final

import aiohttp
import orjson
import pytest
import redis.asyncio as aioredis

from graph.events import TOPICS, ChangeEvent, Subscriber
from graph.ids import decode_global_id, encode_global_id
from graph.sandbox import RunningSandbox
from tests.gateway.conftest import RunningGateway, auth_headers, running_gateway, settings_for
from tests.support.tmf_client import call, url_of

WITHIN: Final = 1.0
MERGE: Final = "application/merge-patch+json"
ME: Final = "cus-000001"


@pytest.fixture
async def gateway(sandbox: RunningSandbox) -> AsyncIterator[RunningGateway]:
    async with running_gateway(settings_for(sandbox)) as running:
        yield running


@contextlib.contextmanager
def subscribed(gateway: RunningGateway, *resources: str) -> Iterator[Subscriber]:
    fanout = gateway.state.events
    assert fanout is not None
    with fanout.subscribe(frozenset(resources)) as subscriber:
        yield subscriber


async def next_about(subscriber: Subscriber, record_id: str) -> ChangeEvent:
    """The next event about ``record_id`` (each event within a second)."""
    while True:
        event = await asyncio.wait_for(anext(subscriber), WITHIN)
        if event.record_id == record_id:
            return event


async def hub_subscriptions(http: aiohttp.ClientSession, sandbox: RunningSandbox) -> list[Any]:
    async with http.get(f"{sandbox.url}/admin/events") as resp:
        subscriptions: list[Any] = (await resp.json())["subscriptions"]
        return subscriptions


async def new_ticket(http: aiohttp.ClientSession, sandbox: RunningSandbox) -> str:
    body = {
        "description": "No internet since this morning",
        "severity": "Major",
        "ticketType": "incident",
        "relatedParty": [{"id": ME, "@referredType": "Customer", "role": "reporter"}],
    }
    reply = await call(http, "POST", url_of(sandbox.url, "troubleTicket"), json=body)
    assert reply.status == 201, reply.body
    ticket_id: str = reply.body["id"]
    return ticket_id


async def move_ticket(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, ticket_id: str, status: str
) -> None:
    url = url_of(sandbox.url, "troubleTicket", ticket_id)
    reply = await call(http, "PATCH", url, json={"status": status}, content_type=MERGE)
    assert reply.status == 200, reply.body


async def test_the_gateway_registers_its_listener_with_every_backend_at_start(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, gateway: RunningGateway
) -> None:
    hubs = gateway.state.hubs
    assert hubs is not None
    subscriptions = await hub_subscriptions(http, sandbox)
    assert sorted(s["api"] for s in subscriptions) == sorted(hubs.registered)
    assert len(subscriptions) == len(TOPICS)
    assert all(s["callback"].startswith(f"{gateway.url}/events/") for s in subscriptions)
    assert hubs.failures == {}


async def test_a_ticket_status_change_at_the_backend_reaches_a_subscriber(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, gateway: RunningGateway
) -> None:
    with subscribed(gateway, "troubleTicket") as tickets:
        ticket_id = await new_ticket(http, sandbox)
        created = await next_about(tickets, ticket_id)
        assert created.event_type == "TroubleTicketCreateEvent"
        assert created.record["status"] == "acknowledged"
        await move_ticket(http, sandbox, ticket_id, "inProgress")
        changed = await next_about(tickets, ticket_id)
        assert (changed.event_type, changed.resource) == (
            "TroubleTicketStatusChangeEvent",
            "troubleTicket",
        )
        assert changed.record["status"] == "inProgress"
        assert changed.event_id != created.event_id
        assert changed.time
    assert gateway.state.event_counts.get("refused", 0) == 0


async def test_a_change_made_through_a_gateway_mutation_reaches_a_subscriber(
    http: aiohttp.ClientSession,
    sandbox: RunningSandbox,
    gateway: RunningGateway,
    dev_idp_key: Path,
) -> None:
    products = await call(
        http, "GET", url_of(sandbox.url, "product"), params={"relatedParty.id": ME}
    )
    subject = encode_global_id("Product", products.body[0]["id"])
    mutation = """mutation($input: CreateTroubleTicketInput!) {
      createTroubleTicket(input: $input) { ticket { id } errors { code message } } }"""
    variables = {"input": {"subject": subject, "description": "No mobile data."}}
    headers = {"Content-Type": "application/json", **auth_headers(f"customer:{ME}", dev_idp_key)}
    with subscribed(gateway, "troubleTicket") as tickets:
        async with http.post(
            f"{gateway.url}/graphql",
            data=orjson.dumps({"query": mutation, "variables": variables}),
            headers=headers,
        ) as resp:
            result = await resp.json()
        payload = result["data"]["createTroubleTicket"]
        assert payload["errors"] == [], result
        _, ticket_id = decode_global_id(payload["ticket"]["id"])
        event = await next_about(tickets, ticket_id)
        assert event.event_type == "TroubleTicketCreateEvent"
        assert event.record["relatedParty"][0]["id"] == ME


async def test_a_bill_state_change_in_the_v5_shape_reaches_only_bill_subscribers(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, gateway: RunningGateway
) -> None:
    bills = await call(
        http, "GET", url_of(sandbox.url, "customerBill"), params={"relatedParty.id": ME}
    )
    bill_id = bills.body[0]["id"]
    with subscribed(gateway, "customerBill") as bill_events, subscribed(gateway, "payment") as pay:
        url = url_of(sandbox.url, "customerBill", bill_id)
        reply = await call(http, "PATCH", url, json={"state": "onHold"}, content_type=MERGE)
        assert reply.status == 200, reply.body
        event = await next_about(bill_events, bill_id)
        assert event.event_type == "CustomerBillStateChangeEvent"
        assert event.record["state"] == "onHold"
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(pay), 0.1)


async def test_events_not_listened_to_are_not_sent_to_the_gateway(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, gateway: RunningGateway
) -> None:
    """The hub registrations carry the listener's event types: a deletion (no listened
    event) is filtered at the backend, never refused at the listener."""
    with subscribed(gateway, "troubleTicket") as tickets:
        ticket_id = await new_ticket(http, sandbox)
        await next_about(tickets, ticket_id)
        reply = await call(http, "DELETE", url_of(sandbox.url, "troubleTicket", ticket_id))
        assert reply.status == 204
        marker = await new_ticket(http, sandbox)
        assert (await asyncio.wait_for(anext(tickets), WITHIN)).record_id == marker
    counts = gateway.state.event_counts
    assert counts.get("refused", 0) == counts.get("forged", 0) == 0
    assert counts["accepted"] >= 2


async def test_shutdown_removes_the_gateways_hub_subscriptions(
    http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    async with running_gateway(settings_for(sandbox)) as gateway:
        assert len(await hub_subscriptions(http, sandbox)) == len(TOPICS)
        assert gateway.state.hubs is not None
    assert await hub_subscriptions(http, sandbox) == []


async def test_a_backend_that_forgot_the_gateway_is_registered_again_and_delivers(
    http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    async with running_gateway(settings_for(sandbox, hub_renew_seconds=0.1)) as gateway:
        for sub in await hub_subscriptions(http, sandbox):  # a backend restart
            sandbox.backend.hub.unsubscribe(sub["api"], sub["id"])
        assert await hub_subscriptions(http, sandbox) == []
        for _ in range(100):
            await asyncio.sleep(0.02)
            if len(await hub_subscriptions(http, sandbox)) == len(TOPICS):
                break
        else:
            pytest.fail("the gateway did not register again")
        with subscribed(gateway, "troubleTicket") as tickets:
            ticket_id = await new_ticket(http, sandbox)
            assert (await next_about(tickets, ticket_id)).event_type == "TroubleTicketCreateEvent"


@pytest.fixture
async def redis_prefix(redis_url: str) -> AsyncIterator[str]:
    prefix = f"csm-test:{uuid.uuid4().hex}:"
    yield prefix
    admin = aioredis.Redis.from_url(redis_url)
    try:
        keys = [k async for k in admin.scan_iter(match=prefix + "*")]
        if keys:
            await admin.delete(*keys)
    finally:
        await admin.aclose()


async def test_two_replicas_on_one_redis_each_subscriber_gets_each_event_once(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, redis_url: str, redis_prefix: str
) -> None:
    settings = settings_for(sandbox, redis_url=redis_url, redis_prefix=redis_prefix)
    async with running_gateway(settings) as a, running_gateway(settings) as b:
        # Both replicas are registered: every backend calls both back.
        assert len(await hub_subscriptions(http, sandbox)) == 2 * len(TOPICS)
        channel = f"{redis_prefix}events"
        admin = aioredis.Redis.from_url(redis_url)
        try:
            for _ in range(100):
                if (await admin.pubsub_numsub(channel))[0][1] == 2:
                    break
                await asyncio.sleep(0.01)
            else:
                pytest.fail("the replicas do not read the broadcast")
        finally:
            await admin.aclose()
        with (
            subscribed(a, "troubleTicket") as on_a,
            subscribed(b, "troubleTicket") as on_b,
        ):
            ticket_id = await new_ticket(http, sandbox)
            await move_ticket(http, sandbox, ticket_id, "inProgress")
            for subscriber in (on_a, on_b):
                created = await next_about(subscriber, ticket_id)
                changed = await next_about(subscriber, ticket_id)
                assert (created.event_type, changed.event_type) == (
                    "TroubleTicketCreateEvent",
                    "TroubleTicketStatusChangeEvent",
                )

            def calls() -> int:
                counts = (a.state.event_counts, b.state.event_counts)
                return sum(c.get("accepted", 0) + c.get("duplicates", 0) for c in counts)

            for _ in range(100):  # both replicas were called for both events
                if calls() >= 4:
                    break
                await asyncio.sleep(0.01)
            accepted = sum(gw.state.event_counts.get("accepted", 0) for gw in (a, b))
            duplicates = sum(gw.state.event_counts.get("duplicates", 0) for gw in (a, b))
            assert (accepted, duplicates) == (2, 2)
            # Nothing more came: the next event each subscriber sees is a new one.
            marker = await new_ticket(http, sandbox)
            for subscriber in (on_a, on_b):
                assert (await asyncio.wait_for(anext(subscriber), WITHIN)).record_id == marker
