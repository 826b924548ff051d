"""``CSM_OPTIMIZATIONS=0`` switches the speed work off -- the benchmark's stock strawberry path
(bench/run.py) -- and the gateway then answers exactly as with it on. Today the switch covers
the document caches; later optimizations hang off it too, and these tests keep it honest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import strawberry
from aiohttp import web
from strawberry.extensions import MaxTokensLimiter, ParserCache, ValidationCache

from graph.sandbox import RunningSandbox
from graph.schema import build_schema
from graph.server.policy_extension import ChannelPolicyExtension
from graph.server.view import GraphView
from graph.settings import Settings, SettingsError
from tests.gateway.conftest import RunningGateway, auth_headers, running_gateway, settings_for
from tests.gateway.test_customer360 import ME

CATALOGUE = "{ productOfferings(first: 5) { edges { node { name prices { price { amount } } } } } }"
LIST = "{ customers(first: 3) { edges { node { reference billingAccounts { reference } } } } }"


def test_the_switch_is_read_from_the_environment() -> None:
    assert Settings.from_env({}).optimizations is True
    assert Settings.from_env({"CSM_OPTIMIZATIONS": "1"}).optimizations is True
    assert Settings.from_env({"CSM_OPTIMIZATIONS": "0"}).optimizations is False
    with pytest.raises(SettingsError):
        Settings.from_env({"CSM_OPTIMIZATIONS": "fast"})


def extension_types(app: web.Application) -> list[type[Any]]:
    """The extensions of the schema the app's ``/graphql`` view serves."""
    view = next(
        r.handler
        for r in app.router.routes()
        if r.resource is not None and r.resource.canonical == "/graphql"
    )
    assert isinstance(view, GraphView)
    assert isinstance(view.schema, strawberry.Schema)
    return [type(e) for e in view.schema.get_extensions()]


def test_off_the_schema_has_no_document_caches_and_keeps_its_guardrails() -> None:
    on = [type(e) for e in build_schema().get_extensions()]
    off = [type(e) for e in build_schema(optimizations=False).get_extensions()]
    for cache in (ParserCache, ValidationCache):
        assert cache in on
        assert cache not in off
    for guard in (MaxTokensLimiter, ChannelPolicyExtension):
        assert guard in on
        assert guard in off


async def test_stock_and_optimized_gateways_answer_alike(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    async def ask(gateway: RunningGateway, query: str, principal: str | None) -> Any:
        headers = {"Content-Type": "application/json", **auth_headers(principal, dev_idp_key)}
        body = orjson.dumps({"query": query})
        async with http.post(f"{gateway.url}/graphql", data=body, headers=headers) as resp:
            assert resp.status == 200, await resp.text()
            return orjson.loads(await resp.read())

    async with (
        running_gateway(settings_for(sandbox, optimizations=True)) as fast,
        running_gateway(settings_for(sandbox, optimizations=False)) as stock,
    ):
        assert ParserCache in extension_types(fast.app)
        assert ParserCache not in extension_types(stock.app)
        asks = ((ME, "customer:cus-000004"), (CATALOGUE, None), (LIST, "agent:a1"))
        for query, principal in asks:
            for _ in range(2):  # the second time from the optimized gateway's caches
                answer = await ask(fast, query, principal)
                assert "errors" not in answer, answer
                assert await ask(stock, query, principal) == answer
