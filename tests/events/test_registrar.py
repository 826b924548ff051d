"""The hub registrar against the real sandbox: one subscription per API with the event types
the listener takes, renewed make-before-break, re-made after a backend forgot it or was down,
and removed at stop. The sandbox's ``/admin/events`` is the backends' view of it.

The callback is a real listener (:mod:`tests.support.listener`) standing in for the gateway,
so the registrations are also checked by what the sandbox then delivers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Final

import aiohttp
import pytest

from graph.events import TOPICS, HubRegistrar
from graph.sandbox import RunningSandbox
from graph.sandbox.registry import APIS as SANDBOX_APIS
from graph.sources import APIS, TmfClient, open_clients
from tests.support.listener import Listener, running_listener
from tests.support.tmf_client import call, url_of

BASE_PATHS: Final = {api.key: api.base_path for api in SANDBOX_APIS}
MERGE: Final = "application/merge-patch+json"


def query_of(api: str) -> str:
    _, names = TOPICS[api]
    return "eventType=" + ",".join(name[0].upper() + name[1:] for name in names)


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    async with running_listener() as running:
        yield running


@pytest.fixture
async def clients(sandbox: RunningSandbox) -> AsyncIterator[dict[str, TmfClient]]:
    urls = {api.key: sandbox.url + api.base_path for api in APIS}
    async with open_clients(urls, 2.0, lambda *_: None) as opened:
        yield opened


@pytest.fixture
async def registrar(
    clients: dict[str, TmfClient], listener: Listener
) -> AsyncIterator[HubRegistrar]:
    """Not started; stopped (its subscriptions removed) after the test."""
    hubs = HubRegistrar(clients, listener.url, renew_seconds=3600)
    try:
        yield hubs
    finally:
        await hubs.stop()


async def hub_subscriptions(http: aiohttp.ClientSession, sandbox: RunningSandbox) -> list[Any]:
    async with http.get(f"{sandbox.url}/admin/events") as resp:
        assert resp.status == 200
        body = await resp.json()
    subscriptions: list[Any] = body["subscriptions"]
    return subscriptions


def by_api(subscriptions: list[Any]) -> dict[str, Any]:
    apis = [s["api"] for s in subscriptions]
    assert len(apis) == len(set(apis)), f"more than one subscription per API: {apis}"
    return {s["api"]: s for s in subscriptions}


async def set_fault(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, api: str, fault: dict[str, Any]
) -> None:
    async with http.put(f"{sandbox.url}/admin/faults/{api}", json=fault) as resp:
        assert resp.status == 200, await resp.text()


async def clear_faults(http: aiohttp.ClientSession, sandbox: RunningSandbox) -> None:
    async with http.delete(f"{sandbox.url}/admin/faults") as resp:
        assert resp.status == 204


async def test_start_registers_one_subscription_per_api_with_the_listened_event_types(
    http: aiohttp.ClientSession,
    sandbox: RunningSandbox,
    registrar: HubRegistrar,
    listener: Listener,
) -> None:
    await registrar.start()
    subscriptions = by_api(await hub_subscriptions(http, sandbox))
    assert set(subscriptions) == set(TOPICS)
    for api, sub in subscriptions.items():
        assert sub["callback"] == listener.url
        assert sub["query"] == query_of(api)
        assert registrar.registered[api] == sub["id"]
    assert registrar.failures == {}


async def test_the_backends_deliver_what_the_listener_takes_and_nothing_else(
    http: aiohttp.ClientSession,
    sandbox: RunningSandbox,
    registrar: HubRegistrar,
    listener: Listener,
) -> None:
    await registrar.start()
    customer = "cus-000001"
    body = {
        "description": "No internet since this morning",
        "severity": "Major",
        "ticketType": "incident",
        "relatedParty": [{"id": customer, "@referredType": "Customer", "role": "reporter"}],
    }
    created = await call(http, "POST", url_of(sandbox.url, "troubleTicket"), json=body)
    assert created.status == 201, created.body
    ticket = url_of(sandbox.url, "troubleTicket", created.body["id"])
    moved = await call(http, "PATCH", ticket, json={"status": "inProgress"}, content_type=MERGE)
    assert moved.status == 200, moved.body
    # Not listened to: a deletion, and a customer change (TMF629 is not registered at all).
    await call(http, "DELETE", ticket)
    await call(
        http,
        "PATCH",
        url_of(sandbox.url, "customer", customer),
        json={"name": "Renamed"},
        content_type=MERGE,
    )
    marker = await call(http, "POST", url_of(sandbox.url, "troubleTicket"), json=body)
    assert marker.status == 201, marker.body
    received = await listener.wait_for(3)
    assert listener.names() == [
        "troubleTicketCreateEvent",
        "troubleTicketStatusChangeEvent",
        "troubleTicketCreateEvent",
    ]
    assert received[2][1]["event"]["troubleTicket"]["id"] == marker.body["id"]


async def test_renew_makes_new_subscriptions_and_removes_the_old(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, registrar: HubRegistrar
) -> None:
    await registrar.start()
    before = dict(registrar.registered)
    await registrar.renew()
    after = dict(registrar.registered)
    assert set(after) == set(TOPICS)
    assert not set(before.values()) & set(after.values())
    subscriptions = by_api(await hub_subscriptions(http, sandbox))
    assert {api: sub["id"] for api, sub in subscriptions.items()} == after


async def test_renewal_runs_by_itself_every_period(
    http: aiohttp.ClientSession,
    sandbox: RunningSandbox,
    clients: dict[str, TmfClient],
    listener: Listener,
) -> None:
    hubs = HubRegistrar(clients, listener.url, renew_seconds=0.05)
    await hubs.start()
    try:
        first = dict(hubs.registered)
        for _ in range(100):
            await asyncio.sleep(0.01)
            if set(hubs.registered.values()).isdisjoint(first.values()):
                break
        else:
            pytest.fail("the subscriptions were not renewed")
    finally:
        await hubs.stop()
    assert await hub_subscriptions(http, sandbox) == []


async def test_a_backend_that_forgot_is_registered_again_by_the_next_renewal(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, registrar: HubRegistrar
) -> None:
    await registrar.start()
    forgetful = ("TMF621", "TMF678")
    for api in forgetful:  # what a restarted backend looks like: it knows no subscription
        url = f"{sandbox.url}{BASE_PATHS[api]}/hub/{registrar.registered[api]}"
        async with http.delete(url) as resp:
            assert resp.status == 204
    assert set(by_api(await hub_subscriptions(http, sandbox))) == set(TOPICS) - set(forgetful)
    await registrar.renew()
    subscriptions = by_api(await hub_subscriptions(http, sandbox))
    assert set(subscriptions) == set(TOPICS)
    assert subscriptions["TMF621"]["query"] == query_of("TMF621")
    assert registrar.failures == {}


@pytest.mark.parametrize("down", ["503", "reset"])
async def test_a_backend_down_at_start_is_recorded_and_registered_once_it_is_up(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, registrar: HubRegistrar, down: str
) -> None:
    await set_fault(http, sandbox, "TMF622", {"down": down})
    await registrar.start()
    assert set(registrar.failures) == {"TMF622"}
    assert registrar.failures["TMF622"] == "BackendUnavailable"
    assert set(registrar.registered) == set(TOPICS) - {"TMF622"}
    assert set(by_api(await hub_subscriptions(http, sandbox))) == set(TOPICS) - {"TMF622"}
    await registrar.renew()  # still down: still recorded, nothing else disturbed
    assert set(registrar.failures) == {"TMF622"}
    await clear_faults(http, sandbox)
    await registrar.renew()
    assert registrar.failures == {}
    subscriptions = by_api(await hub_subscriptions(http, sandbox))
    assert set(subscriptions) == set(TOPICS)
    assert registrar.registered["TMF622"] == subscriptions["TMF622"]["id"]


async def test_a_backend_that_refuses_keeps_its_previous_subscription(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, registrar: HubRegistrar
) -> None:
    await registrar.start()
    kept = registrar.registered["TMF676"]
    await set_fault(http, sandbox, "TMF676", {"error_rate": 1.0, "methods": ["POST"]})
    await registrar.renew()
    assert registrar.failures == {"TMF676": "BackendUnavailable"}
    assert registrar.registered["TMF676"] == kept  # not removed before a new one exists
    assert by_api(await hub_subscriptions(http, sandbox))["TMF676"]["id"] == kept


async def test_stop_removes_every_subscription(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, registrar: HubRegistrar
) -> None:
    await registrar.start()
    await registrar.renew()
    assert len(await hub_subscriptions(http, sandbox)) == len(TOPICS)
    await registrar.stop()
    assert await hub_subscriptions(http, sandbox) == []
    assert registrar.registered == {}
    await registrar.stop()  # twice is harmless


async def test_stop_is_bounded_when_a_backend_hangs(
    http: aiohttp.ClientSession,
    sandbox: RunningSandbox,
    registrar: HubRegistrar,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("graph.events.registrar.STOP_SECONDS", 0.3)
    await registrar.start()
    await set_fault(http, sandbox, "TMF638", {"hang": True, "methods": ["DELETE"]})
    started = asyncio.get_running_loop().time()
    await registrar.stop()
    assert asyncio.get_running_loop().time() - started < 1.0
    # The others were removed meanwhile; only the hanging backend's request is still held.
    assert [s["api"] for s in await hub_subscriptions(http, sandbox)] == ["TMF638"]
    assert registrar.registered == {}
    await clear_faults(http, sandbox)
