"""TMF hub subscriptions and event delivery to a real listener."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from graph.sandbox import RunningSandbox
from graph.sandbox.registry import COLLECTIONS
from tests.support.listener import Listener, running_listener
from tests.support.tmf_client import call, url_of

HUB = f"{COLLECTIONS['troubleTicket'].api.base_path}/hub"
MERGE = "application/merge-patch+json"


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    async with running_listener() as running:
        yield running


async def new_ticket(http: aiohttp.ClientSession, sandbox: RunningSandbox) -> dict[str, object]:
    customer = (
        await call(http, "GET", url_of(sandbox.url, "customer"), params={"limit": "1"})
    ).body[0]
    body = {
        "description": "No internet since this morning",
        "severity": "major",
        "ticketType": "incident",
        "relatedParty": [{"id": customer["id"], "@referredType": "Customer", "role": "customer"}],
    }
    reply = await call(http, "POST", url_of(sandbox.url, "troubleTicket"), json=body)
    assert reply.status == 201, reply.body
    ticket: dict[str, object] = reply.body
    return ticket


async def test_subscribe_and_receive_create_status_and_delete_events(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, listener: Listener
) -> None:
    sub = await call(http, "POST", sandbox.url + HUB, json={"callback": listener.url})
    assert sub.status == 201
    assert sub.body["id"]
    assert sub.body["callback"] == listener.url
    ticket = await new_ticket(http, sandbox)
    patched = await call(
        http, "PATCH", str(ticket["href"]), json={"status": "inProgress"}, content_type=MERGE
    )
    assert patched.status == 200, patched.body
    await call(http, "DELETE", str(ticket["href"]))
    events = await listener.wait_for(3)
    assert listener.names() == [
        "troubleTicketCreateEvent",
        "troubleTicketStatusChangeEvent",
        "troubleTicketDeleteEvent",
    ]
    created = events[0][1]
    assert created["eventType"] == "TroubleTicketCreateEvent"
    assert created["eventId"]
    assert created["eventTime"]
    assert created["event"]["troubleTicket"]["id"] == ticket["id"]
    assert events[1][1]["event"]["troubleTicket"]["status"] == "inProgress"
    assert len({body["eventId"] for _, body in events}) == 3


async def test_attribute_change_event_and_other_apis_stay_quiet(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, listener: Listener
) -> None:
    await call(http, "POST", sandbox.url + HUB, json={"callback": listener.url})
    ticket = await new_ticket(http, sandbox)
    await call(http, "PATCH", str(ticket["href"]), json={"priority": "high"}, content_type=MERGE)
    # a change on another API must not reach a TMF621 subscription
    await call(
        http, "POST", url_of(sandbox.url, "individual"), json={"givenName": "A", "familyName": "B"}
    )
    await listener.wait_for(2)
    await asyncio.sleep(0.1)
    assert listener.names() == [
        "troubleTicketCreateEvent",
        "troubleTicketAttributeValueChangeEvent",
    ]


async def test_subscription_query_narrows_events(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, listener: Listener
) -> None:
    query = "eventType=TroubleTicketStatusChangeEvent"
    await call(http, "POST", sandbox.url + HUB, json={"callback": listener.url, "query": query})
    ticket = await new_ticket(http, sandbox)
    await call(
        http, "PATCH", str(ticket["href"]), json={"status": "inProgress"}, content_type=MERGE
    )
    await listener.wait_for(1)
    await asyncio.sleep(0.1)
    assert listener.names() == ["troubleTicketStatusChangeEvent"]


async def test_failed_deliveries_are_retried(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, listener: Listener
) -> None:
    listener.failures_left = 2
    await call(http, "POST", sandbox.url + HUB, json={"callback": listener.url})
    await new_ticket(http, sandbox)
    await listener.wait_for(1)
    assert listener.attempts == 3
    assert listener.names() == ["troubleTicketCreateEvent"]
    stats = (await call(http, "GET", sandbox.url + "/admin/events")).body
    assert stats["retried"] == 2
    assert stats["delivered"] == 1


async def test_unsubscribe_stops_delivery(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, listener: Listener
) -> None:
    sub = await call(http, "POST", sandbox.url + HUB, json={"callback": listener.url})
    gone = await call(http, "DELETE", f"{sandbox.url}{HUB}/{sub.body['id']}")
    assert gone.status == 204
    await new_ticket(http, sandbox)
    await asyncio.sleep(0.2)
    assert listener.received == []
    again = await call(http, "DELETE", f"{sandbox.url}{HUB}/{sub.body['id']}")
    assert again.status == 404


@pytest.mark.parametrize(
    "body", [{}, {"callback": 5}, {"callback": "ftp://x"}, {"callback": "http://x", "query": 1}]
)
async def test_bad_subscriptions_are_400(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, body: dict[str, object]
) -> None:
    reply = await call(http, "POST", sandbox.url + HUB, json=body)
    assert reply.status == 400
    assert reply.body["reason"] == "Invalid subscription"
