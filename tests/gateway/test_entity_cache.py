"""The entity cache through the HTTP API: hits cost no backend request, one customer's entries
never answer another, the gateway's own writes and the backends' events invalidate, and a down
backend's last known data is served, flagged, for a bounded time (stale-if-error)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import orjson
import pytest
import redis.asyncio as aioredis

from graph.sandbox import Fault, RunningSandbox
from graph.sources.cached import DEFAULT_TTLS, CachePolicy
from tests.gateway.conftest import (
    RunningGateway,
    auth_headers,
    running_gateway,
    settings_for,
)
from tests.gateway.test_customer360 import ME as CUSTOMER_360
from tests.support.tmf_client import call, url_of

ACCOUNTS = """{ me { billingAccounts { reference outstanding { amount }
  bills(first: 50) { edges { node { reference state remainingAmount { amount } } } } } } }"""
TICKETS = "{ me { troubleTickets(first: 50) { edges { node { reference description } } } } }"
PAY = """mutation($input: PayBillInput!) { payBill(input: $input) {
  payment { reference } errors { code message } } }"""
# Seed 7 (tests/conftest.py): cus-000001's only open bill of ba-000001-2, and its method.
SENT_BILL, SENT_ACCOUNT, METHOD = "cb-000001-2-23", "ba-000001-2", "pm-000001-1"


async def post(
    http: aiohttp.ClientSession,
    gateway: RunningGateway,
    key: Any,
    query: str,
    principal: str,
    variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", **auth_headers(principal, key)}
    body = orjson.dumps({"query": query, "variables": variables or {}})
    async with http.post(f"{gateway.url}/graphql", data=body, headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        result: dict[str, Any] = orjson.loads(await resp.read())
        return result


Run = Callable[..., Any]


@pytest.fixture
async def cached(
    sandbox: RunningSandbox, request: pytest.FixtureRequest
) -> AsyncIterator[RunningGateway]:
    """A gateway with the entity cache on (and backend events unless the param is False)."""
    policy = CachePolicy(ttls=dict(DEFAULT_TTLS), stale_seconds=900)
    events = getattr(request, "param", True)
    settings = settings_for(sandbox, entity_cache=policy, events=events)
    async with running_gateway(settings) as running:
        yield running


async def pay_sent_bill(gql: Run, amount: str) -> None:
    """cus-000001 pays ``amount`` of its sent bill through the gateway."""
    paid = await gql(
        PAY,
        "customer:cus-000001",
        {
            "input": {
                "bills": [{"bill": _gid("Bill", SENT_BILL), "amount": amount}],
                "paymentMethod": _gid("PaymentMethod", METHOD),
                "idempotencyKey": f"cache-{time.time_ns()}",
            }
        },
    )
    assert paid["data"]["payBill"]["errors"] == [], paid


async def patched_at_the_backend(
    gateway: RunningGateway, http: aiohttp.ClientSession, url: str, patch: dict[str, Any]
) -> None:
    """PATCH a record at the sandbox, not through the gateway, and wait for the backend's event
    to reach the gateway: only that event can tell the gateway."""
    accepted = gateway.state.event_counts.get("accepted", 0)
    reply = await call(http, "PATCH", url, json=patch, content_type="application/merge-patch+json")
    assert reply.status == 200, reply.body
    for _ in range(100):
        if gateway.state.event_counts.get("accepted", 0) > accepted:
            return
        await asyncio.sleep(0.05)
    pytest.fail("the backend's event never reached the gateway")


def gql_on(gateway: RunningGateway, http: aiohttp.ClientSession, sandbox: RunningSandbox) -> Run:
    """POST a document to ``gateway`` as ``principal`` with a real development token."""
    key_path = gateway.state.settings.dev_idp_key

    async def run(query: str, principal: str, variables: dict[str, Any] | None = None) -> Any:
        return await post(http, gateway, key_path, query, principal, variables)

    return run


async def test_a_repeated_customer_360_costs_no_backend_request(
    cached: RunningGateway, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    gql = gql_on(cached, http, sandbox)
    before = cached.backend_requests()
    first = await gql(CUSTOMER_360, "customer:cus-000004")
    assert "errors" not in first, first
    cold = cached.backend_requests() - before
    assert cold > 5

    before = cached.backend_requests()
    second = await gql(CUSTOMER_360, "customer:cus-000004")
    assert second == first
    assert cached.backend_requests() - before == 0


async def test_one_customers_entries_never_answer_another(
    cached: RunningGateway, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    gql = gql_on(cached, http, sandbox)
    mine = await gql(ACCOUNTS, "customer:cus-000001")
    before = cached.backend_requests()
    theirs = await gql(ACCOUNTS, "customer:cus-000002")
    # Nothing of cus-000001's entries served: cus-000002's lookups all went to the backends.
    assert cached.backend_requests() - before >= 2
    ours = {a["reference"] for a in mine["data"]["me"]["billingAccounts"]}
    others = {a["reference"] for a in theirs["data"]["me"]["billingAccounts"]}
    assert ours
    assert others
    assert all(ref.startswith("ba-000002-") for ref in others)

    # An agent reads the same account: its own partition, so a backend request again.
    before = cached.backend_requests()
    agent = await gql(
        '{ customer(id: "cus-000001") { billingAccounts { reference } } }', "agent:a1"
    )
    assert "errors" not in agent, agent
    assert cached.backend_requests() - before >= 1


@pytest.mark.parametrize("cached", [False], indirect=True)  # no event may help
async def test_the_gateways_own_payment_is_seen_at_once(
    cached: RunningGateway, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    gql = gql_on(cached, http, sandbox)
    warm = await gql(ACCOUNTS, "customer:cus-000001")
    account = next(
        a for a in warm["data"]["me"]["billingAccounts"] if a["reference"] == SENT_ACCOUNT
    )
    assert account["outstanding"]["amount"] == "14.98"

    await pay_sent_bill(gql, "14.98")

    seen = await gql(ACCOUNTS, "customer:cus-000001")
    account = next(
        a for a in seen["data"]["me"]["billingAccounts"] if a["reference"] == SENT_ACCOUNT
    )
    assert account["outstanding"]["amount"] == "0.00"
    bill = next(e["node"] for e in account["bills"]["edges"] if e["node"]["reference"] == SENT_BILL)
    assert bill["state"] == "SETTLED"


async def test_a_backend_event_invalidates_what_it_changed(
    cached: RunningGateway, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    gql = gql_on(cached, http, sandbox)
    warm = await gql(TICKETS, "customer:cus-000001")
    ticket = warm["data"]["me"]["troubleTickets"]["edges"][0]["node"]

    url = url_of(sandbox.url, "troubleTicket", ticket["reference"])
    await patched_at_the_backend(cached, http, url, {"description": "Changed at the backend"})

    seen = await gql(TICKETS, "customer:cus-000001")
    edges = seen["data"]["me"]["troubleTickets"]["edges"]
    described = {e["node"]["reference"]: e["node"]["description"] for e in edges}
    assert described[ticket["reference"]] == "Changed at the backend"


async def test_changes_no_subscription_shows_still_invalidate_through_their_events(
    cached: RunningGateway, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    """With the cache on, the gateway also listens to the events of resources it caches but
    no subscription shows (here TMF666 billing accounts)."""
    gql = gql_on(cached, http, sandbox)
    query = "{ me { billingAccounts { reference name } } }"
    warm = await gql(query, "customer:cus-000001")
    account = warm["data"]["me"]["billingAccounts"][0]["reference"]
    url = url_of(sandbox.url, "billingAccount", account)
    await patched_at_the_backend(cached, http, url, {"name": "Renamed at the backend"})
    seen = await gql(query, "customer:cus-000001")
    names = {a["reference"]: a["name"] for a in seen["data"]["me"]["billingAccounts"]}
    assert names[account] == "Renamed at the backend"


@pytest.fixture
async def short_lived(
    sandbox: RunningSandbox, request: pytest.FixtureRequest
) -> AsyncIterator[RunningGateway]:
    stale_seconds = getattr(request, "param", 900.0)
    policy = CachePolicy(ttls=dict.fromkeys(DEFAULT_TTLS, 0.3), stale_seconds=stale_seconds)
    async with running_gateway(settings_for(sandbox, entity_cache=policy)) as running:
        yield running
    sandbox.faults.clear()


async def test_a_down_backends_last_known_data_is_served_and_flagged(
    short_lived: RunningGateway, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    gql = gql_on(short_lived, http, sandbox)
    fresh = await gql(ACCOUNTS, "customer:cus-000001")
    assert "errors" not in fresh
    assert "stale" not in fresh.get("extensions", {})
    await asyncio.sleep(0.4)  # every entry past its TTL
    sandbox.faults.set("TMF678", Fault(down="503"))  # bills

    stale = await gql(ACCOUNTS, "customer:cus-000001")
    assert "errors" not in stale, stale
    assert stale["data"] == fresh["data"]
    notes = stale["extensions"]["stale"]
    assert {n["resource"] for n in notes} == {"customerBill"}
    accounts = len(fresh["data"]["me"]["billingAccounts"])
    assert sorted(n["path"] for n in notes) == [
        ["me", "billingAccounts", i, "bills"] for i in range(accounts)
    ]
    assert all(0.3 <= n["ageSeconds"] < 60 for n in notes)


@pytest.mark.parametrize("short_lived", [0.0], indirect=True)
async def test_without_a_stale_window_a_down_backend_is_an_error(
    short_lived: RunningGateway, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    gql = gql_on(short_lived, http, sandbox)
    assert "errors" not in await gql(ACCOUNTS, "customer:cus-000001")
    await asyncio.sleep(0.4)
    sandbox.faults.set("TMF678", Fault(down="503"))
    failed = await gql(ACCOUNTS, "customer:cus-000001")
    assert {e["extensions"]["code"] for e in failed["errors"]} == {"BACKEND_UNAVAILABLE"}
    assert "stale" not in failed.get("extensions", {})


def _gid(type_name: str, tmf_id: str) -> str:
    from graph.schema.common import encode_global_id

    return encode_global_id(type_name, tmf_id)


async def test_replicas_share_the_cache_and_its_invalidations_through_redis(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, redis_url: str
) -> None:
    prefix = f"csm-test:{uuid.uuid4().hex}:"
    policy = CachePolicy(ttls=dict(DEFAULT_TTLS), stale_seconds=900)
    settings = settings_for(
        sandbox, entity_cache=policy, redis_url=redis_url, redis_prefix=prefix, events=False
    )
    try:
        async with running_gateway(settings) as a, running_gateway(settings) as b:
            on_a, on_b = gql_on(a, http, sandbox), gql_on(b, http, sandbox)
            warm = await on_a(ACCOUNTS, "customer:cus-000001")
            assert "errors" not in warm, warm
            before = b.backend_requests()
            assert await on_b(ACCOUNTS, "customer:cus-000001") == warm
            assert b.backend_requests() - before == 0  # served by what replica A read

            await pay_sent_bill(on_a, "1.00")
            seen = await on_b(ACCOUNTS, "customer:cus-000001")  # no event: A's invalidation
            account = next(
                x for x in seen["data"]["me"]["billingAccounts"] if x["reference"] == SENT_ACCOUNT
            )
            assert account["outstanding"]["amount"] == "13.98"
    finally:
        client = aioredis.Redis.from_url(redis_url)
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


def test_only_a_gateway_that_may_serve_stale_data_tracks_it() -> None:
    """Tracking costs a little per async field and per load: off unless the entity cache has
    a stale-if-error window (graph/server/app.py builds the schema so)."""
    from graph.schema import build_schema
    from graph.schema.stale import StaleAwareExecution

    for optimizations in (True, False):
        plain = build_schema(optimizations=optimizations).execution_context_class
        tracked = build_schema(optimizations, stale_tracking=True).execution_context_class
        assert not issubclass(plain, StaleAwareExecution)
        assert issubclass(tracked, StaleAwareExecution)
        assert issubclass(tracked, plain)
