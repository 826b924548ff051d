"""``create_app(settings)``: the gateway application and everything it starts and stops.

The cleanup context pairs each start with its stop: the embedded sandbox (when no backend is
configured), then one TMF client (one ``ClientSession``) per backend API.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import orjson
from aiohttp import web

from graph.observability import Metrics
from graph.schema import build_schema
from graph.settings import Settings
from graph.sources import APIS, BackendError, open_clients

from .graphiql import add_graphiql_routes, assets_dir_from_env
from .state import GATEWAY, Gateway
from .view import GraphView

__all__ = ["GATEWAY", "Gateway", "create_app"]

# One cheap read per API for /readyz: a filter on an id nobody has, so any TMF server answers
# an empty list without work.
READINESS_PROBES = {
    "TMF629": "customer", "TMF632": "individual", "TMF666": "billingAccount",
    "TMF683": "partyInteraction", "TMF678": "customerBill", "TMF676": "payment",
    "TMF670": "paymentMethod", "TMF635": "usage", "TMF621": "troubleTicket",
    "TMF656": "serviceProblem", "TMF620": "productOffering", "TMF622": "productOrder",
    "TMF637": "product", "TMF641": "serviceOrder", "TMF638": "service", "TMF639": "resource",
}  # fmt: skip


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


async def healthz(request: web.Request) -> web.Response:
    return _json({"status": "alive"})


async def readyz(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]

    async def probe(api: str) -> tuple[str, str]:
        client = gateway.clients[api]
        try:
            await asyncio.wait_for(
                client.list_all(READINESS_PROBES[api], {"id": "csm-readiness-probe"}, ["id"]), 2.0
            )
        except (BackendError, TimeoutError) as exc:
            return api, type(exc).__name__
        return api, "ok"

    results = dict(await asyncio.gather(*(probe(api.key) for api in APIS)))
    ready = all(state == "ok" for state in results.values())
    return _json({"ready": ready, "backends": results}, 200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    body = request.app[GATEWAY].metrics.render()
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4"})


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings.from_env()
    gateway = Gateway(settings=settings, metrics=Metrics())
    app = web.Application()
    app[GATEWAY] = gateway

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            urls = dict(settings.backend_urls)
            if settings.embedded:
                from graph.sandbox import SandboxConfig, running_sandbox

                sandbox = await stack.enter_async_context(
                    running_sandbox(SandboxConfig(customers=settings.sandbox_customers))
                )
                gateway.sandbox_url = sandbox.url
                urls = {api.key: sandbox.url + api.base_path for api in APIS}
            clients = await stack.enter_async_context(
                open_clients(urls, settings.backend_timeout, gateway.metrics.observe_backend)
            )
            gateway.attach(clients)
            yield

    app.cleanup_ctx.append(lifecycle)
    view = GraphView(schema=build_schema(), graphql_ide="graphiql")
    app.router.add_route("*", "/graphql", view)
    add_graphiql_routes(app, assets_dir_from_env())
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app
