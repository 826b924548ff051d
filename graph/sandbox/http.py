"""The generic TMF collection engine over HTTP: one set of handlers serves every collection.

Routes are derived from :data:`.registry.COLLECTIONS` and the operations each specification
declares (a ``POST /customerBill`` is a 405, as TMF678 defines none). Errors of any kind leave as
TMF ``Error`` bodies; nothing internal reaches the client.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

import orjson
from aiohttp import web

from .backend import Backend
from .errors import TmfError, error_response
from .query import parse_list_query, project
from .registry import APIS, COLLECTIONS, CollectionSpec
from .validation import check_create, check_patch

__all__ = ["add_tmf_routes", "error_middleware"]

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
JSON: Final = "application/json"
PATCH_TYPES: Final = frozenset({"application/merge-patch+json", "application/json"})


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type=JSON, headers=headers)


async def _body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw:
        raise TmfError(400, "Invalid body", "a JSON body is required")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise TmfError(400, "Invalid body", "the body is not valid JSON") from None


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except TmfError as exc:
        return error_response(exc.status, exc.reason, exc.message, exc.code)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, exc.reason, f"{request.method} {request.path}")
    except Exception:
        log.exception("sandbox error on %s %s", request.method, request.path)
        return error_response(500, "Internal error", "the sandbox failed to handle the request")


class CollectionHandlers:
    """Handlers for one collection, bound to its spec."""

    def __init__(self, backend: Backend, spec: CollectionSpec, default_limit: int, max_limit: int):
        self.backend = backend
        self.spec = spec
        self.default_limit = default_limit
        self.max_limit = max_limit
        subtype_attrs = {a for attrs in spec.model["subtypes"].values() for a in attrs}
        self.attributes = frozenset(spec.model["properties"]) | subtype_attrs

    async def list(self, request: web.Request) -> web.Response:
        query = parse_list_query(request.query, self.attributes, self.default_limit, self.max_limit)
        found = self.backend.dataset.find(self.spec, query)
        page = found[query.offset : query.offset + query.limit]
        headers = {"X-Total-Count": str(len(found)), "X-Result-Count": str(len(page))}
        body = [project(r, query.fields) for r in page]
        return _json(body, 200 if len(page) == len(found) else 206, headers)

    async def get(self, request: web.Request) -> web.Response:
        record = self.backend.require(self.spec.name, request.match_info["id"])
        fields = request.query.get("fields")
        selected = frozenset(f.split(".", 1)[0] for f in fields.split(",")) if fields else None
        return _json(project(record, selected))

    async def create(self, request: web.Request) -> web.Response:
        body = check_create(self.spec, await _body(request))
        record = self.backend.create(self.spec.name, body)
        location = str(request.url.with_path(f"{request.path}/{record['id']}").with_query(None))
        return _json(record, 201, {"Location": location})

    async def patch(self, request: web.Request) -> web.Response:
        if request.content_type not in PATCH_TYPES:
            raise TmfError(
                415, "Unsupported media type", "PATCH takes application/merge-patch+json"
            )
        current = self.backend.require(self.spec.name, request.match_info["id"])
        patch = check_patch(self.spec, await _body(request), current)
        return _json(self.backend.update(self.spec.name, current["id"], patch))

    async def delete(self, request: web.Request) -> web.Response:
        self.backend.delete(self.spec.name, request.match_info["id"])
        return web.Response(status=204)


def _hub_handlers(backend: Backend, api: str) -> tuple[Handler, Handler]:
    async def subscribe(request: web.Request) -> web.Response:
        sub = backend.hub.subscribe(api, await _body(request))
        location = str(request.url.with_path(f"{request.path}/{sub.id}").with_query(None))
        return _json(sub.as_json(), 201, {"Location": location})

    async def unsubscribe(request: web.Request) -> web.Response:
        backend.hub.unsubscribe(api, request.match_info["id"])
        return web.Response(status=204)

    return subscribe, unsubscribe


def add_tmf_routes(
    app: web.Application, backend: Backend, default_limit: int, max_limit: int
) -> None:
    for spec in COLLECTIONS.values():
        handlers = CollectionHandlers(backend, spec, default_limit, max_limit)
        table: list[tuple[str, bool, Handler]] = [
            ("GET", False, handlers.list),
            ("POST", False, handlers.create),
            ("GET", True, handlers.get),
            ("PATCH", True, handlers.patch),
            ("DELETE", True, handlers.delete),
        ]
        for method, on_item, handler in table:
            if spec.allows(method, on_item):
                path = f"{spec.path}/{{id}}" if on_item else spec.path
                app.router.add_route(method, path, handler)
    for api in APIS:
        subscribe, unsubscribe = _hub_handlers(backend, api.key)
        app.router.add_post(f"{api.base_path}/hub", subscribe)
        app.router.add_delete(f"{api.base_path}/hub/{{id}}", unsubscribe)
