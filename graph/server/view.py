"""GraphQL over HTTP and WebSocket: strawberry's aiohttp view with csm-graph's context and rules.

Beyond the stock view: the principal comes from a verified bearer token (HTTP ``Authorization``,
or graphql-transport-ws ``connection_init``); a bad token is refused with 401 (HTTP) or close
code 4403 (WebSocket) and never downgraded to anonymous; a WebSocket ends when its token
expires. A typed :class:`~graph.context.Context` per request with fresh loaders; orjson
encoding; and ``application/graphql-response+json``, with which a request error (parse,
validation, variables) is a 400 with no ``data`` key. Answers of public catalogue queries come
from the response cache (:mod:`.response_cache`) when it has them, without execution.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Final, cast

import orjson
from aiohttp import web
from strawberry import Schema
from strawberry.aiohttp.views import GraphQLView
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.types import ExecutionResult
from strawberry.types.unset import UnsetType

from graph.actions.directory import PeopleDirectory
from graph.auth import ANONYMOUS, Principal
from graph.auth.audit import AccessLog, access_log_for
from graph.auth.authenticator import InvalidToken, bearer_token, token_from_params
from graph.auth.scope import registration_for, sources_for
from graph.context import Context
from graph.errors import Code
from graph.events import LiveFeed
from graph.loaders import Loaders
from graph.observability.logging import request_correlation_id
from graph.sources import deadline_in
from graph.sources.identity import (
    CALLER,
    CORRELATION_ID,
    CallerIdentity,
    bound_identity,
    new_correlation_id,
)

from .graphiql import GRAPHIQL_ASSETS, render_graphiql
from .guardrails import admit
from .response_cache import Pending, ResponseCache
from .state import GATEWAY, Gateway

__all__ = ["GraphView"]

log = logging.getLogger(__name__)

GRAPHQL_RESPONSE: Final = "application/graphql-response+json"
_SUB: Final = web.RequestKey("csm.sub_response", web.Response)
_PRINCIPAL: Final = web.RequestKey("csm.principal", Principal)
_ACCESS: Final = web.RequestKey("csm.access", AccessLog)
_EXPIRY: Final = web.RequestKey("csm.ws_expiry", asyncio.TimerHandle)
_PENDING: Final = web.RequestKey("csm.response_cache", Pending)
WS_TOKEN_EXPIRED: Final = 4401
MAX_WS_MESSAGE_BYTES: Final = 64 * 1024


def _wants_graphql_response(request: web.Request) -> bool:
    return GRAPHQL_RESPONSE in request.headers.get("Accept", "")


def _is_request_error(result: ExecutionResult) -> bool:
    """Parse, validation and variable errors: no data, and no error has a path. Not a
    persisted query's unknown id: Apollo clients expect that with a 200, and resend the
    document (see graph.server.policy_extension)."""
    return (
        result.data is None
        and bool(result.errors)
        and all(e.path is None for e in result.errors or ())
        and not any(
            (e.extensions or {}).get("code") == Code.PERSISTED_QUERY_NOT_FOUND
            for e in result.errors or ()
        )
    )


IDP_UNAVAILABLE: Final = "identity provider unavailable"


def _unauthenticated(request: web.Request, reason: str) -> web.Response:
    if reason == IDP_UNAVAILABLE:
        # Not the token's fault: a 401 would make clients throw a valid token away.
        return web.Response(
            status=503,
            body=orjson.dumps(
                {
                    "errors": [
                        {
                            "message": "The identity provider is unavailable; try again shortly.",
                            "extensions": {"code": Code.BACKEND_UNAVAILABLE.value},
                        }
                    ]
                }
            ),
            content_type="application/json",
            headers={"Retry-After": "5"},
        )
    body = {"errors": [{"message": f"Invalid credentials: {reason}.",
                        "extensions": {"code": Code.UNAUTHENTICATED.value}}]}  # fmt: skip
    media = GRAPHQL_RESPONSE if _wants_graphql_response(request) else "application/json"
    return web.Response(
        status=401,
        body=orjson.dumps(body),
        content_type=media,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def scope_context(context: Context, principal: Principal) -> None:
    """Give the context its principal, and sources and loaders scoped to that principal: the
    one place object-level authorization is wired in (see :mod:`graph.auth.scope`)."""
    access = access_log_for(principal)  # agents only: their reads are recorded
    raw = context.request.app[GATEWAY].sources
    sources, scope = sources_for(principal, raw, access)
    if access is not None:
        context.request[_ACCESS] = access
    else:
        context.request.pop(_ACCESS, None)
    context.principal = principal
    context.sources = sources
    context.registration = registration_for(principal, raw, sources)
    context.people = PeopleDirectory(raw.individual)  # ids only, for e-mail uniqueness
    events = context.request.app[GATEWAY].events
    context.live = LiveFeed(events, raw) if events is not None else None
    context.loaders = Loaders()
    if scope is not None:
        scope.bind(context.loaders)


def _as_graphql_error(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """strawberry answers some malformed requests (no query, unknown operation name, another
    method) with plain text; clients get a GraphQL error body with a code instead."""
    if not isinstance(response, web.Response) or response.status < 400:
        return response
    if response.content_type != "text/plain" or response.text is None:
        return response
    media = GRAPHQL_RESPONSE if _wants_graphql_response(request) else "application/json"
    body = {"errors": [{"message": response.text,
                        "extensions": {"code": Code.BAD_USER_INPUT.value}}]}  # fmt: skip
    return web.Response(
        status=response.status,
        body=orjson.dumps(body),
        content_type=media,
        headers={k: v for k, v in response.headers.items() if k.lower() == "allow"},
    )


def _ensure_codes(body: GraphQLHTTPResponse) -> None:
    """Every error leaves with a code. Errors raised before the schema's extensions see the
    result (a syntax error caught by the parser cache) arrive without one: a request error
    without a path is the client's (BAD_USER_INPUT); anything else is masked as INTERNAL."""
    errors = cast(list[dict[str, Any]], body.get("errors") or [])
    for error in errors:
        extensions = error.setdefault("extensions", {})
        if "code" not in extensions:
            if error.get("path") is None:
                extensions["code"] = Code.BAD_USER_INPUT.value
            else:
                extensions["code"] = Code.INTERNAL.value
                error["message"] = "Internal error."


class GraphView(GraphQLView[Context, None]):
    _response_cache: ResponseCache | None = None  # made at the first request (the app's settings)

    def decode_json(self, data: str | bytes) -> object:
        """orjson, end to end (strawberry's default is the standard library's json)."""
        return orjson.loads(data)  # its JSONDecodeError is json's: a 400, as before

    def encode_json(self, data: object) -> str:
        # text: WebSocket messages must be text frames (HTTP answers: create_response)
        return orjson.dumps(data).decode()

    async def render_graphql_ide(self, request: web.Request) -> web.Response:
        """A browser GET: GraphiQL from the gateway's own assets (see :mod:`.graphiql`)."""
        return render_graphiql(request, request.app[GRAPHIQL_ASSETS])

    async def create_websocket_response(
        self, request: web.Request, subprotocol: str | None
    ) -> web.WebSocketResponse:
        """As strawberry's, with a message size bound like the HTTP body's."""
        ws = web.WebSocketResponse(
            protocols=[subprotocol] if subprotocol else [], max_msg_size=MAX_WS_MESSAGE_BYTES
        )
        await ws.prepare(request)
        request.app[GATEWAY].websockets.add(ws)
        return ws

    async def get_context(self, request: web.Request, response: Any) -> Context:
        gateway = request.app[GATEWAY]
        principal = request.get(_PRINCIPAL, ANONYMOUS)
        context = Context(
            request=request,
            response=response if isinstance(response, web.StreamResponse) else None,
            principal=principal,
            sources=gateway.sources,
            loaders=Loaders(),
            settings=gateway.settings,
            stores=gateway.stores,
            audit=gateway.audit,
        )
        scope_context(context, principal)
        return context

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        authenticator = context.request.app[GATEWAY].authenticator
        try:
            principal = await authenticator.from_connection_params(context.connection_params)
        except InvalidToken as exc:
            log.info("websocket refused: %s", exc.reason)
            raise ConnectionRejectionError from None
        scope_context(context, principal)
        # The connection's operations run as tasks started from here: they inherit this
        # identity (one correlation id per connection).
        CALLER.set(
            CallerIdentity.of(
                principal, new_correlation_id(), token_from_params(context.connection_params)
            )
        )
        if principal.expires_at is not None and isinstance(context.response, web.WebSocketResponse):
            context.request[_EXPIRY] = self._close_at_expiry(context.response, principal.expires_at)
        return await super().on_ws_connect(context)

    def _responses(self, gateway: Gateway) -> ResponseCache | None:
        """The app's response cache; None when it is off (``CSM_RESPONSE_CACHE_TTL=0``, or
        ``CSM_OPTIMIZATIONS=0``: the benchmark's stock path caches nothing)."""
        settings = gateway.settings
        if settings.response_cache_ttl <= 0 or not settings.optimizations:
            return None
        if self._response_cache is None:
            schema = cast(Schema, self.schema)._schema
            self._response_cache = ResponseCache(schema, settings, gateway.metrics)
        return self._response_cache

    @staticmethod
    def _close_at_expiry(ws: web.WebSocketResponse, expires_at: float) -> asyncio.TimerHandle:
        """A token's life bounds its connection: subscriptions end when it expires. The
        timer is cancelled when the connection ends first (see ``__call__``)."""
        loop = asyncio.get_running_loop()
        delay = max(0.0, expires_at - time.time())

        closing: set[asyncio.Task[bool]] = set()

        def close() -> None:
            if not ws.closed:
                task = loop.create_task(ws.close(code=WS_TOKEN_EXPIRED, message=b"token expired"))
                closing.add(task)
                task.add_done_callback(closing.discard)

        return loop.call_later(delay, close)

    async def get_sub_response(self, request: web.Request) -> web.Response:
        response = web.Response()
        request[_SUB] = response
        return response

    async def process_result(
        self, request: web.Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        body = process_result(result)
        _ensure_codes(body)
        outcome = "ok" if not result.errors else ("partial" if result.data else "error")
        channel = request.get(_PRINCIPAL, ANONYMOUS).channel
        request.app[GATEWAY].metrics.graphql_requests.labels(channel, outcome).inc()
        pending = request.get(_PENDING)
        if pending is not None:
            pending.succeeded = outcome == "ok" and result.data is not None
        if _wants_graphql_response(request) and _is_request_error(result):
            request[_SUB].set_status(400)
            body.pop("data", None)
        return body

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: web.Response,
    ) -> web.Response:
        sub_response.body = orjson.dumps(response_data)
        sub_response.content_type = "application/json"
        return sub_response

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        gateway = request.app[GATEWAY]
        correlation_id = request_correlation_id(request.headers)  # the logs' (request_context)
        authorization = request.headers.get("Authorization")
        try:
            principal = await gateway.authenticator.from_header(authorization)
        except InvalidToken as exc:
            gateway.metrics.graphql_requests.labels("unknown", "unauthenticated").inc()
            refused = _unauthenticated(request, exc.reason)
            refused.headers[CORRELATION_ID] = correlation_id
            return refused
        request[_PRINCIPAL] = principal
        # Rate limits per caller and channel (guardrails): before the body is parsed.
        limited = await admit(request, principal)
        if limited is not None:
            limited.headers[CORRELATION_ID] = correlation_id
            return limited
        # The response cache: after authentication and rate limits, before anything else.
        cache = self._responses(gateway)
        pending = None
        if cache is not None and request.headers.get("Upgrade", "").lower() != "websocket":
            hit, pending = await cache.lookup(request, principal, gateway.stores)
            if hit is not None:
                hit.headers[CORRELATION_ID] = correlation_id
                cache.served(principal.channel, time.perf_counter() - started)
                return hit
            if pending is not None:
                request[_PENDING] = pending
        identity = CallerIdentity.of(principal, correlation_id, bearer_token(authorization))
        # An HTTP operation's backend calls end by its deadline, counted from its arrival (see
        # graph.sources.resilience). A WebSocket outlives any deadline: its operations keep to
        # their APIs' timeouts.
        deadline = None
        if request.headers.get("Upgrade", "").lower() != "websocket":
            deadline = gateway.settings.request_deadline - (time.perf_counter() - started)
        try:
            with bound_identity(identity), deadline_in(deadline):
                response = await super().__call__(request)
        finally:
            expiry = request.get(_EXPIRY)
            if expiry is not None:
                expiry.cancel()
            access = request.get(_ACCESS)
            if access is not None:
                gateway.audit.finish(access)  # queues TMF683 records; never waits
        if cache is not None and pending is not None:
            await cache.keep(request, pending, response, gateway.stores)
        response = _as_graphql_error(request, response)
        if not response.prepared:
            response.headers[CORRELATION_ID] = correlation_id
        if _wants_graphql_response(request) and response.content_type == "application/json":
            response.content_type = GRAPHQL_RESPONSE
        gateway.metrics.graphql_seconds.labels(principal.channel).observe(
            time.perf_counter() - started
        )
        return response
