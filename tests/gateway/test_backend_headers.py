"""End to end: a GraphQL request with a real token, and what the sandbox saw on every backend
call it caused -- the gateway's service credential, the end user's identity, one correlation id
per operation (echoed to the client), and the user's token only where configured.

The wiring of :mod:`graph.sources.identity` into the view (and of the credentials into the
app) is applied here in a scratch way, by :class:`WiredView` and by setting the clients'
credentials after start. Once ``graph/server/view.py``'s ``GraphView.__call__`` carries the
same code and ``create_app`` passes ``settings.backend_auth`` to ``open_clients``, drop
:class:`WiredView` and ``configure`` and start the gateway with
``settings_for(sandbox, backend_auth=BackendAuthConfig(authorization=SERVICE, ...))``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from graph.sandbox import RunningSandbox
from graph.sandbox.faults import fingerprint
from graph.settings import Settings, SettingsError
from graph.sources.credentials import BackendAuthConfig
from graph.sources.identity import (
    CORRELATION_ID,
)
from tests.gateway.conftest import RunningGateway, running_gateway, settings_for, token_for

SERVICE = "Bearer gateway-service-credential-42"
ME = """query Me { me {
  reference name
  billingAccounts { reference bills(first: 2) { edges { node { reference } } } }
  products(first: 5) { edges { node { reference services { reference } } } }
  troubleTickets(first: 5) { edges { node { reference } } }
} }"""
CUSTOMER = "customer:cus-000004"


@pytest.fixture
async def gateway(sandbox: RunningSandbox) -> AsyncIterator[RunningGateway]:
    auth = BackendAuthConfig(authorization=SERVICE)
    async with running_gateway(settings_for(sandbox, backend_auth=auth, events=False)) as running:
        yield running


Post = Callable[..., Awaitable[tuple[int, str | None, dict[str, Any]]]]


@pytest.fixture
def post(gateway: RunningGateway, http: aiohttp.ClientSession, dev_idp_key: Path) -> Post:
    """POST a document; the answer's status, ``X-Correlation-ID`` and body."""

    async def run(
        query: str, principal: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, str | None, dict[str, Any]]:
        sent = {"Content-Type": "application/json", **(headers or {})}
        if principal:
            sent["Authorization"] = f"Bearer {token_for(principal, dev_idp_key)}"
        body = orjson.dumps({"query": query})
        async with http.post(f"{gateway.url}/graphql", data=body, headers=sent) as resp:
            return resp.status, resp.headers.get(CORRELATION_ID), orjson.loads(await resp.read())

    return run


Seen = Callable[[], Awaitable[list[dict[str, str]]]]


@pytest.fixture
def seen(sandbox: RunningSandbox, http: aiohttp.ClientSession) -> Seen:
    """The recorded headers of every backend request since the last call, across all APIs."""

    async def read() -> list[dict[str, str]]:
        async with http.get(f"{sandbox.url}/admin/requests") as resp:
            body: dict[str, list[dict[str, Any]]] = orjson.loads(await resp.read())
        async with http.delete(f"{sandbox.url}/admin/requests") as resp:
            assert resp.status == 204
        return [entry["headers"] for entries in body.values() for entry in entries]

    return read


async def test_every_backend_call_of_an_operation_carries_its_identity_and_one_id(
    post: Post, seen: Seen, dev_idp_key: Path
) -> None:
    status, echoed, body = await post(ME, CUSTOMER)
    assert status == 200
    assert "errors" not in body
    calls = await seen()
    assert len(calls) >= 5
    assert echoed is not None
    assert {call["X-Correlation-ID"] for call in calls} == {echoed}
    for call in calls:
        assert call["Authorization"] == fingerprint(SERVICE)
        assert call["X-End-User-Subject"] == "cus-000004"
        assert call["X-End-User-Role"] == "customer"
        assert call["X-End-User-Customer"] == "cus-000004"
        assert call["X-End-User-Channel"] == "web"
        assert call["X-End-User-Assurance"] == "substantial"
        assert "X-End-User-Token" not in call


async def test_two_operations_have_two_ids_and_a_clients_sane_id_is_kept(
    post: Post, seen: Seen
) -> None:
    _, first, _ = await post(ME, CUSTOMER)
    first_calls = {call["X-Correlation-ID"] for call in await seen()}
    _, second, _ = await post(ME, CUSTOMER)
    second_calls = {call["X-Correlation-ID"] for call in await seen()}
    assert first_calls == {first}
    assert second_calls == {second}
    assert first != second

    _, kept, _ = await post(ME, CUSTOMER, {"X-Correlation-ID": "portal-7f3a.1"})
    assert kept == "portal-7f3a.1"
    assert {call["X-Correlation-ID"] for call in await seen()} == {"portal-7f3a.1"}
    _, from_request_id, _ = await post(ME, CUSTOMER, {"X-Request-ID": "req_42"})
    assert from_request_id == "req_42"
    assert {call["X-Correlation-ID"] for call in await seen()} == {"req_42"}
    _, replaced, _ = await post(ME, CUSTOMER, {"X-Correlation-ID": "no good; " + "x" * 80})
    assert replaced is not None
    assert replaced.isalnum()
    assert len(replaced) == 32
    assert {call["X-Correlation-ID"] for call in await seen()} == {replaced}


async def test_the_users_token_is_forwarded_only_when_configured(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, post: Post, seen: Seen, dev_idp_key: Path
) -> None:
    token = token_for(CUSTOMER, dev_idp_key)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    await post(ME, headers=headers)
    assert fingerprint(f"Bearer {token}") not in str(await seen())
    auth = BackendAuthConfig(authorization=SERVICE, forward_user_token=True)
    body = orjson.dumps({"query": ME})
    async with running_gateway(
        settings_for(sandbox, backend_auth=auth, events=False)
    ) as forwarding:
        resp = await http.post(f"{forwarding.url}/graphql", data=body, headers=headers)
        assert resp.status == 200
        resp.release()
    calls = await seen()
    assert calls
    for call in calls:
        assert call["X-End-User-Token"] == fingerprint(token)
        assert call["Authorization"] == fingerprint(SERVICE)


async def test_staff_and_anonymous_callers(post: Post, seen: Seen) -> None:
    query = '{ customer(id: "cus-000002") { reference } }'
    status, _, body = await post(query, "agent:a1")
    assert (status, body["data"]["customer"]["reference"]) == (200, "cus-000002")
    [agent] = await seen()
    assert {k: v for k, v in agent.items() if k.startswith("X-End-User")} == {
        "X-End-User-Subject": "a1",
        "X-End-User-Role": "agent",
        "X-End-User-Channel": "agent-desktop",
        "X-End-User-Assurance": "substantial",
    }
    status, echoed, _ = await post("{ productOfferings(first: 1) { totalCount } }")
    assert status == 200
    calls = await seen()
    assert calls
    for call in calls:
        assert call["X-Correlation-ID"] == echoed
        assert {k for k in call if k.startswith("X-End-User")} == {"X-End-User-Role"}
        assert call["X-End-User-Role"] == "anonymous"


async def test_a_refused_token_is_answered_with_the_correlation_id(post: Post, seen: Seen) -> None:
    status, echoed, _ = await post(
        ME, headers={"Authorization": "Bearer not-a-jwt", "X-Correlation-ID": "bad-token-1"}
    )
    assert (status, echoed) == (401, "bad-token-1")
    assert await seen() == []


async def test_websocket_operations_carry_the_connections_identity(
    gateway: RunningGateway, http: aiohttp.ClientSession, seen: Seen, dev_idp_key: Path
) -> None:
    token = token_for(CUSTOMER, dev_idp_key)
    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
    async with http.ws_connect(f"{gateway.url}/graphql", protocols=("graphql-transport-ws",)) as ws:
        await ws.send_json(init)
        assert (await ws.receive_json())["type"] == "connection_ack"
        for n in ("1", "2"):
            await ws.send_json({"id": n, "type": "subscribe", "payload": {"query": ME}})
            assert (await ws.receive_json())["type"] == "next"
            assert (await ws.receive_json())["type"] == "complete"
    calls = await seen()
    assert calls
    assert len({c["X-Correlation-ID"] for c in calls}) == 1
    assert {c["X-End-User-Customer"] for c in calls} == {"cus-000004"}
    assert {c["Authorization"] for c in calls} == {fingerprint(SERVICE)}


def test_settings_read_backend_auth() -> None:
    env = {"CSM_BACKEND_AUTHORIZATION": SERVICE, "CSM_FORWARD_USER_TOKEN": "yes"}
    settings = Settings.from_env(env)
    assert settings.backend_auth == BackendAuthConfig(
        authorization=SERVICE, forward_user_token=True
    )
    with pytest.raises(SettingsError, match="go together"):
        Settings.from_env({"CSM_BACKEND_CLIENT_ID": "x"})
