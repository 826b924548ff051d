"""Rate limits per caller and per channel, through HTTP and WebSocket with real tokens: 429 with
``Retry-After`` and a GraphQL body (``RATE_LIMITED``), no backend request for a refused
operation, callers without a token counted by client address (``X-Forwarded-For`` believed
only from trusted proxies), shared by replicas through Redis, and limited by each replica
alone while Redis does not answer.
"""

from __future__ import annotations

import asyncio
import re
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import make_mocked_request

from graph.sandbox import RunningSandbox
from graph.server.guardrails import RATE_POLICY, client_address
from graph.settings import Settings, SettingsError
from tests.gateway.conftest import (
    RunningGateway,
    auth_headers,
    running_gateway,
    settings_for,
    token_for,
)
from tests.support.ws import graphql_ws

CATALOGUE = "{ productOfferings(first: 1) { totalCount } }"
ME = "{ me { reference } }"


class Caller:
    def __init__(self, http: aiohttp.ClientSession, gateway: RunningGateway, key: Path) -> None:
        self.http, self.gateway, self.key = http, gateway, key

    async def post(
        self, query: str, principal: str | None = None, **headers: str
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        sent = {"Content-Type": "application/json", **auth_headers(principal, self.key)}
        sent.update({k.replace("_", "-"): v for k, v in headers.items()})
        body = orjson.dumps({"query": query})
        async with self.http.post(f"{self.gateway.url}/graphql", data=body, headers=sent) as r:
            return r.status, dict(r.headers), orjson.loads(await r.read())

    def metric(self, name: str, **labels: str) -> float:
        value = self.gateway.state.metrics.registry.get_sample_value(name, labels)
        return value or 0.0


@asynccontextmanager
async def caller(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, key: Path, **overrides: Any
) -> AsyncIterator[Caller]:
    async with running_gateway(settings_for(sandbox, events=False, **overrides)) as gateway:
        yield Caller(http, gateway, key)


def assert_rate_limited(status: int, headers: dict[str, str], body: dict[str, Any]) -> int:
    assert status == 429, body
    assert "data" not in body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    retry = int(headers["Retry-After"])
    assert retry >= 1
    assert error["extensions"]["retryAfter"] == retry
    assert headers["Content-Type"].startswith("application/json")
    assert headers.get("X-Correlation-ID")
    return retry


async def test_a_caller_over_their_limit_gets_429_and_others_are_served(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    async with caller(sandbox, http, dev_idp_key, rate_limits={"web": (3, None)}) as c:
        for _ in range(3):
            status, _, body = await c.post(ME, "customer:cus-000001")
            assert status == 200
            assert body["data"]["me"]["reference"] == "cus-000001"
        before = c.gateway.backend_requests()
        status, headers, body = await c.post(ME, "customer:cus-000001")
        retry = assert_rate_limited(status, headers, body)
        assert retry == 20  # a minute / 3: the next one is allowed in 20 s
        assert "at most 3 operations a minute" in body["errors"][0]["message"]
        assert c.gateway.backend_requests() == before  # refused before anything ran
        status, _, body = await c.post(ME, "customer:cus-000002")  # another customer
        assert status == 200
        assert body["data"]["me"]["reference"] == "cus-000002"
        # The same customer on another channel is another caller.
        status, _, _ = await c.post(ME, "customer:cus-000001@app")
        assert status == 200
        assert c.metric("csm_rate_limited_total", channel="web") == 1
        assert c.metric("csm_rate_limited_total", channel="app") == 0


async def test_graphql_response_json_clients_get_their_media_type(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    async with caller(sandbox, http, dev_idp_key, rate_limits={"web": (1, None)}) as c:
        await c.post(ME, "customer:cus-000001")
        media = "application/graphql-response+json"
        status, headers, body = await c.post(ME, "customer:cus-000001", Accept=media)
        assert status == 429
        assert headers["Content-Type"].startswith(media)
        assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


async def test_the_channel_ceiling_holds_for_everyone_on_the_channel(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    async with caller(sandbox, http, dev_idp_key, rate_limits={"web": (100, 4)}) as c:
        for n in range(4):
            status, _, _ = await c.post("{ __typename }", f"customer:cus-00000{n + 1}")
            assert status == 200
        status, headers, body = await c.post("{ __typename }", "customer:cus-000009")
        assert_rate_limited(status, headers, body)
        assert "The web channel is busy" in body["errors"][0]["message"]
        status, _, _ = await c.post("{ __typename }", "agent:a1")  # the agent desktop is not
        assert status == 200


async def test_a_refused_caller_may_go_on_after_retry_after(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    async with caller(
        sandbox, http, dev_idp_key, rate_limits={"web": (2, None)}, rate_limit_window=1.0
    ) as c:
        assert (await c.post("{ __typename }", "customer:cus-000001"))[0] == 200
        assert (await c.post("{ __typename }", "customer:cus-000001"))[0] == 200
        status, headers, body = await c.post("{ __typename }", "customer:cus-000001")
        assert_rate_limited(status, headers, body)
        assert "at most 2 operations per 1 s" in body["errors"][0]["message"]
        await asyncio.sleep(0.55)  # one every 0.5 s
        assert (await c.post("{ __typename }", "customer:cus-000001"))[0] == 200
        assert (await c.post("{ __typename }", "customer:cus-000001"))[0] == 429


async def test_callers_without_a_token_are_counted_by_address(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    async with caller(sandbox, http, dev_idp_key, rate_limits={"anonymous": (2, None)}) as c:
        assert (await c.post(CATALOGUE))[0] == 200
        assert (await c.post(CATALOGUE))[0] == 200
        status, headers, body = await c.post(CATALOGUE)
        assert_rate_limited(status, headers, body)
        assert "from this address" in body["errors"][0]["message"]
        # A forged X-Forwarded-For changes nothing: the peer is no trusted proxy.
        status, _, _ = await c.post(CATALOGUE, X_Forwarded_For="198.51.100.7")
        assert status == 429
        # A signed-in customer from the same address has limits of their own.
        assert (await c.post(ME, "customer:cus-000001"))[0] == 200
        assert c.metric("csm_rate_limited_total", channel="anonymous") == 2


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    async with caller(
        sandbox,
        http,
        dev_idp_key,
        rate_limits={"anonymous": (1, None)},
        trusted_proxies=("127.0.0.0/8",),
    ) as c:
        assert (await c.post(CATALOGUE, X_Forwarded_For="203.0.113.7"))[0] == 200
        assert (await c.post(CATALOGUE, X_Forwarded_For="203.0.113.8"))[0] == 200
        assert (await c.post(CATALOGUE, X_Forwarded_For="203.0.113.7"))[0] == 429
        # What the client wrote left of the address its proxy saw is not believed.
        forged = "192.0.2.1, 203.0.113.8"
        assert (await c.post(CATALOGUE, X_Forwarded_For=forged))[0] == 429


def test_client_address_reads_forwarded_for_only_from_trusted_proxies() -> None:
    def address(peer: str, forwarded: str | None, trusted: tuple[str, ...]) -> str:
        headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}

        class Transport:
            def get_extra_info(self, name: str, default: Any = None) -> Any:
                return (peer, 40000) if name == "peername" else default

        request = make_mocked_request("POST", "/graphql", headers=headers, transport=Transport())
        return client_address(request, trusted)

    proxies = ("10.0.0.0/8", "2001:db8:ffff::/48")
    assert address("203.0.113.9", "198.51.100.1", ()) == "203.0.113.9"
    assert address("203.0.113.9", "198.51.100.1", proxies) == "203.0.113.9"  # not a proxy
    assert address("10.1.2.3", "198.51.100.1", proxies) == "198.51.100.1"
    assert address("10.1.2.3", "198.51.100.1, 10.9.9.9", proxies) == "198.51.100.1"
    assert address("10.1.2.3", "6.6.6.6, 198.51.100.1, 10.9.9.9", proxies) == "198.51.100.1"
    assert address("10.1.2.3", "10.7.7.7, 10.9.9.9", proxies) == "10.7.7.7"  # all proxies
    assert address("10.1.2.3", "garbage, 10.9.9.9", proxies) == "10.9.9.9"  # stop at garbage
    assert address("10.1.2.3", None, proxies) == "10.1.2.3"
    assert address("::ffff:198.51.100.4", None, ()) == "198.51.100.4"
    # An IPv6 client counts by its /64 (one host holds one whole).
    assert address("2001:db8:1:2:aaaa::1", None, ()) == "2001:db8:1:2::/64"
    assert address("2001:db8:ffff::1", "2001:db8:1:2::5", proxies) == "2001:db8:1:2::/64"


async def test_operations_over_a_websocket_count_too(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    async with caller(sandbox, http, dev_idp_key, rate_limits={"web": (3, None)}) as c:
        token = token_for("customer:cus-000001", dev_idp_key)
        # The upgrade request carries no token: it counts for the address, as anonymous.
        async with graphql_ws(http, c.gateway.url, token) as ws:
            for _ in range(3):
                op = await ws.subscribe("{ __typename }")
                assert (await ws.data(op)) == {"__typename": "Query"}
            before = c.gateway.backend_requests()
            op = await ws.subscribe(ME)
            message = await ws.next(op)
            assert message["type"] == "error", message
            (error,) = message["payload"]
            assert error["extensions"]["code"] == "RATE_LIMITED"
            assert error["extensions"]["retryAfter"] == 20
            assert c.gateway.backend_requests() == before
        status, headers, body = await c.post(ME, "customer:cus-000001")
        assert_rate_limited(status, headers, body)


async def test_the_table_covers_every_channel_and_callers_without_a_token() -> None:
    from graph.auth.principal import CHANNELS

    assert set(RATE_POLICY) == CHANNELS | {"anonymous"}
    for policy in RATE_POLICY.values():
        assert 0 < policy.caller < policy.channel


# -- Redis: shared by replicas; each replica on its own while it does not answer ---------------


@pytest.fixture
async def redis_prefix(redis_url: str) -> AsyncIterator[str]:
    prefix = f"csm-test:{uuid.uuid4().hex}:"
    yield prefix
    client = aioredis.Redis.from_url(redis_url)
    try:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def test_replicas_sharing_redis_share_the_limits(
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    dev_idp_key: Path,
    redis_url: str,
    redis_prefix: str,
) -> None:
    shared = {
        "redis_url": redis_url,
        "redis_prefix": redis_prefix,
        "rate_limits": {"web": (3, None)},
    }
    async with (
        caller(sandbox, http, dev_idp_key, **shared) as one,
        caller(sandbox, http, dev_idp_key, **shared) as two,
    ):
        assert (await one.post("{ __typename }", "customer:cus-000001"))[0] == 200
        assert (await two.post("{ __typename }", "customer:cus-000001"))[0] == 200
        assert (await one.post("{ __typename }", "customer:cus-000001"))[0] == 200
        status, headers, body = await two.post("{ __typename }", "customer:cus-000001")
        assert_rate_limited(status, headers, body)
        assert (await one.post("{ __typename }", "customer:cus-000001"))[0] == 429
        assert one.metric("csm_rate_limit_fallbacks_total") == 0


async def test_without_redis_each_replica_limits_on_its_own(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    async with caller(
        sandbox,
        http,
        dev_idp_key,
        redis_url=f"redis://127.0.0.1:{port}/0",
        rate_limits={"web": (2, None)},
    ) as c:
        for _ in range(2):
            status, _, body = await c.post(ME, "customer:cus-000001")
            assert status == 200
            assert body["data"]["me"]["reference"] == "cus-000001"
        status, headers, body = await c.post(ME, "customer:cus-000001")
        assert_rate_limited(status, headers, body)
        assert c.metric("csm_rate_limit_fallbacks_total") == 3


def test_the_security_doc_states_the_table() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text("utf-8")
    rows = dict(re.findall(r"^\| ([a-z, -]+?)(?: \(per address\))? \| ([\d,]+ \| [\d,]+) \|$",
                           text, re.MULTILINE))  # fmt: skip
    stated = {
        channel.strip(): tuple(int(n.replace(",", "")) for n in numbers.split(" | "))
        for names, numbers in rows.items()
        for channel in names.split(",")
    }
    assert stated == {name: (p.caller, p.channel) for name, p in RATE_POLICY.items()}


def test_rate_limit_settings_are_read_and_checked() -> None:
    settings = Settings.from_env(
        {
            "CSM_RATE_LIMITS": "web=600/100000, anonymous=30",
            "CSM_RATE_LIMIT_WINDOW": "10",
            "CSM_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7, 2001:db8::/32",
        }
    )
    assert settings.rate_limits == {"web": (600, 100_000), "anonymous": (30, None)}
    assert settings.rate_limit_window == 10.0
    assert settings.trusted_proxies == ("10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32")
    assert Settings.from_env({}).rate_limits == {}
    for env in (
        {"CSM_RATE_LIMITS": "portal=10"},
        {"CSM_RATE_LIMITS": "web"},
        {"CSM_RATE_LIMITS": "web=0"},
        {"CSM_RATE_LIMITS": "web=10/"},
        {"CSM_RATE_LIMITS": "web=ten"},
        {"CSM_RATE_LIMIT_WINDOW": "0"},
        {"CSM_TRUSTED_PROXIES": "proxy.internal"},
    ):
        with pytest.raises(SettingsError):
            Settings.from_env(env)
