"""The listener route over real HTTP, on a real gateway (on the sandbox's backends, its hub
registration off so that only the tests' notifications are broadcast): the secret in the URL,
the 4xx answers that touch nothing, the 201 that reaches the fan-out once, and the 503 that
makes a backend retry while Redis is away."""

from __future__ import annotations

import asyncio
import io
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any, Final

import aiohttp
import orjson
import pytest

from graph.events import ChangeEvent, Subscriber
from graph.events.listener import MAX_EVENT_BYTES
from graph.sandbox import RunningSandbox
from tests.gateway.conftest import RunningGateway, running_gateway, settings_for

SECRET: Final = "test-event-secret-0123456789"
TICKET: Final = "troubleTicketStatusChangeEvent"
WITHIN: Final = 1.0


def ticket_event(record_id: str = "tt-000001-1", **extra: Any) -> dict[str, Any]:
    return {
        "eventId": uuid.uuid4().hex,
        "eventTime": "2026-11-26T10:00:00.000Z",
        "eventType": "TroubleTicketStatusChangeEvent",
        "domain": "TMF621",
        "event": {"troubleTicket": {"id": record_id, "status": "inProgress"}},
        **extra,
    }


@pytest.fixture
async def gateway(sandbox: RunningSandbox) -> AsyncIterator[RunningGateway]:
    async with running_gateway(settings_for(sandbox, event_secret=SECRET, events=False)) as gw:
        yield gw


@pytest.fixture
def tickets(gateway: RunningGateway) -> Iterator[Subscriber]:
    """A fan-out subscriber to trouble ticket events, for the test's duration."""
    fanout = gateway.state.events
    assert fanout is not None
    with fanout.subscribe(frozenset({"troubleTicket"})) as subscriber:
        yield subscriber


async def notify(
    http: aiohttp.ClientSession,
    gateway: RunningGateway,
    body: Any,
    event_name: str = TICKET,
    secret: str = SECRET,
    raw: bytes | None = None,
) -> tuple[int, Any]:
    url = f"{gateway.url}/events/{secret}/listener/{event_name}"
    data = io.BytesIO(raw if raw is not None else orjson.dumps(body))
    headers = {"Content-Type": "application/json"}
    async with http.post(url, data=data, headers=headers) as resp:
        text = await resp.read()
        try:
            return resp.status, orjson.loads(text) if text else None
        except orjson.JSONDecodeError:
            return resp.status, text


async def next_of(subscriber: Subscriber) -> ChangeEvent:
    return await asyncio.wait_for(anext(subscriber), WITHIN)


async def test_a_valid_event_is_accepted_and_reaches_the_fan_out(
    http: aiohttp.ClientSession, gateway: RunningGateway, tickets: Subscriber
) -> None:
    body = ticket_event("tt-000003-2")
    status, _ = await notify(http, gateway, body)
    assert status == 201
    event = await next_of(tickets)
    assert (event.event_id, event.resource, event.record_id) == (
        body["eventId"],
        "troubleTicket",
        "tt-000003-2",
    )
    assert event.event_type == "TroubleTicketStatusChangeEvent"
    assert event.record == body["event"]["troubleTicket"]
    assert gateway.state.event_counts == {"accepted": 1}


async def test_the_same_event_id_twice_is_delivered_once(
    http: aiohttp.ClientSession, gateway: RunningGateway, tickets: Subscriber
) -> None:
    body = ticket_event()
    assert (await notify(http, gateway, body))[0] == 201
    assert (await notify(http, gateway, body))[0] == 201  # the backend need not retry it
    after = ticket_event("tt-000002-1")
    assert (await notify(http, gateway, after))[0] == 201
    assert (await next_of(tickets)).event_id == body["eventId"]
    assert (await next_of(tickets)).event_id == after["eventId"]  # not the repeat
    assert gateway.state.event_counts == {"accepted": 2, "duplicates": 1}


@pytest.mark.parametrize(
    "secret",
    ["wrong-secret-0123456789abc", SECRET[:-1], SECRET + "x", SECRET.upper(), "x"],
)
async def test_a_wrong_secret_is_not_found_and_nothing_is_broadcast(
    http: aiohttp.ClientSession, gateway: RunningGateway, tickets: Subscriber, secret: str
) -> None:
    forged = ticket_event()
    status, _ = await notify(http, gateway, forged, secret=secret)
    assert status == 404
    # Even a malformed body is not looked at without the secret.
    assert (await notify(http, gateway, None, secret=secret, raw=b"{"))[0] == 404
    assert (await notify(http, gateway, None, "nope", secret=secret))[0] == 404
    marker = ticket_event()
    assert (await notify(http, gateway, marker))[0] == 201
    # The first event the subscriber sees is the marker: the forged one never went out.
    assert (await next_of(tickets)).event_id == marker["eventId"]
    assert gateway.state.event_counts == {"forged": 3, "accepted": 1}
    # ...and its id was not used up: the real event with that id is still taken.
    assert (await notify(http, gateway, forged))[0] == 201
    assert (await next_of(tickets)).event_id == forged["eventId"]


async def test_the_secret_is_not_anywhere_but_the_path(
    http: aiohttp.ClientSession, gateway: RunningGateway
) -> None:
    url = f"{gateway.url}/events/listener/{TICKET}"
    async with http.post(url, data=orjson.dumps(ticket_event())) as resp:
        assert resp.status == 404
    async with http.post(
        f"{gateway.url}/events/x/listener/{TICKET}?secret={SECRET}",
        data=orjson.dumps(ticket_event()),
    ) as resp:
        assert resp.status == 404


@pytest.mark.parametrize(
    ("event_name", "raw", "reason"),
    [
        (TICKET, b"{", "not JSON"),
        (TICKET, b"", "not JSON"),
        (TICKET, b"\xff\xfe", "not JSON"),
        (TICKET, b"[]", "not a JSON object"),
        (TICKET, b'"event"', "not a JSON object"),
        ("troubleTicketDeleteEvent", None, "not an event this gateway listens to"),
        ("productOrderStateChangeEvent", None, "eventType"),
    ],
)
async def test_a_malformed_notification_is_a_bad_request_and_nothing_is_broadcast(
    http: aiohttp.ClientSession,
    gateway: RunningGateway,
    tickets: Subscriber,
    event_name: str,
    raw: bytes | None,
    reason: str,
) -> None:
    body = ticket_event()
    status, answer = await notify(http, gateway, body, event_name, raw=raw)
    assert status == 400
    assert reason in answer["reason"]
    assert answer["code"] == "400"
    marker = ticket_event()
    assert (await notify(http, gateway, marker))[0] == 201
    assert (await next_of(tickets)).event_id == marker["eventId"]
    assert gateway.state.event_counts == {"refused": 1, "accepted": 1}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"eventId": "a/b"}, "eventId"),
        ({"eventId": None}, "eventId"),
        ({"eventType": "TroubleTicketCreateEvent"}, "eventType"),
        ({"event": {}}, "event.troubleTicket is missing"),
        ({"event": {"troubleTicket": {"id": "tt-1,tt-2"}}}, "event.troubleTicket.id"),
        ({"event": {"troubleTicket": {"id": "../tt-1"}}}, "event.troubleTicket.id"),
        ({"event": {"troubleTicket": {"id": "t" * 129}}}, "event.troubleTicket.id"),
    ],
)
async def test_a_body_of_the_wrong_shape_is_a_bad_request_naming_what_is_wrong(
    http: aiohttp.ClientSession,
    gateway: RunningGateway,
    tickets: Subscriber,
    change: dict[str, Any],
    reason: str,
) -> None:
    status, answer = await notify(http, gateway, ticket_event() | change)
    assert status == 400
    assert reason in answer["reason"]
    marker = ticket_event()
    assert (await notify(http, gateway, marker))[0] == 201
    assert (await next_of(tickets)).event_id == marker["eventId"]


def padded_event(size: int) -> bytes:
    """A valid event of exactly ``size`` bytes (padding in a record attribute)."""
    body = ticket_event()
    body["event"]["troubleTicket"]["description"] = ""
    bare = len(orjson.dumps(body))
    body["event"]["troubleTicket"]["description"] = "x" * (size - bare)
    raw = orjson.dumps(body)
    assert len(raw) == size
    return raw


async def test_an_event_up_to_one_mib_is_taken_even_above_the_graphql_body_limit(
    http: aiohttp.ClientSession, gateway: RunningGateway, tickets: Subscriber
) -> None:
    raw = padded_event(MAX_EVENT_BYTES)
    assert (await notify(http, gateway, None, raw=raw))[0] == 201
    event = await next_of(tickets)
    assert event.event_id == orjson.loads(raw)["eventId"]
    assert len(event.record["description"]) > 1_000_000


async def test_an_event_over_one_mib_is_too_large_and_nothing_is_broadcast(
    http: aiohttp.ClientSession, gateway: RunningGateway, tickets: Subscriber
) -> None:
    raw = padded_event(MAX_EVENT_BYTES + 1)
    assert (await notify(http, gateway, None, raw=raw))[0] == 413

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
        for start in range(0, len(raw), 64 * 1024):
            yield raw[start : start + 64 * 1024]

    url = f"{gateway.url}/events/{SECRET}/listener/{TICKET}"
    async with http.post(url, data=chunked()) as resp:
        assert resp.status == 413
    marker = ticket_event()
    assert (await notify(http, gateway, marker))[0] == 201
    assert (await next_of(tickets)).event_id == marker["eventId"]
    assert gateway.state.event_counts == {"refused": 2, "accepted": 1}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_with_redis_unreachable_a_valid_event_is_503_for_the_backend_to_retry(
    http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    settings = settings_for(
        sandbox,
        event_secret=SECRET,
        events=False,
        redis_url=f"redis://127.0.0.1:{closed_port()}/0",
        redis_prefix=f"csm-test:{uuid.uuid4().hex}:",
    )
    async with running_gateway(settings) as gateway:
        status, answer = await notify(http, gateway, ticket_event())
        assert status == 503
        assert answer == {"reason": "try again later"}
        # The checks come first: a malformed event is still a 400, not a retry.
        assert (await notify(http, gateway, None, raw=b"{"))[0] == 400
        assert (await notify(http, gateway, ticket_event(), secret="x" * 20))[0] == 404
        assert "accepted" not in gateway.state.event_counts
