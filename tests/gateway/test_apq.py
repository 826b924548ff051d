"""Automatic persisted queries (Apollo's APQ protocol), through the real gateway: a hash alone
runs a registered document (on a second gateway too, through Redis), an unknown hash asks for
the document, a wrong hash is refused and nothing is kept, trusted-only channels never run a
registered document, refused documents are not kept, GET works, and Redis down costs a
round trip, not a request."""

from __future__ import annotations

import hashlib
import json
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

from graph.operations import manifest_at
from graph.sandbox import RunningSandbox
from graph.stores.documents import MemoryDocuments
from tests.gateway.conftest import RunningGateway, auth_headers, running_gateway, settings_for

WEB, KIOSK, IVR = "customer:cus-000001", "customer:cus-000001@kiosk", "customer:cus-000001@ivr"
NAME = "query ApqName { me { name } }"


def sha(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def hashed(document: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha(document)}}


class Client:
    """Sends GraphQL to one gateway over POST or GET, counting the backend requests."""

    def __init__(self, gateway: RunningGateway, http: aiohttp.ClientSession, key: Path) -> None:
        self.gateway, self.http, self.key = gateway, http, key
        self.backend_requests = 0

    async def post(
        self, body: dict[str, Any], principal: str | None = WEB, accept: str = "application/json"
    ) -> dict[str, Any]:
        headers = {"Content-Type": "application/json", "Accept": accept}
        return await self._send("POST", headers, principal, data=orjson.dumps(body))

    async def get(self, params: dict[str, Any], principal: str | None = WEB) -> dict[str, Any]:
        encoded = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
        return await self._send("GET", {"Accept": "application/json"}, principal, params=encoded)

    async def _send(
        self, method: str, headers: dict[str, str], principal: str | None, **kwargs: Any
    ) -> dict[str, Any]:
        headers |= auth_headers(principal, self.key)
        before = self.gateway.backend_requests()
        url = f"{self.gateway.url}/graphql"
        async with self.http.request(method, url, headers=headers, **kwargs) as resp:
            assert resp.status == 200, await resp.text()  # APQ answers are 200s, refusals too
            result: dict[str, Any] = orjson.loads(await resp.read())
        self.backend_requests = self.gateway.backend_requests() - before
        return result

    async def kept(self, document: str) -> str | None:
        return await self.gateway.state.stores.documents.get(sha(document))


def codes(result: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors") or ()]


@pytest.fixture
def client(gateway: RunningGateway, http: aiohttp.ClientSession, dev_idp_key: Path) -> Client:
    return Client(gateway, http, dev_idp_key)


async def test_a_registered_document_runs_by_its_hash(client: Client) -> None:
    unknown = await client.post({"extensions": hashed(NAME)})
    assert codes(unknown) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert unknown.get("data") is None
    assert client.backend_requests == 0
    # also as a 200 to a client that accepts application/graphql-response+json (Apollo's)
    unknown = await client.post(
        {"extensions": hashed(NAME)}, accept="application/graphql-response+json"
    )
    assert codes(unknown) == ["PERSISTED_QUERY_NOT_FOUND"]
    registered = await client.post({"query": NAME, "extensions": hashed(NAME)})
    assert "errors" not in registered
    assert await client.kept(NAME) == NAME
    by_hash = await client.post({"extensions": hashed(NAME)})
    assert by_hash == registered
    assert client.backend_requests > 0  # it ran


async def test_an_unknown_or_malformed_hash_asks_for_the_document(client: Client) -> None:
    for value in ("0" * 64, "F" * 64, "not a hash", "x" * 10_000):
        body = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": value}}}
        for extra in ({}, {"operationName": "ApqName"}):
            result = await client.post(body | extra)
            assert codes(result) == ["PERSISTED_QUERY_NOT_FOUND"], result
            assert client.backend_requests == 0


async def test_a_hash_that_is_not_the_documents_is_refused_and_nothing_kept(
    client: Client,
) -> None:
    other = "query ApqOther { me { reference } }"
    result = await client.post({"query": NAME, "extensions": hashed(other)})
    assert codes(result) == ["BAD_USER_INPUT"]
    assert result["errors"][0]["message"] == "provided sha does not match query"
    assert client.backend_requests == 0
    assert await client.kept(other) is None
    assert await client.kept(NAME) is None
    for document in (NAME, other):
        asked = await client.post({"extensions": hashed(document)})
        assert codes(asked) == ["PERSISTED_QUERY_NOT_FOUND"]


@pytest.mark.parametrize("channel", [KIOSK, IVR])
async def test_trusted_only_channels_cannot_smuggle_a_document_through_apq(
    client: Client, channel: str
) -> None:
    # Registering from the kiosk itself: refused as any ad-hoc document, and not kept.
    own = await client.post({"query": NAME, "extensions": hashed(NAME)}, channel)
    assert codes(own) == ["OPERATION_NOT_ALLOWED"]
    assert await client.kept(NAME) is None
    # Registered from the web: the kiosk still cannot run it by its hash.
    assert "errors" not in await client.post({"query": NAME, "extensions": hashed(NAME)})
    assert await client.kept(NAME) == NAME
    by_hash = await client.post({"extensions": hashed(NAME)}, channel)
    assert codes(by_hash) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert client.backend_requests == 0
    # ... while the manifest's documents still run by theirs.
    trusted = manifest_at().by_name("KioskAccount" if channel == KIOSK else "IvrBalance")
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": trusted.id}}
    ok = await client.post({"extensions": extensions}, channel)
    assert "errors" not in ok, ok


async def test_documents_the_guardrails_refuse_are_not_kept(client: Client) -> None:
    padded = "query ApqBig { me { name } }\n" + "#" * 17_000 + "\n"
    aliased = "query ApqAliases { me { " + " ".join(f"a{i}: name" for i in range(65)) + " } }"
    for document in (padded, aliased):
        result = await client.post({"query": document, "extensions": hashed(document)})
        assert codes(result) == ["BAD_USER_INPUT"], result
        assert client.backend_requests == 0
        assert await client.kept(document) is None
        asked = await client.post({"extensions": hashed(document)})
        assert codes(asked) == ["PERSISTED_QUERY_NOT_FOUND"]
    # invalid documents neither
    invalid = "query ApqInvalid { me { noSuchField } }"
    result = await client.post({"query": invalid, "extensions": hashed(invalid)})
    assert codes(result) == ["BAD_USER_INPUT"]
    assert await client.kept(invalid) is None


DEPTH_11 = """query ApqDeep { me { billingAccounts { bills(first: 1) { edges { node { lines {
  product { billingAccount { defaultPaymentMethod { card { brand } } } } } } } } } } }"""


@pytest.mark.parametrize("optimizations", [True, False])
async def test_documents_the_channel_policy_refuses_are_not_kept(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path, optimizations: bool
) -> None:
    """With the validation cache the policy refuses at validation; without it (the stock
    path), at the start of execution: neither keeps the document."""
    async with running_gateway(settings_for(sandbox, optimizations=optimizations)) as gateway:
        client = Client(gateway, http, dev_idp_key)
        result = await client.post({"query": DEPTH_11, "extensions": hashed(DEPTH_11)})
        assert codes(result) == ["BAD_USER_INPUT"]
        assert result["errors"][0]["extensions"]["depth"] == 11
        assert client.backend_requests == 0
        assert await client.kept(DEPTH_11) is None
        assert "errors" not in await client.post({"query": NAME, "extensions": hashed(NAME)})
        assert await client.kept(NAME) == NAME


async def test_get_registers_and_runs_by_hash(client: Client) -> None:
    document = (
        "query ApqGet($first: Int!) { me { bills(first: $first) { edges { node { id } } } } }"
    )
    variables = {"first": 1}
    asked = await client.get({"extensions": hashed(document), "variables": variables})
    assert codes(asked) == ["PERSISTED_QUERY_NOT_FOUND"]
    registered = await client.get(
        {"query": document, "extensions": hashed(document), "variables": variables}
    )
    assert "errors" not in registered, registered
    by_hash = await client.get({"extensions": hashed(document), "variables": variables})
    assert by_hash == registered
    assert len(by_hash["data"]["me"]["bills"]["edges"]) == 1


async def test_get_does_not_register_mutations(client: Client) -> None:
    mutation = "mutation ApqMutation { __typename }"
    headers = {"Accept": "application/json", **auth_headers(WEB, client.key)}
    params = {"query": mutation, "extensions": json.dumps(hashed(mutation))}
    async with client.http.get(
        f"{client.gateway.url}/graphql", params=params, headers=headers
    ) as resp:
        assert resp.status != 200
    assert await client.kept(mutation) is None


async def test_gateways_sharing_redis_share_registered_documents(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path, redis_url: str
) -> None:
    prefix = f"csm-test:{uuid.uuid4().hex}:"
    settings = settings_for(sandbox, redis_url=redis_url, redis_prefix=prefix)
    try:
        async with running_gateway(settings) as one, running_gateway(settings) as two:
            first, second = Client(one, http, dev_idp_key), Client(two, http, dev_idp_key)
            assert codes(await second.post({"extensions": hashed(NAME)})) == [
                "PERSISTED_QUERY_NOT_FOUND"
            ]
            registered = await first.post({"query": NAME, "extensions": hashed(NAME)})
            assert "errors" not in registered
            assert await second.post({"extensions": hashed(NAME)}) == registered
            assert second.backend_requests > 0
    finally:
        client = aioredis.Redis.from_url(redis_url)
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        assert prefix.encode() + b"apq:" + sha(NAME).encode() in keys
        if keys:
            await client.delete(*keys)
        await client.aclose()


@asynccontextmanager
async def redis_down_gateway(sandbox: RunningSandbox) -> AsyncIterator[RunningGateway]:
    # A loopback port bound but not listening (so no one else gets it): connections refused.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        url = f"redis://127.0.0.1:{taken.getsockname()[1]}/0"
        async with running_gateway(settings_for(sandbox, redis_url=url)) as gateway:
            yield gateway


async def test_redis_down_asks_for_the_document_and_still_runs_it(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    async with redis_down_gateway(sandbox) as gateway:
        client = Client(gateway, http, dev_idp_key)
        for _ in range(2):  # nothing is kept, and every request is still answered
            asked = await client.post({"extensions": hashed(NAME)})
            assert codes(asked) == ["PERSISTED_QUERY_NOT_FOUND"]
            sent = await client.post({"query": NAME, "extensions": hashed(NAME)})
            assert "errors" not in sent, sent
            assert sent["data"]["me"]["name"]


async def test_the_memory_store_is_bounded_and_keeps_documents_under_their_own_hash() -> None:
    now = [0.0]
    store = MemoryDocuments(max_entries=2, max_bytes=100, ttl=10, clock=lambda: now[0])
    a, b, c = "query A { a }", "query B { b }", "query C { c }"
    for document in (a, b):
        assert await store.put(sha(document), document)
    assert await store.get(sha(a)) == a  # a is now the most recently used
    assert await store.put(sha(c), c)
    assert (await store.get(sha(b)), len(store)) == (None, 2)  # b evicted
    assert not await store.put(sha("#" * 200), "#" * 200)  # too large: not kept
    with pytest.raises(ValueError, match="its own sha256"):
        await store.put(sha(a), b)
    now[0] = 9.0
    assert await store.get(sha(a)) == a  # used: kept 10 s more
    now[0] = 15.0
    assert await store.get(sha(a)) == a
    assert await store.get(sha(c)) is None  # expired
