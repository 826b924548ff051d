"""Live updates across replicas: ``csm-graph serve`` processes, one Redis, one sandbox.

Replica A is not registered with the backends' hubs (``CSM_EVENTS=0``): whatever its
subscribers get came through Redis from the replicas that were notified, B and C. A customer
subscribed on A sees the ticket a mutation through B raised -- once, although the sandbox
notified both B and C, which published it once between them -- and never another customer's
ticket. A notification with a forged secret is refused. Skipped without Redis (the
``redis_url`` fixture).
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import redis.asyncio as aioredis

from graph.sandbox import RunningSandbox
from graph.schema.common import encode_global_id
from tests.gateway.conftest import process_env, token_for
from tests.gateway.test_pay_bill_two_processes import gateway_process
from tests.support.tmf_client import call, url_of
from tests.support.ws import GraphQLWebSocket, graphql_ws

ME, OTHER = "cus-000001", "cus-000002"
TICKETS = "subscription { troubleTicketUpdated { reference status description } }"
CREATE = """mutation($input: CreateTroubleTicketInput!) { createTroubleTicket(input: $input) {
  ticket { reference } errors { code } } }"""
SECRET = "two-replicas-" + uuid.uuid4().hex


async def subscriptions(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(f"{url}/metrics") as resp:
        text = await resp.text()
    found = re.search(r"^csm_live_subscriptions (\S+)$", text, re.M)
    return int(float(found.group(1))) if found else 0


async def events(http: aiohttp.ClientSession, url: str) -> dict[tuple[str, str], int]:
    """A replica's event tallies, (stage, outcome) -> count, from its /metrics."""
    async with http.get(f"{url}/metrics") as resp:
        text = await resp.text()
    pattern = r'^csm_events_total\{outcome="([a-z]+)",stage="([a-z]+)"\} (\S+)$'
    return {
        (stage, outcome): int(float(count))
        for outcome, stage, count in re.findall(pattern, text, re.M)
    }


async def listening(http: aiohttp.ClientSession, url: str, count: int) -> None:
    deadline = time.monotonic() + 5
    while await subscriptions(http, url) != count:
        assert time.monotonic() < deadline, "the subscription does not listen"
        await asyncio.sleep(0.05)


async def product_of(http: aiohttp.ClientSession, sandbox: RunningSandbox, customer: str) -> str:
    reply = await call(
        http, "GET", url_of(sandbox.url, "product"), params={"relatedParty.id": customer}
    )
    return encode_global_id("Product", reply.body[0]["id"])


async def report(http: aiohttp.ClientSession, url: str, token: str, product: str, text: str) -> str:
    variables = {"input": {"subject": product, "description": text}}
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    body = orjson.dumps({"query": CREATE, "variables": variables})
    async with http.post(f"{url}/graphql", data=body, headers=headers) as resp:
        result: dict[str, Any] = orjson.loads(await resp.read())
    assert result["data"]["createTroubleTicket"]["errors"] == [], result
    reference: str = result["data"]["createTroubleTicket"]["ticket"]["reference"]
    return reference


async def updates(ws: GraphQLWebSocket, op: str, within: float) -> list[dict[str, Any]]:
    """Every ticket the subscription sends within ``within`` seconds."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = await ws.next(op, within=left)
        except TimeoutError:
            break
        assert message["type"] == "next", message
        seen.append(message["payload"]["data"]["troubleTicketUpdated"])
    return seen


async def test_an_event_caused_through_one_replica_reaches_a_subscriber_on_the_other(
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    redis_url: str,
    dev_idp_key: Path,
    tmp_path: Path,
) -> None:
    prefix = f"csm-test:{uuid.uuid4().hex}:"
    env = process_env(sandbox, redis_url, prefix, dev_idp_key, tmp_path)
    env["CSM_EVENT_SECRET"] = SECRET
    redis = aioredis.Redis.from_url(redis_url)
    mine, others = (
        token_for(f"customer:{ME}", dev_idp_key),
        token_for(f"customer:{OTHER}", dev_idp_key),
    )
    try:
        async with AsyncExitStack() as stack:
            a, b, c = await asyncio.gather(
                *(
                    stack.enter_async_context(
                        gateway_process(
                            {**env, "CSM_EVENTS": "0" if n == "a" else "1"},
                            tmp_path / f"gateway-{n}.log",
                        )
                    )
                    for n in ("a", "b", "c")
                )
            )
            # B and C are registered with the ticket API's hub; A is not.
            hubs = (await call(http, "GET", f"{sandbox.url}/admin/events")).body
            callbacks = {s["callback"] for s in hubs["subscriptions"] if s["api"] == "TMF621"}
            assert callbacks == {f"{b}/events/{SECRET}", f"{c}/events/{SECRET}"}

            ws = await stack.enter_async_context(graphql_ws(http, a, mine))
            op = await ws.subscribe(TICKETS)
            await listening(http, a, 1)

            theirs = await report(http, b, others, await product_of(http, sandbox, OTHER), "x")
            ours = await report(
                http, b, mine, await product_of(http, sandbox, ME), "No signal at home"
            )
            seen = await updates(ws, op, within=2.0)
            # Only the subscriber's own ticket, and once.
            assert [t["reference"] for t in seen] == [ours], seen
            assert seen[0]["status"] == "ACKNOWLEDGED"
            assert theirs not in str(seen)
            # B and C were both notified of every event and published each once between them;
            # A received each once.
            b_events, c_events = await events(http, b), await events(http, c)
            accepted = b_events.get(("listener", "accepted"), 0) + c_events.get(
                ("listener", "accepted"), 0
            )
            duplicates = b_events.get(("listener", "duplicates"), 0) + c_events.get(
                ("listener", "duplicates"), 0
            )
            assert accepted >= 2
            assert duplicates == accepted
            a_events = await events(http, a)
            assert a_events.get(("fanout", "received"), 0) == accepted
            assert a_events.get(("fanout", "duplicates"), 0) == 0

            # A notification with a forged secret is refused by either replica, untouched.
            forged = {"eventId": "forged-1", "eventType": "TroubleTicketCreateEvent",
                      "event": {"troubleTicket": {"id": "tt-forged"}}}  # fmt: skip
            for url in (a, b, c):
                listener = f"{url}/events/not-the-secret/listener/troubleTicketCreateEvent"
                async with http.post(listener, json=forged) as resp:
                    assert resp.status == 404
            assert await updates(ws, op, within=0.3) == []
    finally:
        keys = [k async for k in redis.scan_iter(match=prefix + "*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
