"""GraphQL over HTTP: strawberry's aiohttp view with csm-graph's context and response rules.

Beyond the stock view: a typed :class:`~graph.context.Context` per request (principal, fresh
loaders, shared sources); orjson encoding; and the GraphQL-over-HTTP media type
``application/graphql-response+json``, with which a request error (parse, validation,
variables) is a 400 with no ``data`` key.
"""

from __future__ import annotations

import time
from typing import Any, Final

import orjson
from aiohttp import web
from strawberry.aiohttp.views import GraphQLView
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.types import ExecutionResult

from graph.auth import ANONYMOUS, Principal, dev_principal
from graph.context import Context
from graph.loaders import Loaders

from .graphiql import GRAPHIQL_ASSETS, render_graphiql
from .state import GATEWAY

__all__ = ["GraphView"]

GRAPHQL_RESPONSE: Final = "application/graphql-response+json"
_SUB: Final = web.RequestKey("csm.sub_response", web.Response)
_CHANNEL: Final = web.RequestKey("csm.channel", str)


def _wants_graphql_response(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return GRAPHQL_RESPONSE in accept


def _is_request_error(result: ExecutionResult) -> bool:
    """Parse, validation and variable errors: no data, and no error has a path."""
    return (
        result.data is None
        and bool(result.errors)
        and all(e.path is None for e in result.errors or ())
    )


class GraphView(GraphQLView[Context, None]):
    async def render_graphql_ide(self, request: web.Request) -> web.Response:
        """A browser GET: GraphiQL from the gateway's own assets (see :mod:`.graphiql`)."""
        return render_graphiql(request, request.app[GRAPHIQL_ASSETS])

    def principal(self, request: web.Request) -> Principal:
        gateway = request.app[GATEWAY]
        if gateway.settings.dev_principals:
            found = dev_principal(request.headers.get("X-Dev-Principal"))
            if found is not None:
                return found
        return ANONYMOUS

    async def get_context(self, request: web.Request, response: Any) -> Context:
        gateway = request.app[GATEWAY]
        principal = self.principal(request)
        request[_CHANNEL] = principal.channel
        return Context(
            request=request,
            response=response if isinstance(response, web.StreamResponse) else None,
            principal=principal,
            sources=gateway.sources,
            loaders=Loaders(),
            settings=gateway.settings,
        )

    async def get_sub_response(self, request: web.Request) -> web.Response:
        response = web.Response()
        request[_SUB] = response
        return response

    async def process_result(
        self, request: web.Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        body = process_result(result)
        outcome = "ok" if not result.errors else ("partial" if result.data else "error")
        gateway = request.app[GATEWAY]
        channel = request.get(_CHANNEL, "unknown")
        gateway.metrics.graphql_requests.labels(channel, outcome).inc()
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
        response = await super().__call__(request)
        if _wants_graphql_response(request) and response.content_type == "application/json":
            response.content_type = GRAPHQL_RESPONSE
        gateway = request.app[GATEWAY]
        channel = request.get(_CHANNEL, "unknown")
        gateway.metrics.graphql_seconds.labels(channel).observe(time.perf_counter() - started)
        return response
