"""The response cache, through the real gateway and sandbox: a repeated catalogue query is
answered with the same bytes and no backend request; what is not public catalogue data is never
cached; variables make their own entries; errors are not kept; entries expire; Redis shares
them between gateways and its outage is a miss; the channel policy still holds on a hit."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import redis.asyncio as aioredis

from graph.operations import add_operation
from graph.sandbox import RunningSandbox
from tests.gateway.conftest import RunningGateway, auth_headers, running_gateway, settings_for
from tests.gateway.test_redis_outage import REDIS_SERVER, redis_server
from tests.support.tmf_client import call

CATALOGUE = """query Catalogue($first: Int = 3) { productOfferings(first: $first) {
  totalCount edges { cursor node { id reference name isBundle validFrom
    categories { reference name } prices { name priceType price { amount currency } } } }
  pageInfo { hasNextPage endCursor } } }"""
CUSTOMER = "customer:cus-000001"
# Headers that differ on every response, whoever answers it.
PER_RESPONSE = frozenset({"date", "x-request-id", "x-correlation-id", "x-cache"})


@dataclasses.dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    backend_requests: int  # sent to the sandbox while answering

    @property
    def json(self) -> dict[str, Any]:
        result: dict[str, Any] = orjson.loads(self.body)
        return result

    @property
    def cache(self) -> str | None:
        return self.headers.get("x-cache")

    def stable_headers(self) -> dict[str, str]:
        return {k: v for k, v in self.headers.items() if k not in PER_RESPONSE}


class Client:
    def __init__(
        self,
        gateway: RunningGateway,
        sandbox: RunningSandbox,
        http: aiohttp.ClientSession,
        key: Path,
    ) -> None:
        self.gateway, self.sandbox, self.http, self.key = gateway, sandbox, http, key

    async def post(
        self,
        query: str | None,
        variables: dict[str, Any] | None = None,
        principal: str | None = None,
        accept: str = "application/json",
        extensions: dict[str, Any] | None = None,
        operation_name: str | None = None,
    ) -> Answer:
        body: dict[str, Any] = {"query": query, "variables": variables}
        if operation_name is not None:
            body["operationName"] = operation_name
        if extensions is not None:
            body["extensions"] = extensions
        headers = {"Content-Type": "application/json", "Accept": accept}
        return await self._send("POST", headers | auth_headers(principal, self.key), data=body)

    async def get(self, query: str, principal: str | None = None) -> Answer:
        headers = {"Accept": "application/json"} | auth_headers(principal, self.key)
        return await self._send("GET", headers, params={"query": query})

    async def _send(
        self, method: str, headers: dict[str, str], data: Any = None, **kwargs: Any
    ) -> Answer:
        before = await self.sandbox_requests()
        url = f"{self.gateway.url}/graphql"
        body = orjson.dumps(data) if data is not None else None
        async with self.http.request(method, url, headers=headers, data=body, **kwargs) as resp:
            raw = await resp.read()
            answer_headers = {k.lower(): v for k, v in resp.headers.items()}
            status = resp.status
        return Answer(status, answer_headers, raw, await self.sandbox_requests() - before)

    async def sandbox_requests(self) -> int:
        stats = (await call(self.http, "GET", f"{self.sandbox.url}/admin/stats")).body["apis"]
        return sum(int(api.get("requests", 0)) for api in stats.values())

    def metric(self, result: str) -> float:
        registry = self.gateway.state.metrics.registry
        labels = {"cache": "response", "result": result}
        return registry.get_sample_value("csm_cache_requests_total", labels) or 0.0


@asynccontextmanager
async def gateway_with(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, key: Path, **overrides: Any
) -> AsyncIterator[Client]:
    """A gateway with its optimizations on (the response cache is one), whatever the
    environment says, and ``overrides``."""
    settings = settings_for(sandbox, **({"optimizations": True} | overrides))
    async with running_gateway(settings) as gateway:
        yield Client(gateway, sandbox, http, key)


@pytest.fixture
async def client(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> AsyncIterator[Client]:
    async with gateway_with(sandbox, http, dev_idp_key) as client:
        yield client


async def test_sandbox_requests_are_counted(client: Client) -> None:
    """The counter the other tests rely on moves when the gateway calls the sandbox."""
    first = await client.post(CATALOGUE)
    assert first.status == 200
    assert "errors" not in first.json, first.json
    assert first.backend_requests >= 1


async def test_a_repeated_catalogue_query_is_answered_from_the_cache(client: Client) -> None:
    first = await client.post(CATALOGUE)
    second = await client.post(CATALOGUE)
    assert first.status == second.status == 200
    assert "errors" not in first.json
    assert first.json["data"]["productOfferings"]["edges"]
    assert (first.cache, second.cache) == ("miss", "hit")
    assert first.backend_requests > 0
    assert second.backend_requests == 0
    assert second.body == first.body
    assert second.stable_headers() == first.stable_headers()
    assert second.headers["content-type"] == "application/json"
    assert "x-correlation-id" in second.headers
    assert "x-request-id" in second.headers
    assert (client.metric("store"), client.metric("hit")) == (1, 1)
    # The same entry answers every caller, in the media type each accepts.
    graphql_json = "application/graphql-response+json"
    signed_in = await client.post(CATALOGUE, principal=CUSTOMER, accept=graphql_json)
    assert (signed_in.cache, signed_in.backend_requests) == ("hit", 0)
    assert signed_in.body == first.body
    assert signed_in.headers["content-type"] == graphql_json
    agent = await client.post(CATALOGUE, principal="agent:a1")
    assert (agent.cache, agent.backend_requests, agent.body) == ("hit", 0, first.body)
    # Counted as operations like any other.
    registry = client.gateway.state.metrics.registry
    ok = registry.get_sample_value(
        "csm_graphql_requests_total", {"channel": "web", "outcome": "ok"}
    )
    assert ok is not None
    assert ok >= 2


async def test_a_miss_answers_as_the_uncached_gateway_does(
    client: Client, sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    cached = await client.post(CATALOGUE)
    hit = await client.post(CATALOGUE)
    for off in ({"response_cache_ttl": 0}, {"optimizations": False}):
        async with gateway_with(sandbox, http, dev_idp_key, **off) as plain:
            uncached = await plain.post(CATALOGUE)
            again = await plain.post(CATALOGUE)
        assert uncached.body == cached.body == hit.body
        assert uncached.stable_headers() == hit.stable_headers()
        assert (uncached.cache, again.cache) == (None, None)
        assert again.backend_requests > 0  # off means off


async def test_what_is_not_public_catalogue_data_is_never_cached(client: Client) -> None:
    documents: list[tuple[str, dict[str, Any] | None]] = [
        ("{ me { name } }", None),
        ("{ productOfferings(first: 1) { totalCount } me { name } }", None),
        # A condition does not make a field public: whatever the variables, it is not cached.
        (
            "query($me: Boolean = false) { productOfferings(first: 1) { totalCount }"
            " me @include(if: $me) { name } }",
            None,
        ),
        # Public, but priced for the caller: not the same answer for everyone.
        (
            """query($o: ID!) { quoteProductOrder(input: {items: [{action: ADD,
            offering: $o}]}) { quote { __typename } errors { code } } }""",
            {"o": "UHJvZHVjdE9mZmVyaW5nOm9mZi1tb2JpbGUtcw"},
        ),
        ("{ productOfferings(first: 1) { totalCount } __schema { queryType { name } } }", None),
        ("{ productOfferings(first: 1) { edges { node { ... on Node { id } } } } }", None),
    ]
    for document, variables in documents:
        for _ in range(2):
            answer = await client.post(document, variables, principal=CUSTOMER)
            assert answer.status == 200
            assert "errors" not in answer.json, answer.json  # kept, were it cacheable
            assert answer.cache is None, (document, answer.json)
    assert (client.metric("store"), client.metric("hit")) == (0, 0)
    # A customer's own data is asked of the backends every time.
    again = await client.post("{ me { name } }", principal=CUSTOMER)
    assert again.backend_requests > 0


async def test_variables_and_operation_names_make_their_own_entries(client: Client) -> None:
    one = await client.post(CATALOGUE, {"first": 1})
    two = await client.post(CATALOGUE, {"first": 2})
    assert (one.cache, two.cache) == ("miss", "miss")
    assert len(one.json["data"]["productOfferings"]["edges"]) == 1
    assert len(two.json["data"]["productOfferings"]["edges"]) == 2
    one_again = await client.post(CATALOGUE, {"first": 1})
    two_again = await client.post(CATALOGUE, {"first": 2})
    assert (one_again.cache, one_again.body) == ("hit", one.body)
    assert (two_again.cache, two_again.body) == ("hit", two.body)
    # Variables are compared as canonical JSON: key order does not matter.
    mixed = "query M($a: Int, $b: Int) { x: productOfferings(first: $a) { totalCount }" \
        " y: productOfferings(first: $b) { totalCount } }"  # fmt: skip
    first = await client.post(mixed, {"a": 1, "b": 2})
    reordered = await client.post(mixed, {"b": 2, "a": 1})
    assert (first.cache, reordered.cache) == ("miss", "hit")
    named = await client.post(mixed, {"a": 1, "b": 2}, operation_name="M")
    assert (named.cache, named.body) == ("miss", first.body)
    assert client.metric("store") == 4  # first=1, first=2, the unnamed and the named


async def test_errors_are_not_kept(client: Client, sandbox: RunningSandbox) -> None:
    fault = {"down": "503"}
    reply = await call(client.http, "PUT", f"{sandbox.url}/admin/faults/TMF620", json=fault)
    assert reply.status == 200, reply.body
    try:
        failed = await client.post(CATALOGUE)
        assert failed.json.get("errors"), failed.json
        assert failed.cache is None
    finally:
        await call(client.http, "DELETE", f"{sandbox.url}/admin/faults")
    ran = await client.post(CATALOGUE)
    assert "errors" not in ran.json
    assert (ran.cache, ran.backend_requests > 0) == ("miss", True)
    # A client's mistake is not kept either.
    for _ in range(2):
        bad = await client.post('{ productOfferings(category: "not a reference!") { totalCount } }')
        assert bad.json["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert bad.cache is None
    assert client.metric("store") == 1


async def test_entries_expire(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    async with gateway_with(sandbox, http, dev_idp_key, response_cache_ttl=0.5) as client:
        first = await client.post(CATALOGUE)
        second = await client.post(CATALOGUE)
        assert (first.cache, second.cache) == ("miss", "hit")
        await asyncio.sleep(0.6)
        third = await client.post(CATALOGUE)
        assert third.cache == "miss"
        assert third.backend_requests > 0
        assert third.body == first.body


async def test_an_anonymous_get_may_be_kept_by_shared_caches(client: Client) -> None:
    first = await client.get(CATALOGUE)
    second = await client.get(CATALOGUE)
    assert (first.cache, second.cache) == ("miss", "hit")
    assert second.body == first.body
    assert second.backend_requests == 0
    assert first.headers["cache-control"] == "public, max-age=60"
    assert second.headers["cache-control"].startswith("public, max-age=")
    assert "Authorization" in second.headers["vary"]
    # A signed-in GET (and any POST) is not for shared caches.
    signed_in = await client.get(CATALOGUE, principal=CUSTOMER)
    assert signed_in.cache == "hit"
    assert "cache-control" not in signed_in.headers
    posted = await client.post(CATALOGUE)
    assert posted.cache == "hit"
    assert "cache-control" not in posted.headers


async def test_a_kiosk_gets_no_cached_answer_of_a_document_it_may_not_run(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path, tmp_path: Path
) -> None:
    manifest = tmp_path / "manifest.json"
    trusted = "query KioskOffers { productOfferings(first: 2) { edges { node { name } } } }"
    add_operation("KioskOffers", trusted, manifest, channels=["kiosk"])
    async with gateway_with(
        sandbox, http, dev_idp_key, operations_manifest=manifest
    ) as client:  # fmt: skip
        assert (await client.post(CATALOGUE)).cache == "miss"
        assert (await client.post(CATALOGUE)).cache == "hit"
        refused = await client.post(CATALOGUE, principal=f"{CUSTOMER}@kiosk")
        assert refused.json["errors"][0]["extensions"]["code"] == "OPERATION_NOT_ALLOWED"
        assert (refused.cache is None and "data" not in refused.json) or not refused.json["data"]
        # Its own trusted document is served from the cache like any other.
        assert (await client.post(trusted, principal=f"{CUSTOMER}@kiosk")).cache == "miss"
        kiosk = await client.post(trusted, principal=f"{CUSTOMER}@kiosk")
        assert (kiosk.cache, kiosk.backend_requests) == ("hit", 0)
        # ... and by id alone (the manifest resolves it, as on the full path).
        by_id = await client.post(None, principal=f"{CUSTOMER}@kiosk", extensions=apq(trusted))
        assert (by_id.cache, by_id.body) == ("hit", kiosk.body)
        # The IVR may not run the kiosk's operation.
        ivr = await client.post(trusted, principal=f"{CUSTOMER}@ivr")
        assert ivr.json["errors"][0]["extensions"]["code"] == "OPERATION_NOT_ALLOWED"


async def test_the_channel_limits_hold_on_a_hit(client: Client) -> None:
    """A chatbot may ask less than the portal: a costly answer the portal got cached is
    refused to it, as the full path refuses it."""
    costly = "{ productOfferings(first: 100) { edges { node { name categories { name }" \
        " prices { name price { amount currency } } } } } }"  # fmt: skip
    assert (await client.post(costly, principal=CUSTOMER)).cache == "miss"
    assert (await client.post(costly, principal=CUSTOMER)).cache == "hit"
    chatbot = await client.post(costly, principal=f"{CUSTOMER}@chatbot")
    assert chatbot.json["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "costs" in chatbot.json["errors"][0]["message"]
    assert chatbot.cache is None
    # A staff token on the portal is refused, cached answer or not.
    staff = await client.post(CATALOGUE, principal="agent:a1@web")
    assert staff.json["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def apq(document: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(document.encode())
                               .hexdigest()}}  # fmt: skip


async def test_persisted_queries_resolve_as_on_the_full_path(client: Client) -> None:
    # Cached by its text alone: never registered as a persisted query.
    assert (await client.post(CATALOGUE)).cache == "miss"
    unknown = await client.post(None, extensions=apq(CATALOGUE))
    assert unknown.json["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    # Text and id: a hit, which registers it like the full path does; then the id alone hits.
    both = await client.post(CATALOGUE, extensions=apq(CATALOGUE))
    assert both.cache == "hit"
    by_id = await client.post(None, extensions=apq(CATALOGUE))
    assert (by_id.cache, by_id.body) == ("hit", both.body)
    # An id that is not the document's is refused, cached answer or not.
    wrong = await client.post(CATALOGUE, extensions=apq("{ me { name } }"))
    assert wrong.json["errors"][0]["message"] == "provided sha does not match query"


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_a_fresh_gateway_serves_what_another_kept_through_redis(
    backend: str,
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    dev_idp_key: Path,
    request: pytest.FixtureRequest,
) -> None:
    overrides: dict[str, Any] = {}
    if backend == "redis":
        overrides = {
            "redis_url": request.getfixturevalue("redis_url"),
            "redis_prefix": unique_prefix(),
        }
    async with (
        gateway_with(sandbox, http, dev_idp_key, **overrides) as one,
        gateway_with(sandbox, http, dev_idp_key, **overrides) as two,
    ):
        first = await one.post(CATALOGUE)
        assert first.cache == "miss"
        other = await two.post(CATALOGUE)
        if backend == "memory":  # each process its own
            assert (other.cache, other.backend_requests > 0) == ("miss", True)
        else:
            assert (other.cache, other.backend_requests) == ("hit", 0)
        assert other.body == first.body
    if backend == "redis":
        await forget(overrides["redis_url"], overrides["redis_prefix"])


async def test_redis_stopped_is_a_miss_not_an_error(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path, tmp_path: Path
) -> None:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not on the PATH (Debian: apt-get install redis)")
    async with redis_server(tmp_path) as server:
        overrides = {"redis_url": server.url, "redis_prefix": unique_prefix()}
        async with gateway_with(sandbox, http, dev_idp_key, **overrides) as client:
            assert (await client.post(CATALOGUE)).cache == "miss"
            kept = await client.post(CATALOGUE)
            assert kept.cache == "hit"
            await server.stop()
            # What this process holds near is still fresh: served until Redis would forget it.
            near = await client.post(CATALOGUE)
            assert (near.cache, near.body) == ("hit", kept.body)
            for _ in range(3):  # anything else runs, uncached, without an error
                answer = await client.post(CATALOGUE, {"first": 2})
                assert answer.status == 200
                assert "errors" not in answer.json
                assert (answer.cache, answer.backend_requests > 0) == ("miss", True)
            assert client.metric("error") >= 1
            await server.start()  # empty: as after a crash without persistence
            await asyncio.sleep(1.1)  # the store's pause after a failure
            assert (await client.post(CATALOGUE, {"first": 2})).cache == "miss"
            assert (await client.post(CATALOGUE, {"first": 2})).cache == "hit"


def unique_prefix() -> str:
    return f"csm-test:{uuid.uuid4().hex}:"


async def forget(url: str, prefix: str) -> None:
    client = aioredis.Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
