"""Guardrails: what the gateway refuses before any resolver runs, and how cheaply.

Three pieces, each where it can act earliest:

- :func:`guardrails_middleware` (aiohttp, ``/graphql`` only), before the body is parsed:
  CORS (an allow-list of origins, ``CSM_CORS_ORIGINS``: preflights answered, unknown origins
  get no CORS headers), CSRF (a ``POST`` a browser may send cross-site without a preflight --
  a simple content type or none -- is refused unless it carries ``X-CSM-CSRF`` or
  ``Apollo-Require-Preflight``), batched requests (a JSON array body) and the body size (413),
  each answered with a GraphQL error body.
- :func:`admit` (called by the view once the token is verified): rate limits per caller and per
  channel (:data:`RATE_POLICY`, overridable with ``CSM_RATE_LIMITS``), in the shared store
  (:mod:`graph.stores.ratelimit`) -- 429 with ``Retry-After`` and ``RATE_LIMITED``. Callers
  without a token are counted by client address: the peer's, or the one ``X-Forwarded-For``
  names when the peer is a trusted proxy (``CSM_TRUSTED_PROXIES``).
- :class:`DocumentGuard` (a schema extension, so it holds over WebSocket too): the document's
  size in characters before it is parsed, its aliases and field selections after it is parsed
  and before it is validated (validation of an alias bomb is quadratic), and the rate limits of
  operations sent over a WebSocket (the upgrade request was counted once by :func:`admit`).

Depth, cost, tokens, actions per mutation and introspection are the channel policy's
(:mod:`graph.auth.policy`, :mod:`graph.server.policy_extension`, ``MaxTokensLimiter``).
Every number, code and setting is listed in docs/security.md ("Guardrails").
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

import orjson
from aiohttp import web
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
)
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionResult

from graph.auth import Principal
from graph.auth.principal import Role
from graph.errors import Code, GraphError
from graph.settings import Settings
from graph.stores.ratelimit import Limit, Verdict, retry_after_header

from .state import GATEWAY

__all__ = [
    "CSRF_HEADERS",
    "MAX_ALIASES",
    "MAX_DOCUMENT_CHARS",
    "MAX_FIELDS",
    "MAX_SELECTIONS",
    "RATE_POLICY",
    "DocumentGuard",
    "RatePolicy",
    "admit",
    "client_address",
    "guardrails_middleware",
    "rate_limits_for",
]

log = logging.getLogger(__name__)

GRAPHQL_PATH: Final = "/graphql"
GRAPHQL_RESPONSE: Final = "application/graphql-response+json"

# The largest documents clients send are ~1,700 characters (GraphiQL's introspection query) and
# 76 field selections (an analyst's customer view); no client sends more than 3 aliases, and no
# type has more than 18 fields. Validation compares every pair of fields that share a response
# name in a selection set (quadratic): bounding aliases and the selections of one set bounds it.
MAX_DOCUMENT_CHARS: Final = 16_384
MAX_ALIASES: Final = 64
MAX_SELECTIONS: Final = 64  # in one selection set: fields, fragment spreads, inline fragments
MAX_FIELDS: Final = 500  # field selections in the whole document

# Headers a browser sends cross-site only after a CORS preflight: one of them (or a JSON
# content type) shows a request is not a forged form post.
CSRF_HEADERS: Final = ("X-CSM-CSRF", "Apollo-Require-Preflight")
_SIMPLE_TYPES: Final = frozenset(
    {"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}
)
_ALLOWED_HEADERS: Final = ", ".join(
    ("Authorization", "Content-Type", "Accept", *CSRF_HEADERS, "X-Correlation-ID", "X-Request-ID")
)
_EXPOSED_HEADERS: Final = "X-Correlation-ID, Retry-After"
PREFLIGHT_MAX_AGE: Final = 600


@dataclass(frozen=True, slots=True)
class RatePolicy:
    """Operations per window (60 s unless ``CSM_RATE_LIMIT_WINDOW``), in bursts of as many."""

    caller: int  # per principal (per client address for callers without a token)
    channel: int  # everyone on the channel together, across every replica sharing Redis


# fmt: off
RATE_POLICY: Final[Mapping[str, RatePolicy]] = MappingProxyType({
    # A portal or app page fires a handful of operations; 300 a minute is a very busy human.
    "web": RatePolicy(caller=300, channel=60_000),
    "app": RatePolicy(caller=300, channel=60_000),
    # One operation per message typed or said, and fixed kiosk screens.
    "chatbot": RatePolicy(caller=60, channel=12_000),
    "kiosk": RatePolicy(caller=60, channel=6_000),
    "ivr": RatePolicy(caller=60, channel=12_000),
    # Agents work fast, on several customers at once.
    "agent-desktop": RatePolicy(caller=600, channel=30_000),
    # Without a token: per client address (a shop's NAT hides several people), the catalogue
    # and registration only.
    "anonymous": RatePolicy(caller=120, channel=12_000),
})
# fmt: on


# -- rate limits ----------------------------------------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@functools.cache
def _networks(configured: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in configured)


@functools.lru_cache(maxsize=4096)
def _address(text: str) -> Address | None:
    """Cached: clients repeat, and parsing costs ~5 % of a response-cache hit (addresses are
    immutable)."""
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(request: web.Request, trusted_proxies: tuple[str, ...] = ()) -> str:
    """The caller's address: the peer's, or -- when the peer is a trusted proxy -- the first
    address in ``X-Forwarded-For``, read from the right, that is not a trusted proxy (an
    address the client wrote further left is not believed). An IPv6 client counts by its /64,
    which one host usually holds whole."""
    networks = _networks(trusted_proxies)
    current = _address(request.remote or "")
    if current is None:
        return request.remote or "unknown"

    def trusted(address: Address) -> bool:
        return any(address in network for network in networks)

    if networks and trusted(current):
        hops = [h for v in request.headers.getall("X-Forwarded-For", ()) for h in v.split(",")]
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                break
            current = address
            if not trusted(current):
                break
    if isinstance(current, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network(f"{current}/64", strict=False))
    return str(current)


def rate_policy(label: str, settings: Settings) -> RatePolicy:
    base = RATE_POLICY.get(label, RATE_POLICY["anonymous"])
    override = settings.rate_limits.get(label)
    if override is None:
        return base
    caller, channel = override
    return RatePolicy(caller=caller, channel=channel or base.channel)


def _subject(principal: Principal) -> str:
    subject = principal.subject
    if len(subject) > 64 or not subject.isprintable():
        subject = hashlib.sha256(subject.encode()).hexdigest()[:32]
    return f"{principal.role.value}:{subject}"


def rate_limits_for(
    principal: Principal, request: web.Request, settings: Settings
) -> tuple[str, list[Limit]]:
    """The channel label (``anonymous`` without a token) and the buckets an operation counts
    against: the caller's own, then the channel's."""
    if principal.role is Role.ANONYMOUS:
        label = "anonymous"
        caller = "ip:" + client_address(request, settings.trusted_proxies)
    else:
        label = principal.channel
        caller = _subject(principal)
    policy = rate_policy(label, settings)
    window = settings.rate_limit_window
    return label, [
        Limit(f"caller:{label}:{caller}", policy.caller, window),
        Limit(f"channel:{label}", policy.channel, window),
    ]


def _refusal_message(label: str, verdict: Verdict, policy: RatePolicy, window: float) -> str:
    per = "a minute" if window == 60 else f"per {window:g} s"
    wait = retry_after_header(verdict)
    if verdict.refused_by == 1:
        return f"The {label} channel is busy: try again in {wait} s."
    who = "from this address" if label == "anonymous" else "for this caller"
    return (
        f"Too many requests: at most {policy.caller} operations {per} {who} on the {label} "
        f"channel; try again in {wait} s."
    )


async def _check_rate(request: web.Request, principal: Principal) -> tuple[Verdict, str]:
    """The verdict of the rate limits on one operation, and the refusal's message."""
    gateway = request.app[GATEWAY]
    label, limits = rate_limits_for(principal, request, gateway.settings)
    verdict = await gateway.stores.rate_limits.hit(limits)
    if verdict.fallback:
        gateway.metrics.rate_limit_fallbacks.inc()
    if verdict.allowed:
        return verdict, ""
    gateway.metrics.rate_limited.labels(label).inc()
    policy = rate_policy(label, gateway.settings)
    message = _refusal_message(label, verdict, policy, gateway.settings.rate_limit_window)
    # Counted in csm_rate_limited_total; one line each would let a flood flood the logs too.
    log.debug("rate limited on %s: %s", label, limits[verdict.refused_by or 0].key)
    return verdict, message


async def admit(request: web.Request, principal: Principal) -> web.Response | None:
    """None when the operation is within the caller's and the channel's rate limits; else the
    429 to answer with (``Retry-After``, a GraphQL error with ``RATE_LIMITED``)."""
    verdict, message = await _check_rate(request, principal)
    if verdict.allowed:
        return None
    retry = retry_after_header(verdict)
    return error_response(
        request,
        429,
        message,
        Code.RATE_LIMITED,
        extensions={"retryAfter": int(retry)},
        headers={"Retry-After": retry},
    )


# -- HTTP: CORS, CSRF, batches, body size ---------------------------------------------------


def error_response(
    request: web.Request,
    status: int,
    message: str,
    code: Code,
    *,
    extensions: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """A GraphQL response body holding one error, in the media type the client accepts."""
    media = (
        GRAPHQL_RESPONSE
        if GRAPHQL_RESPONSE in request.headers.get("Accept", "")
        else "application/json"
    )
    error = {"message": message, "extensions": {"code": code.value, **(extensions or {})}}
    return web.Response(
        status=status, body=orjson.dumps({"errors": [error]}), content_type=media, headers=headers
    )


def _origin(request: web.Request, allowed: tuple[str, ...]) -> str | None:
    """The request's ``Origin`` when it is on the allow-list (compared as browsers send it:
    lowercase scheme and host, no default port)."""
    origin = request.headers.get("Origin")
    if not origin or not allowed:
        return None
    normalized = origin.strip().lower()
    for scheme, port in (("http", ":80"), ("https", ":443")):
        if normalized.startswith(scheme + "://") and normalized.endswith(port):
            normalized = normalized.removesuffix(port)
    return origin if normalized in allowed else None


def _refuse(request: web.Request, reason: str) -> None:
    request.app[GATEWAY].metrics.guardrail_refusals.labels(reason).inc()


def _browser_sendable(request: web.Request) -> bool:
    """A POST a page on any site can make without a preflight: a simple content type (or
    none) and none of the headers only a preflighted request can carry."""
    if request.method != "POST":
        return False
    if any(name in request.headers for name in CSRF_HEADERS):
        return False
    content_type = request.headers.get("Content-Type")
    if content_type is None:
        return True
    return content_type.partition(";")[0].strip().lower() in _SIMPLE_TYPES


async def _refusal(request: web.Request) -> web.Response | None:
    if _browser_sendable(request):
        _refuse(request, "csrf")
        return error_response(
            request,
            400,
            "This request could have been forged by another site: send it as "
            f"application/json, or with a {CSRF_HEADERS[0]} header.",
            Code.BAD_USER_INPUT,
        )
    if request.method == "POST" and "json" in request.headers.get("Content-Type", ""):
        try:
            body = await request.read()  # kept by aiohttp for the view
        except web.HTTPRequestEntityTooLarge:
            return _too_large(request)
        if body.lstrip()[:1] == b"[":
            _refuse(request, "batch")
            return error_response(
                request,
                400,
                "Batched requests are not accepted: send one operation per request.",
                Code.BAD_USER_INPUT,
            )
    return None


def _too_large(request: web.Request) -> web.Response:
    _refuse(request, "body_size")
    limit = request.client_max_size
    return error_response(
        request,
        413,
        f"The request body is larger than {limit} bytes.",
        Code.BAD_USER_INPUT,
        extensions={"maxBytes": limit},
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def guardrails_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path != GRAPHQL_PATH:
        return await handler(request)
    settings = request.app[GATEWAY].settings
    origin = _origin(request, settings.cors_origins)
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        if origin is None:
            _refuse(request, "cors")
            return web.Response(status=403, text="origin not allowed")
        return web.Response(
            status=204,
            headers={
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": "GET, POST",
                "Access-Control-Allow-Headers": _ALLOWED_HEADERS,
                "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE),
                "Vary": "Origin",
            },
        )
    response: web.StreamResponse | None = await _refusal(request)
    if response is None:
        try:
            response = await handler(request)
        except web.HTTPRequestEntityTooLarge:
            response = _too_large(request)
    if settings.cors_origins and not response.prepared:
        response.headers.add("Vary", "Origin")
        if origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = _EXPOSED_HEADERS
    return response


# -- documents (HTTP and WebSocket) ---------------------------------------------------------

_NAME: Final = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,127}$")


def _count(document: DocumentNode) -> tuple[int, int, int]:
    """(aliased fields, field selections, the most selections in one set) written in the
    document, each fragment counted once."""
    aliases = fields = widest = 0
    stack: list[SelectionSetNode] = [
        d.selection_set for d in document.definitions if hasattr(d, "selection_set")
    ]
    while stack:
        selections = stack.pop().selections
        widest = max(widest, len(selections))
        for selection in selections:
            if isinstance(selection, FieldNode):
                fields += 1
                aliases += selection.alias is not None
            selection_set = getattr(selection, "selection_set", None)
            if selection_set is not None:
                stack.append(selection_set)
    return aliases, fields, widest


@functools.lru_cache(maxsize=64)
def _stand_in_document(source: str) -> DocumentNode:
    return parse(source)


def _operation_kind(document: DocumentNode, name: str | None) -> str:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = next((o for o in operations if o.name and o.name.value == name), None)
    if chosen is None and operations and name is None:
        chosen = operations[0]
    return chosen.operation.value if chosen is not None else "query"


class DocumentGuard(SchemaExtension):
    """Refuse a document that is too large, has too many aliases or field selections, or is
    sent over a WebSocket beyond the rate limits -- before it is validated (or parsed).

    A refused document is swapped for a stand-in of the same kind and name (``query Name {
    __typename }``), so parsing and validation cost nothing; the refusal then replaces
    validation's answer, and execution never starts. Placed after ``ValidationCache`` (whose
    answer it replaces) and the channel policy.
    """

    def __init__(self) -> None:
        super().__init__()
        self._refusal: GraphQLError | None = None

    async def on_operation(self) -> AsyncIterator[None]:
        ec = self.execution_context
        context = ec.context
        if isinstance(context.response, web.WebSocketResponse):
            verdict, message = await _check_rate(context.request, context.principal)
            if not verdict.allowed:
                retry = int(retry_after_header(verdict))
                self._refuse_text(message, Code.RATE_LIMITED, None, {"retryAfter": retry})
        query = ec.query
        if self._refusal is None and isinstance(query, str) and len(query) > MAX_DOCUMENT_CHARS:
            self._refuse_text(
                f"The document has {len(query)} characters; at most {MAX_DOCUMENT_CHARS} are "
                "allowed.",
                Code.BAD_USER_INPUT,
                "document_size",
                {"characters": len(query), "maxCharacters": MAX_DOCUMENT_CHARS},
            )
        yield

    def on_parse(self) -> Iterator[None]:
        yield
        ec = self.execution_context
        document = ec.graphql_document
        if self._refusal is not None or document is None:
            return
        aliases, fields, widest = _count(document)
        numbers: dict[str, int]
        if aliases > MAX_ALIASES:
            message = f"The document has {aliases} aliases; at most {MAX_ALIASES} are allowed."
            numbers = {"aliases": aliases, "maxAliases": MAX_ALIASES}
            reason = "aliases"
        elif widest > MAX_SELECTIONS:
            message = (
                f"A selection set of the document holds {widest} selections; at most "
                f"{MAX_SELECTIONS} are allowed."
            )
            numbers = {"selections": widest, "maxSelections": MAX_SELECTIONS}
            reason = "selections"
        elif fields > MAX_FIELDS:
            message = (
                f"The document selects {fields} fields; at most {MAX_FIELDS} are allowed. "
                "Ask for fewer fields."
            )
            numbers = {"fields": fields, "maxFields": MAX_FIELDS}
            reason = "fields"
        else:
            return
        kind = _operation_kind(document, ec.operation_name)
        self._record(message, Code.BAD_USER_INPUT, reason, numbers)
        ec.graphql_document = _stand_in_document(self._stand_in(kind))

    def on_validate(self) -> Iterator[None]:
        if self._refusal is not None:
            self.execution_context.pre_execution_errors = [self._refusal]
        yield

    def on_execute(self) -> Iterator[None]:
        ec = self.execution_context
        if self._refusal is not None and ec.result is None:
            ec.result = ExecutionResult(data=None, errors=[self._refusal])
        yield

    def _refuse_text(
        self, message: str, code: Code, reason: str | None, numbers: Mapping[str, Any]
    ) -> None:
        """Refuse before parsing: the text becomes a stand-in query (of the same name)."""
        self._record(message, code, reason, numbers)
        self.execution_context.query = self._stand_in("query")
        self.execution_context.graphql_document = None

    def _stand_in(self, kind: str) -> str:
        """Named as the request names its operation (a name that cannot be one stays out: the
        request is then refused for naming no operation of the document)."""
        name = self.execution_context.operation_name
        name = name if name is not None and _NAME.match(name) else ""
        return f"{kind} {name} {{ __typename }}"

    def _record(
        self, message: str, code: Code, reason: str | None, numbers: Mapping[str, Any]
    ) -> None:
        if reason is not None:
            _refuse(self.execution_context.context.request, reason)
        self._refusal = GraphQLError(
            message,
            original_error=GraphError(message, code),
            extensions={"code": code.value, **numbers},
        )
