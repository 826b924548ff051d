"""Redis stopped and restarted under a running gateway: the documented policy, end to end.

A real ``redis-server`` of the test's own (a free loopback port, no persistence) is stopped
while a gateway uses it, and started again on the same port, empty -- as after a crash of a
Redis without persistence. While it is away: reads go on (a customer-360 answers, ``/readyz``
is 200 and says ``degraded``), ``payBill`` fails closed (``BACKEND_UNAVAILABLE``, nothing sent
to the payment API), and rate limits are kept by the gateway alone. Once it is back the
gateway recovers by itself: ``/readyz`` is no longer degraded, payments go through again (a
repeat of a payment made before the outage, whose key Redis forgot, is found by its correlator
and not paid twice), rate limits are shared again, and the live-update broadcast reconnects:
a subscription open across the outage is told that events may have been missed, and a new one
receives the next event. Skipped when ``redis-server`` is not on the PATH.
"""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from graph.sandbox import RunningSandbox
from graph.schema.common import encode_global_id
from graph.sources.cached import CachePolicy
from tests.gateway.conftest import (
    RunningGateway,
    auth_headers,
    running_gateway,
    settings_for,
    token_for,
)
from tests.gateway.test_customer360 import ME as CUSTOMER_360
from tests.gateway.test_pay_bill_two_processes import free_port
from tests.support.tmf_client import call, url_of
from tests.support.ws import graphql_ws

REDIS_SERVER = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(
    REDIS_SERVER is None, reason="redis-server is not on the PATH (Debian: apt-get install redis)"
)

ME = "customer:cus-000001"
LIMITED = "customer:cus-000009"  # only the rate-limit checks use this caller
BILL = "cb-000001-2-23"  # 14.98 EUR open (sandbox seed 7)
ACCOUNT = "ba-000001-2"
METHOD = "pm-000001-1"
PER_CALLER = 10  # operations per caller per minute on the web channel, in this test

PAY = """mutation($input: PayBillInput!) { payBill(input: $input) {
  payment { reference } bills { reference remainingAmount { amount } } errors { code message }
} }"""
CREATE = """mutation($input: CreateTroubleTicketInput!) { createTroubleTicket(input: $input) {
  ticket { reference } errors { code } } }"""
TICKETS = "subscription { troubleTicketUpdated { reference status } }"


class RedisServer:
    """A ``redis-server`` process on a fixed loopback port, to stop and start again."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.workdir = workdir
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self) -> None:
        assert REDIS_SERVER is not None
        self.starts += 1
        log = self.workdir / f"redis-{self.starts}.log"
        with log.open("wb") as out:
            self.process = await asyncio.create_subprocess_exec(
                REDIS_SERVER,
                "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", str(self.workdir),
                stdout=out, stderr=out,
            )  # fmt: skip
        client = aioredis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        try:
            deadline = time.monotonic() + 10
            while True:
                assert self.process.returncode is None, log.read_text(errors="replace")
                try:
                    await client.ping()
                    return
                except (RedisError, OSError):
                    assert time.monotonic() < deadline, log.read_text(errors="replace")
                    await asyncio.sleep(0.02)
        finally:
            await client.aclose()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 5)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        self.process = None


@asynccontextmanager
async def redis_server(workdir: Path) -> AsyncIterator[RedisServer]:
    server = RedisServer(free_port(), workdir)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


class Client:
    def __init__(self, http: aiohttp.ClientSession, gateway: RunningGateway, key: Path) -> None:
        self.http, self.gateway, self.key = http, gateway, key

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, principal: str = ME
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Content-Type": "application/json", **auth_headers(principal, self.key)}
        body = orjson.dumps({"query": query, "variables": variables or {}})
        async with self.http.post(f"{self.gateway.url}/graphql", data=body, headers=headers) as r:
            return r.status, orjson.loads(await r.read())

    async def pay(self, key: str) -> dict[str, Any]:
        given = {
            "bills": [{"bill": encode_global_id("Bill", BILL), "amount": "1.00"}],
            "paymentMethod": encode_global_id("PaymentMethod", METHOD),
            "idempotencyKey": key,
        }
        status, result = await self.post(PAY, {"input": given})
        assert status == 200, result
        return result

    async def ready(self) -> tuple[int, dict[str, Any]]:
        async with self.http.get(f"{self.gateway.url}/readyz") as resp:
            return resp.status, orjson.loads(await resp.read())

    def metric(self, name: str) -> float:
        return self.gateway.state.metrics.registry.get_sample_value(name) or 0.0

    def metric_of(self, name: str, cache: str, result: str) -> float:
        labels = {"cache": cache, "result": result}
        return self.gateway.state.metrics.registry.get_sample_value(name, labels) or 0.0


async def eventually(
    check: Callable[[], Awaitable[bool]], within: float, what: str, every: float = 0.1
) -> float:
    """Wait until ``check()`` holds; the seconds it took."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < within, f"not within {within} s: {what}"
        await asyncio.sleep(every)
    return time.monotonic() - started


async def listening(gateway: RunningGateway, count: int) -> None:
    """Wait until ``count`` subscriptions listen to the gateway's event fan-out."""
    fanout = gateway.state.events
    assert fanout is not None

    async def check() -> bool:
        return fanout.subscribers == count

    await eventually(check, 3, f"{count} subscriptions listening")


async def payments(http: aiohttp.ClientSession, sandbox: RunningSandbox) -> list[str]:
    reply = await call(
        http, "GET", url_of(sandbox.url, "payment"), params={"account.id": ACCOUNT, "limit": "1000"}
    )
    assert reply.status == 200, reply.body
    return [p["id"] for p in reply.body]


async def payment_posts(http: aiohttp.ClientSession, sandbox: RunningSandbox) -> int:
    reply = await call(http, "GET", f"{sandbox.url}/admin/stats")
    count: int = reply.body.get("TMF676", {}).get("byMethod", {}).get("POST", 0)
    return count


def codes(result: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in result.get("errors", [])]


async def test_the_gateway_rides_out_a_redis_outage_and_recovers_by_itself(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path, tmp_path: Path
) -> None:
    async with redis_server(tmp_path) as server:
        settings = settings_for(
            sandbox,
            redis_url=server.url,
            redis_prefix=f"csm-test:{uuid.uuid4().hex}:",
            rate_limits={"web": (PER_CALLER, None)},
            entity_cache=CachePolicy(),  # kept in Redis too: lost with it, then back
        )
        async with (
            running_gateway(settings) as gateway,
            graphql_ws(http, gateway.url, token_for(ME, dev_idp_key)) as ws,
        ):
            client = Client(http, gateway, dev_idp_key)
            # Before: a payment, and a subscription that stays open across the outage.
            first_key = f"before-{uuid.uuid4()}"
            before = await client.pay(first_key)
            assert before["data"]["payBill"]["errors"] == [], before
            paid_before = before["data"]["payBill"]["payment"]["reference"]
            across = await ws.subscribe(TICKETS)
            await listening(gateway, 1)

            await server.stop()

            # (a) Reads go on, from the backends (the entity cache's lookups fail fast: misses);
            # ready, and degraded.
            cache_errors = client.metric_of("csm_cache_requests_total", "entity", "error")
            status, result = await client.post(CUSTOMER_360)
            assert status == 200, result
            assert "errors" not in result, result
            assert result["data"]["me"]["reference"] == "cus-000001"
            assert result["data"]["me"]["billingAccounts"]
            assert client.metric_of("csm_cache_requests_total", "entity", "error") > cache_errors

            async def degraded() -> bool:
                status, body = await client.ready()
                assert status == 200, body
                return bool(body["degraded"]) and body["stores"]["state"] != "ok"

            await eventually(degraded, 5, "/readyz says degraded")

            # (b) A payment fails closed: refused, and nothing reached the payment API.
            made, posts = await payments(http, sandbox), await payment_posts(http, sandbox)
            during_key = f"during-{uuid.uuid4()}"
            refused = await client.pay(during_key)
            assert codes(refused) == ["BACKEND_UNAVAILABLE"], refused
            assert (refused.get("data") or {}).get("payBill") is None, refused
            assert "nothing was done" in refused["errors"][0]["message"]
            assert await payments(http, sandbox) == made
            assert await payment_posts(http, sandbox) == posts

            # (c) Rate limits are kept by this replica alone: the caller's budget, then 429.
            fallbacks = client.metric("csm_rate_limit_fallbacks_total")
            for _ in range(PER_CALLER):
                status, result = await client.post("{ __typename }", principal=LIMITED)
                assert status == 200, result
            status, result = await client.post("{ __typename }", principal=LIMITED)
            assert status == 429, result
            assert codes(result) == ["RATE_LIMITED"]
            assert client.metric("csm_rate_limit_fallbacks_total") >= fallbacks + PER_CALLER + 1

            await server.start()  # same port, empty: what Redis held is gone

            # (d) Recovery, with nothing restarted at the gateway.
            async def recovered() -> bool:
                status, body = await client.ready()
                return status == 200 and body["degraded"] is False

            await eventually(recovered, 5, "/readyz no longer degraded")
            # The entity cache is back: a repeated query is answered from it (counted by the
            # cache: the open subscription may make backend requests of its own meanwhile).
            assert "errors" not in (await client.post(CUSTOMER_360))[1]
            misses = client.metric_of("csm_cache_requests_total", "entity", "miss")
            hits = client.metric_of("csm_cache_requests_total", "entity", "hit")
            assert "errors" not in (await client.post(CUSTOMER_360))[1]
            assert client.metric_of("csm_cache_requests_total", "entity", "miss") == misses
            assert client.metric_of("csm_cache_requests_total", "entity", "hit") > hits
            after = await client.pay(f"after-{uuid.uuid4()}")
            assert after["data"]["payBill"]["errors"] == [], after
            paid_after = after["data"]["payBill"]["payment"]["reference"]
            # The refused payment can be sent again now, and is made once.
            again = await client.pay(during_key)
            assert again["data"]["payBill"]["errors"] == [], again
            # The key of the payment made before the outage died with Redis's data; a repeat
            # finds that payment by its correlator instead of paying again.
            repeat = await client.pay(first_key)
            assert repeat["data"]["payBill"]["errors"] == [], repeat
            assert repeat["data"]["payBill"]["payment"]["reference"] == paid_before
            now = await payments(http, sandbox)
            assert len(now) == len(made) + 2
            assert paid_after in now
            assert again["data"]["payBill"]["payment"]["reference"] in now
            assert paid_before in now

            # The broadcast reconnected: the subscription open across the outage is told that
            # events may have been missed; a new one receives the next event.
            message = await ws.next(across, within=10)
            assert message["type"] == "next", message
            assert codes(message["payload"]) == ["BACKEND_UNAVAILABLE"], message
            assert (await ws.next(across))["type"] == "complete"
            await listening(gateway, 0)
            fresh = await ws.subscribe(TICKETS)
            await listening(gateway, 1)
            product = await _product(http, sandbox, "cus-000001")
            status, created = await client.post(
                CREATE, {"input": {"subject": product, "description": "No signal after Redis"}}
            )
            assert status == 200, created
            ticket = created["data"]["createTroubleTicket"]["ticket"]["reference"]
            update = await ws.next(fresh, within=5)
            assert update["type"] == "next", update
            assert update["payload"]["data"]["troubleTicketUpdated"]["reference"] == ticket

            # Rate limits are shared again (in Redis) once the local stand-in's pause is over.
            async def shared_again() -> bool:
                counted = client.metric("csm_rate_limit_fallbacks_total")
                status, _ = await client.post("{ __typename }", principal="agent:soak")
                assert status == 200
                return client.metric("csm_rate_limit_fallbacks_total") == counted

            await eventually(shared_again, 8, "rate limits back in Redis", every=0.5)
            check = aioredis.Redis.from_url(server.url)
            try:
                assert [k async for k in check.scan_iter(match=settings.redis_prefix + "rl:*")]
            finally:
                await check.aclose()


async def _product(http: aiohttp.ClientSession, sandbox: RunningSandbox, customer: str) -> str:
    reply = await call(
        http, "GET", url_of(sandbox.url, "product"), params={"relatedParty.id": customer}
    )
    assert reply.status == 200, reply.body
    return encode_global_id("Product", reply.body[0]["id"])
