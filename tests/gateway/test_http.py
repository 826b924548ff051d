"""GraphQL over HTTP and WebSocket: media types, status codes, GET, health, metrics."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from graph.sandbox import RunningSandbox
from tests.gateway.conftest import RunningGateway, auth_headers, running_gateway, settings_for


@pytest.fixture
def agent(dev_idp_key: Path) -> dict[str, str]:
    return auth_headers("agent:a1", dev_idp_key)


QUERY = '{ customer(id: "cus-000001") { reference name } }'


async def post(
    http: aiohttp.ClientSession,
    gateway: RunningGateway,
    body: object,
    accept: str | None = None,
    auth: dict[str, str] | None = None,
) -> tuple[int, str, dict[str, Any]]:
    headers = {"Content-Type": "application/json", **(auth or {})}
    if accept:
        headers["Accept"] = accept
    async with http.post(f"{gateway.url}/graphql", data=orjson.dumps(body), headers=headers) as r:
        return r.status, r.content_type, orjson.loads(await r.read())


async def test_graphql_response_json_makes_request_errors_400_without_data(
    gateway: RunningGateway, http: aiohttp.ClientSession, agent: dict[str, str]
) -> None:
    media = "application/graphql-response+json"
    for bad in (
        "{ customer(id: ",
        "{ nonsense }",
        "query($x: Int!) { customers(first: $x) { totalCount } }",
    ):
        status, content_type, body = await post(http, gateway, {"query": bad}, accept=media)
        assert status == 400, bad
        assert content_type == media
        assert "data" not in body
        assert body["errors"]
        assert body["errors"][0]["extensions"]["code"] in ("BAD_USER_INPUT", "UNAUTHENTICATED")
    status, content_type, body = await post(
        http, gateway, {"query": QUERY}, accept=media, auth=agent
    )
    assert status == 200
    assert content_type == media
    assert body["data"]["customer"]["reference"] == "cus-000001"


async def test_plain_json_keeps_200_for_request_errors(
    gateway: RunningGateway, http: aiohttp.ClientSession
) -> None:
    status, content_type, body = await post(http, gateway, {"query": "{ nonsense }"})
    assert status == 200
    assert content_type == "application/json"
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_queries_over_get(
    gateway: RunningGateway, http: aiohttp.ClientSession, agent: dict[str, str]
) -> None:
    async with http.get(f"{gateway.url}/graphql", params={"query": QUERY}, headers=agent) as r:
        assert r.status == 200
        body = orjson.loads(await r.read())
    assert body["data"]["customer"]["reference"] == "cus-000001"


async def test_errors_never_leak_backend_urls_or_traces(
    gateway: RunningGateway, http: aiohttp.ClientSession, sandbox: object, agent: dict[str, str]
) -> None:
    from graph.sandbox import RunningSandbox

    assert isinstance(sandbox, RunningSandbox)
    await http.put(f"{sandbox.url}/admin/faults/TMF629", data=b'{"error_rate": 1.0}')
    _, _, body = await post(http, gateway, {"query": QUERY}, auth=agent)
    text = orjson.dumps(body).decode()
    assert body["errors"][0]["extensions"]["code"] == "BACKEND_UNAVAILABLE"
    assert sandbox.url not in text
    assert "Traceback" not in text
    assert "tmf-api" not in text


async def test_websocket_graphql_transport_ws(
    gateway: RunningGateway, http: aiohttp.ClientSession, agent: dict[str, str]
) -> None:
    async with http.ws_connect(f"{gateway.url}/graphql", protocols=("graphql-transport-ws",)) as ws:
        assert ws.protocol == "graphql-transport-ws"
        await ws.send_json({"type": "connection_init", "payload": agent})
        assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": QUERY}})
        message = await ws.receive_json(timeout=5)
        assert message["type"] == "next"
        assert message["payload"]["data"]["customer"]["reference"] == "cus-000001"
        assert (await ws.receive_json(timeout=5))["type"] == "complete"


async def test_health_readiness_and_metrics(
    gateway: RunningGateway, http: aiohttp.ClientSession, agent: dict[str, str]
) -> None:
    async with http.get(f"{gateway.url}/healthz") as r:
        assert r.status == 200
    async with http.get(f"{gateway.url}/readyz") as r:
        assert r.status == 200
        ready = orjson.loads(await r.read())
    assert ready["ready"] is True
    assert set(ready["backends"].values()) == {"ok"}
    assert ready["stores"] == {"backend": "memory", "state": "ok"}
    assert ready["degraded"] is False
    await post(http, gateway, {"query": QUERY}, auth=agent)
    async with http.get(f"{gateway.url}/metrics") as r:
        text = await r.text()
    for name in (
        "csm_backend_requests_total",
        "csm_backend_request_seconds",
        "csm_graphql_requests_total",
        "csm_graphql_request_seconds",
    ):
        assert name in text
    assert 'csm_graphql_requests_total{channel="agent-desktop",outcome="ok"}' in text


@pytest.mark.parametrize("fault", ['{"down": "503"}', '{"down": "reset"}'])
async def test_readiness_reports_a_down_backend(
    gateway: RunningGateway, http: aiohttp.ClientSession, sandbox: object, fault: str
) -> None:
    from graph.sandbox import RunningSandbox

    assert isinstance(sandbox, RunningSandbox)
    await http.put(f"{sandbox.url}/admin/faults/TMF621", data=fault.encode())
    async with http.get(f"{gateway.url}/readyz") as r:
        assert r.status == 503
        ready = orjson.loads(await r.read())
    assert ready["backends"]["TMF621"] != "ok"
    assert ready["backends"]["TMF629"] == "ok"


async def test_readiness_reports_an_unreachable_redis(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    """A configured Redis that does not answer: the gateway starts and stays ready (reads need
    no Redis), and says it is degraded."""
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    settings = settings_for(sandbox, redis_url=f"redis://127.0.0.1:{port}/0")
    async with running_gateway(settings) as gateway, http.get(f"{gateway.url}/readyz") as r:
        assert r.status == 200
        ready = orjson.loads(await r.read())
    assert set(ready["backends"].values()) == {"ok"}
    assert ready["degraded"] is True
    assert ready["stores"]["backend"] == "redis"
    assert ready["stores"]["state"] != "ok"


async def test_a_browser_get_of_graphql_is_graphiql_or_how_to_install_it(
    gateway: RunningGateway, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{gateway.url}/graphql", headers={"Accept": "text/html"}) as resp:
        text = await resp.text()
        assert resp.status in (200, 503)
        assert resp.content_type == "text/html"
    missing = "GraphiQL assets are not installed" in text
    assert missing == (resp.status == 503)
    if not missing:
        assert "/graphiql/assets/" in text
        assert "unpkg" not in text
        assert "cdn" not in text.lower()


@pytest.mark.parametrize(
    ("method", "body", "status"),
    [
        ("POST", {"variables": {}}, 400),
        (
            "POST",
            {"query": "query A { __typename } query B { __typename }", "operationName": "C"},
            400,
        ),
        ("PUT", {"query": "{ __typename }"}, 405),
    ],
)
async def test_malformed_requests_get_graphql_errors_with_a_code(
    gateway: RunningGateway, http: aiohttp.ClientSession, method: str, body: object, status: int
) -> None:
    async with http.request(
        method,
        f"{gateway.url}/graphql",
        data=orjson.dumps(body),
        headers={"Content-Type": "application/json"},
    ) as resp:
        assert resp.status == status
        assert resp.content_type == "application/json"
        answer = orjson.loads(await resp.read())
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
