"""``create_app(settings)``: the gateway application and everything it starts and stops.

The cleanup context pairs each start with its stop: the embedded sandbox (when no backend is
configured), then one TMF client (one ``ClientSession``) per backend API.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from graph.auth.audit import AuditWriter
from graph.auth.authenticator import Authenticator
from graph.auth.devidp import DEV_AUDIENCE, DEV_ISSUER, dev_key_path
from graph.auth.owners import OwnerFinder
from graph.auth.scope import PUBLIC
from graph.auth.tokens import TokenConfig, TokenVerifier
from graph.events import TOPICS, ChangeEvent, EventFanout, HubRegistrar, listener_route
from graph.events.model import CACHE_TOPICS
from graph.observability import Metrics
from graph.observability.logging import request_context
from graph.observability.tracing import backend_call_hook
from graph.operations import manifest_at
from graph.schema import build_schema
from graph.settings import Settings
from graph.sources import APIS, BackendError, breaker_states, open_clients
from graph.sources.cached import EntityCache
from graph.sources.credentials import open_service_credentials
from graph.stores import open_stores

from .graphiql import add_graphiql_routes, assets_dir_from_env
from .guardrails import guardrails_middleware
from .state import GATEWAY, Gateway
from .view import GraphView

__all__ = ["GATEWAY", "Gateway", "create_app"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
READINESS_TTL = 2.0  # seconds a /readyz answer is reused: probes cost 16 backend requests


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


async def healthz(request: web.Request) -> web.Response:
    return _json({"status": "alive"})


async def readyz(request: web.Request) -> web.Response:
    """Probes every backend and the shared store (Redis, when configured) -- at most every
    READINESS_TTL seconds, whoever asks. Ready means the backends answer; the store's state is
    reported beside it (``degraded``), since without Redis the gateway still serves reads.
    Probes go through the APIs' circuit breakers (an open one answers ``CircuitOpen`` without
    a request; a half-open one takes the probe as one of its trial calls), whose states are
    reported too (``breakers``)."""
    gateway = request.app[GATEWAY]
    now = asyncio.get_running_loop().time()
    cached = gateway.readiness
    if cached is not None and now - cached[0] < READINESS_TTL:
        return _json(cached[1], 200 if cached[1]["ready"] else 503)

    # One cheap read per API -- a filter on an id nobody has, which any TMF server answers
    # with an empty list -- on the first resource the gateway reads from it.
    resources: dict[str, str] = {}
    for field in dataclasses.fields(gateway.sources):
        source = getattr(gateway.sources, field.name)
        resources.setdefault(source.api, source.resource)

    async def probe(api: str) -> tuple[str, str]:
        client = gateway.clients[api]
        try:
            await asyncio.wait_for(client.probe(resources[api]), 2.0)
        except (BackendError, TimeoutError) as exc:
            return api, type(exc).__name__
        return api, "ok"

    async def store() -> str:
        try:
            return await asyncio.wait_for(gateway.stores.health(), 2.0)
        except TimeoutError:
            return "TimeoutError"

    probes = asyncio.gather(*(probe(api.key) for api in APIS))
    probed, stores = await asyncio.gather(probes, store())
    results = dict(probed)
    # Redis down degrades (actions with idempotency keys fail closed, live updates pause) but
    # reads go on: a replica stays ready, and the body says what is degraded.
    ready = all(state == "ok" for state in results.values())
    body: dict[str, Any] = {
        "ready": ready,
        "backends": results,
        "breakers": breaker_states(gateway.clients),
        "stores": {"backend": gateway.stores.backend, "state": stores},
        "degraded": stores != "ok",
    }
    gateway.readiness = (now, body)
    return _json(body, 200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    body = request.app[GATEWAY].metrics.render()
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4"})


def token_verifier(
    settings: Settings, dev_idp_url: str | None, session: aiohttp.ClientSession
) -> TokenVerifier | None:
    """The verifier of the configured identity provider: a real one, the development one,
    or none (then every request is anonymous and only public fields answer)."""
    if settings.jwks_url and settings.jwt_issuer and settings.jwt_audience:
        config = TokenConfig(
            issuer=settings.jwt_issuer, audience=settings.jwt_audience, jwks_url=settings.jwks_url
        )
        return TokenVerifier(config, session)
    if settings.dev_idp and dev_idp_url:
        config = TokenConfig(
            issuer=DEV_ISSUER,
            audience=DEV_AUDIENCE,
            jwks_url=f"{dev_idp_url}/.well-known/jwks.json",
            algorithms=("ES256",),
        )
        return TokenVerifier(config, session)
    log.warning("no identity provider configured: every request is anonymous")
    return None


@asynccontextmanager
async def _live_updates(gateway: Gateway, secret: str) -> AsyncIterator[None]:
    """This replica's event fan-out, and -- with a public URL to be called back at -- the
    listener's registrations with the backends' hubs (docs/live-updates.md)."""
    settings = gateway.settings
    fanout = EventFanout(gateway.stores.broadcast, settings.event_queue_size)
    await fanout.start()
    gateway.events = fanout
    gateway.metrics.watch_live(lambda: fanout.subscribers, gateway.event_counts, fanout.counts)
    registrar = None
    if settings.events and settings.public_url:
        callback = f"{settings.public_url}/events/{secret}"
        # With the entity cache, also the events that keep it coherent.
        topics = {**TOPICS, **CACHE_TOPICS} if settings.entity_cache is not None else TOPICS
        registrar = HubRegistrar(gateway.clients, callback, settings.hub_renew_seconds, topics)
        await registrar.start()
        gateway.hubs = registrar
    elif settings.events:
        log.warning("no CSM_PUBLIC_URL: not registered for backend events (no live updates)")
    try:
        yield
    finally:
        if registrar is not None:
            await registrar.stop()
        await fanout.stop()


def entity_cache(gateway: Gateway) -> EntityCache:
    """The entity cache of :mod:`graph.sources.cached` on the gateway's stores."""
    assert gateway.settings.entity_cache is not None
    counters = {
        result: gateway.metrics.cache_requests.labels("entity", result)
        for result in ("hit", "miss", "stale", "error")
    }
    return EntityCache(
        gateway.stores.entities,
        gateway.settings.entity_cache,
        observe=lambda result, n: counters[result].inc(n),
        public=PUBLIC,
    )


async def _invalidate(gateway: Gateway, event: ChangeEvent) -> None:
    """A backend's event drops the cached entries it makes wrong, before any replica's
    subscribers hear of it (and reload)."""
    if gateway.entity_cache is not None:
        await gateway.entity_cache.invalidate_records(event.resource, [event.record])


async def _end_websockets(app: web.Application) -> None:
    """At shutdown, before the server waits for open requests (an open WebSocket never ends
    by itself): end every subscription (the client gets ``complete``), then close with 1001."""
    gateway = app[GATEWAY]
    if gateway.events is not None:
        await gateway.events.stop()  # stopped again in the cleanup context: harmless
    await asyncio.sleep(0.1)  # the subscriptions' `complete` messages go out
    await asyncio.gather(
        *(
            ws.close(code=aiohttp.WSCloseCode.GOING_AWAY, message=b"server shutting down")
            for ws in list(gateway.websockets)
        ),
        return_exceptions=True,
    )


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings.from_env()
    manifest_at(settings.operations_manifest)  # a bad manifest stops the start (ManifestError)
    gateway_metrics = Metrics()
    gateway = Gateway(
        settings=settings,
        metrics=gateway_metrics,
        audit=AuditWriter(settings.audit_spill_path, observer=gateway_metrics.observe_audit),
    )
    # GraphQL documents and variables are small; a larger body is refused (413) before any
    # parsing, so it cannot pin memory or the event loop.
    # request_context: a request id per request, and the ids every log line carries.
    # guardrails_middleware: CORS, CSRF, batches and the 413 (graph/server/guardrails.py).
    app = web.Application(
        client_max_size=MAX_BODY_BYTES, middlewares=[request_context, guardrails_middleware]
    )
    app[GATEWAY] = gateway

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            urls = dict(settings.backend_urls)
            idp_url = settings.dev_idp_url
            if settings.embedded:
                from graph.sandbox import SandboxConfig, running_sandbox

                key = (settings.dev_idp_key or dev_key_path()) if settings.dev_idp else None
                sandbox = await stack.enter_async_context(
                    running_sandbox(
                        SandboxConfig(customers=settings.sandbox_customers, idp_key_path=key)
                    )
                )
                gateway.sandbox_url = idp_url = sandbox.url
                urls = {api.key: sandbox.url + api.base_path for api in APIS}
            idp_session = await stack.enter_async_context(aiohttp.ClientSession())
            gateway.authenticator = Authenticator(
                token_verifier(settings, idp_url, idp_session), settings.client_channels
            )
            if not settings.embedded and settings.backend_auth.mode == "none":
                log.warning("no backend credentials configured: backends get no Authorization")
            credentials = await stack.enter_async_context(
                open_service_credentials(settings.backend_auth, settings.backend_timeout)
            )
            clients = await stack.enter_async_context(
                open_clients(
                    urls,
                    settings.backend_timeout,
                    gateway.metrics.observe_backend,
                    credentials=credentials,
                    forward_user_token=settings.backend_auth.forward_user_token,
                    call_hook=backend_call_hook(),  # a span per call when tracing is on
                    policy=settings.resilience,
                    events=gateway.metrics.observe_resilience,
                )
            )
            gateway.attach(clients)
            gateway.metrics.watch_breakers(lambda: breaker_states(gateway.clients))
            gateway.stores = await stack.enter_async_context(
                open_stores(settings.redis_url, settings.redis_prefix)
            )
            if settings.entity_cache is not None:
                gateway.cache_with(entity_cache(gateway))
            await stack.enter_async_context(_live_updates(gateway, event_secret))
            # Entered after the clients, so stopped (and flushed) before they close.
            await stack.enter_async_context(
                gateway.audit.running(gateway.sources.interaction, OwnerFinder(gateway.sources))
            )
            yield

    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(_end_websockets)
    event_secret = settings.event_secret or secrets.token_urlsafe(24)
    listener_route(
        app,
        event_secret,
        lambda: gateway.stores.broadcast,
        gateway.event_counts,
        on_change=lambda event: _invalidate(gateway, event),
    )
    # Only graphql-transport-ws: the legacy graphql-ws protocol lets a second connection_init
    # swap the connection's principal.
    view = GraphView(
        schema=build_schema(
            optimizations=settings.optimizations,
            # stale-if-error's paths (graph.schema.stale): only where stale data can be served
            stale_tracking=settings.entity_cache is not None
            and settings.entity_cache.stale_seconds > 0,
        ),
        graphql_ide="graphiql",
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        allowed_origins=settings.cors_origins,  # WebSocket handshakes: the CORS allow-list
    )
    app.router.add_route("*", "/graphql", view)
    add_graphiql_routes(app, assets_dir_from_env())
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app
