"""A real gateway on a loopback port, wired to a real sandbox, and a GraphQL client for it."""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from graph.auth.devidp import load_or_create_key, mint
from graph.sandbox import RunningSandbox
from graph.sandbox.app import IDP_KEY_PATH
from graph.server import GATEWAY, Gateway, create_app
from graph.settings import Settings
from graph.sources import APIS

SPEED_SWITCHES = frozenset(
    {
        "CSM_OPTIMIZATIONS",
        "CSM_ENTITY_CACHE",
        "CSM_CACHE_TTLS",
        "CSM_CACHE_STALE_SECONDS",
        "CSM_RESPONSE_CACHE_TTL",
    }
)


@dataclass(frozen=True, slots=True)
class RunningGateway:
    url: str
    app: web.Application

    @property
    def state(self) -> Gateway:
        return self.app[GATEWAY]

    def backend_requests(self, method: str | None = None) -> int:
        return self.state.metrics.backend_request_count(method)


@asynccontextmanager
async def running_gateway(settings: Settings) -> AsyncIterator[RunningGateway]:
    """The gateway on a loopback port; its public URL (the backends' event callback) is that
    port's, unless the settings name one."""
    sock = socket.create_server(("127.0.0.1", 0))
    if settings.public_url is None:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        settings = dataclasses.replace(settings, public_url=url)
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None)
    try:
        await runner.setup()
        await web.SockSite(runner, sock).start()
        yield RunningGateway(url=f"http://127.0.0.1:{sock.getsockname()[1]}", app=app)
    finally:
        await runner.cleanup()
        sock.close()


def settings_for(sandbox: RunningSandbox, **overrides: Any) -> Settings:
    """A gateway on the sandbox's backends, trusting the sandbox's development IdP.

    The speed switches of the environment reach every test gateway: ``CSM_OPTIMIZATIONS=0``
    runs the suite on the stock path, ``CSM_ENTITY_CACHE=1`` with the entity cache on (see
    docs/caching.md), unless a test sets them itself."""
    urls = {api.key: sandbox.url + api.base_path for api in APIS}
    key = sandbox.app.get(IDP_KEY_PATH)
    from_env = Settings.from_env({k: v for k, v in os.environ.items() if k in SPEED_SWITCHES})
    switches: dict[str, Any] = {
        "optimizations": from_env.optimizations,
        "entity_cache": from_env.entity_cache,
        "response_cache_ttl": from_env.response_cache_ttl,
    }
    return Settings(
        backend_urls=urls,
        dev_idp=True,
        dev_idp_url=sandbox.url,
        dev_idp_key=key,
        **(switches | overrides),
    )


def process_env(
    sandbox: RunningSandbox, redis_url: str, prefix: str, dev_idp_key: Path, tmp_path: Path
) -> dict[str, str]:
    """The environment of a ``csm-graph serve`` process the test starts on the sandbox and a
    shared Redis: none of the caller's csm-graph settings but the speed switches, so that the
    suite's path (``CSM_OPTIMIZATIONS=0``...) reaches it too."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSM_") or k in SPEED_SWITCHES}
    return env | {
        "CSM_TMF_BASE_URL": sandbox.url,
        "CSM_REDIS_URL": redis_url,
        "CSM_REDIS_PREFIX": prefix,
        "CSM_DEV_IDP": "1",
        "CSM_DEV_IDP_URL": sandbox.url,
        "CSM_DEV_IDP_KEY": str(dev_idp_key),
        "CSM_AUDIT_SPILL": str(tmp_path / "audit-spill.jsonl"),
    }


@pytest.fixture
async def gateway(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> AsyncIterator[RunningGateway]:
    async with running_gateway(settings_for(sandbox)) as running:
        # The sandbox's request counters start now: the gateway's hub registrations at start
        # are not what a test counts.
        await http.delete(f"{sandbox.url}/admin/stats")
        await http.delete(f"{sandbox.url}/admin/requests")
        yield running


def token_for(principal: str, key_path: Path, ttl: int = 600) -> str:
    """A real token from the development IdP for ``role:subject[@channel]``
    (``customer:cus-000001``, ``agent:a1@agent-desktop``, ``analyst:x``)."""
    spec, _, channel = principal.partition("@")
    role, _, subject = spec.partition(":")
    default_channel = "agent-desktop" if role in ("agent", "analyst") else "web"
    return mint(
        load_or_create_key(key_path),
        role=role,
        channel=channel or default_channel,
        customer_id=subject if role == "customer" else None,
        subject=subject,
        ttl_seconds=ttl,
    )


def auth_headers(principal: str | None, key_path: Path) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(principal, key_path)}"} if principal else {}


GQL = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def gql(gateway: RunningGateway, http: aiohttp.ClientSession, dev_idp_key: Path) -> GQL:
    """POST a GraphQL document as ``principal`` ("customer:cus-000001", "agent:a1"...)."""

    async def run(
        query: str, variables: dict[str, Any] | None = None, principal: str | None = None
    ) -> dict[str, Any]:
        headers = {"Content-Type": "application/json", **auth_headers(principal, dev_idp_key)}
        body = orjson.dumps({"query": query, "variables": variables or {}})
        async with http.post(f"{gateway.url}/graphql", data=body, headers=headers) as resp:
            assert resp.status == 200, await resp.text()
            result: dict[str, Any] = orjson.loads(await resp.read())
            return result

    return run
