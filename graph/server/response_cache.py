"""The response cache: whole answers of public catalogue queries, served without execution.

The catalogue (``productOfferings``) is the same for every caller, signed in or not, so its
answers can be kept a short while (``CSM_RESPONSE_CACHE_TTL`` seconds, 60 unless set; 0 turns
the cache off, as does ``CSM_OPTIMIZATIONS=0``) and sent again as they are: no parsing,
validation or execution, no backend request. :class:`~graph.server.view.GraphView` asks
:meth:`ResponseCache.lookup` once the token is verified and the rate limits passed, and hands
each answer of the full path to :meth:`ResponseCache.keep`. Bytes live in
:mod:`graph.stores.responses` (Redis, or memory).

**What is cached.** A document is *cacheable* when every operation in it is a query and every
field it selects, anywhere (both sides of ``@skip``/``@include``, every fragment), is in
:func:`catalogue_fields`: the roots of :data:`CACHEABLE_ROOTS` (``Query.productOfferings``: of
the public fields, the one whose answer does not depend on the caller -- a price preview does)
and the fields of the object types they reach, leaving out any field with a permission class
or a field extension (masking), one that needs more than the lowest assurance level, and any
field of an interface or a union type. The verdict is reached once per document, after its
first successful run, and remembered with the parsed document (a bounded LRU); a document that
does not even name ``productOfferings`` is judged without being parsed. Until this process has
judged a document, an entry another process kept for it is served: entries are only ever
written for cacheable documents, under keys that name the version of these rules. Only answers
without ``errors`` are kept.

**The key** is the sha256 of: the schema version (its SDL's hash, the package version, the
maximum page size, this module's format), the document's id (the sha256 of its text, or the
persisted-query id it was sent as: the same thing), the operation name and the variables as
canonical JSON (sorted keys). Nothing of the caller is in it: the answer does not depend on
who asks, only on whether they may ask -- which is checked on every hit:

**The hit path keeps every guarantee but execution.** Authentication, rate limits and the
guardrails (CORS, CSRF, batches, body size) have run before the lookup; metrics count the
operation. The channel policy (:mod:`graph.auth.policy`) is applied from what the entry
records: the principal's role must be admitted on its channel; the operation's depth and cost
(computed when the answer was stored, with the variables that are part of the key) must be
within the channel's limits; and on a trusted-only channel (kiosk, IVR) the document must be
one of the manifest's operations for that channel, by id -- a kiosk never gets a cached answer
of a document it may not run. Anything the hit path cannot approve goes down the full path,
which answers (or refuses) as it always does. A request that names a persisted query by id
only is served from the cache only when that id still resolves as the full path would resolve
it (the manifest, else -- not on trusted-only channels -- the APQ store); one that sends a
document with its id registers it in the APQ store as the full path would.

The answer is the full path's bytes, with the same status (200) and content type;
``X-Cache`` says ``hit`` or ``miss`` (only on cacheable documents), and an anonymous ``GET``
gets ``Cache-Control: public, max-age=<what is left of the TTL>`` and ``Vary: Accept,
Authorization``. Redis not answering is a miss (counted as ``error``), never a failed request.
``csm_cache_requests_total{cache="response"}`` counts ``hit``, ``miss`` (asked, not found),
``store`` and ``error``; a hit is logged at DEBUG only (the full path logs each operation at
INFO), and is not traced.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import orjson
from aiohttp import web
from graphql import (
    BREAK,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_named_type,
    is_leaf_type,
    parse,
    print_schema,
    visit,
)

from graph.auth import Principal
from graph.auth.policy import (
    PUBLIC_FIELDS,
    analyze,
    check_admission,
    policy_for,
    required_assurance,
)
from graph.operations import manifest_at
from graph.stores.idempotency import StoreUnavailable

from .policy_extension import persisted_query_id

if TYPE_CHECKING:
    from prometheus_client import Counter as CounterChild
    from prometheus_client import Histogram as HistogramChild

    from graph.observability import Metrics
    from graph.settings import Settings
    from graph.stores import Stores

__all__ = [
    "CACHEABLE_ROOTS",
    "GRAPHQL_RESPONSE",
    "Pending",
    "ResponseCache",
    "cacheable",
    "catalogue_fields",
]

log = logging.getLogger(__name__)
# The full path logs every operation at INFO on this logger; a hit, at DEBUG: a line per hit
# would cost a good part of what the hit saves (they are counted in the metrics).
access_log = logging.getLogger("graph.access")

# Root fields whose answer is the same for every caller. Each must be public (PUBLIC_FIELDS):
# quoteProductOrder is public but prices a signed-in customer's own products too, so it is not
# here.
CACHEABLE_ROOTS: Final = frozenset({"Query.productOfferings"})
# A cacheable document names one of these (a cheap test before parsing anything).
_ROOT_NAMES: Final = tuple(c.partition(".")[2] for c in CACHEABLE_ROOTS)
GRAPHQL_RESPONSE: Final = "application/graphql-response+json"
FORMAT: Final = "1"  # of the key and the entry: changing either changes this
MAX_VERDICTS: Final = 1_000  # documents judged, remembered (cacheable ones with their tree)
# Request bodies of cacheable-looking documents, each with its operation and key: clients send
# the same bytes over and over, and decoding, hashing and keying them is most of a hit's cost.
MAX_BODIES: Final = 256
MAX_BODY_BYTES: Final = 8 * 1024  # a longer body is decoded every time
MAX_DECODED: Final = 64  # entries kept decoded (a store hands back the same bytes object)
_SHA256: Final = re.compile(r"^[0-9a-f]{64}$")


def catalogue_fields(
    schema: GraphQLSchema, roots: frozenset[str] = CACHEABLE_ROOTS
) -> frozenset[str]:
    """The coordinates ("Type.field") a cacheable document may select: the cacheable roots
    and the fields of the object types they reach, but no field that could answer
    differently for another caller -- one with a permission class or a field extension
    (masking), one above the lowest assurance level -- nor one of an abstract type (which
    could reach anything). tests/server/test_response_cache.py pins the result: a new field
    on a catalogue type is a decision to make, not a default."""
    allowed: set[str] = set()
    todo: list[GraphQLObjectType] = []

    def admit(parent: GraphQLObjectType, name: str) -> None:
        field = parent.fields[name]
        coordinate = f"{parent.name}.{name}"
        definition = field.extensions.get("strawberry-definition")
        if getattr(definition, "permission_classes", None) or getattr(
            definition, "extensions", None
        ):
            return
        if required_assurance(coordinate) != "low":
            return
        named = get_named_type(field.type)
        if isinstance(named, GraphQLObjectType):
            todo.append(named)
        elif not is_leaf_type(named):
            return  # an interface or a union
        allowed.add(coordinate)

    for root in sorted(roots):
        type_name, _, name = root.partition(".")
        parent = schema.get_type(type_name)
        if isinstance(parent, GraphQLObjectType) and name in parent.fields:
            admit(parent, name)
    seen: set[str] = set()
    while todo:
        parent = todo.pop()
        if parent.name in seen:
            continue
        seen.add(parent.name)
        for name in parent.fields:
            admit(parent, name)
    return frozenset(allowed)


class _Selections(Visitor):
    """Stops at the first field outside ``allowed`` (``__typename`` is always fine)."""

    def __init__(self, type_info: TypeInfo, allowed: frozenset[str]) -> None:
        super().__init__()
        self.type_info = type_info
        self.allowed = allowed
        self.outside = False

    def enter_field(self, node: FieldNode, *_: Any) -> Any:
        name = node.name.value
        if name == "__typename":
            return None
        parent = self.type_info.get_parent_type()
        if parent is None or f"{parent.name}.{name}" not in self.allowed:
            self.outside = True
            return BREAK
        return None


def cacheable(schema: GraphQLSchema, document: DocumentNode, allowed: frozenset[str]) -> bool:
    """Whether every operation of a (valid) document is a query selecting only ``allowed``
    fields -- whatever its variables, so every field counts, conditional or not."""
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            if definition.operation is not OperationType.QUERY:
                return False
        elif not isinstance(definition, FragmentDefinitionNode):
            return False
    type_info = TypeInfo(schema)
    selections = _Selections(type_info, allowed)
    visit(document, TypeInfoVisitor(type_info, selections))
    return not selections.outside


# -- requests ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Operation:
    """What a request asks, as the full path will read it (only the shapes it accepts)."""

    document_id: str  # the sha256 of the document's text
    query: str | None  # None: named by its persisted-query id only
    operation_name: str | None
    variables: dict[str, Any]
    persisted: bool  # the request names a persisted-query id


def _operation(data: Any) -> Operation | None:
    """The operation of a decoded request, or None when the full path should judge it."""
    if not isinstance(data, dict):
        return None
    query, variables = data.get("query"), data.get("variables")
    name, extensions = data.get("operationName"), data.get("extensions")
    if not (
        isinstance(query, str | None)
        and isinstance(variables, dict | None)
        and isinstance(name, str | None)
        and isinstance(extensions, dict | None)
    ):
        return None
    sha = persisted_query_id(extensions)
    if query:
        document_id = hashlib.sha256(query.encode("utf-8")).hexdigest()
        if sha is not None and sha != document_id:
            return None  # refused by the full path
    elif sha is not None and _SHA256.match(sha):
        document_id, query = sha, None
    else:
        return None
    return Operation(document_id, query, name, variables or {}, sha is not None)


async def read_operation(request: web.Request) -> Operation | None:
    """The operation of a GET or JSON POST request (the body was read by the guardrails)."""
    try:
        if request.method == "POST":
            if "application/json" not in request.content_type:
                return None
            return _operation(orjson.loads(await request.read()))
        if request.method == "GET" and ("query" in request.query or _persisted_get(request)):
            params: dict[str, Any] = dict(request.query)
            for name in ("variables", "extensions"):
                if params.get(name):
                    params[name] = orjson.loads(params[name])
            return _operation(params)
    except (orjson.JSONDecodeError, UnicodeEncodeError):
        return None
    return None


def _persisted_get(request: web.Request) -> bool:
    """A GET naming a persisted query by id only -- unless a browser asks for a page (then
    the full path answers with GraphiQL)."""
    accept = request.headers.get("Accept", "")
    return "extensions" in request.query and "text/html" not in accept and "*/*" not in accept


# -- entries ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """A kept answer: when it was stored (epoch ms), the operation's depth and cost (for the
    channel limits), and the body as the full path sent it."""

    stored_ms: int
    depth: int
    cost: int
    body: bytes

    def encode(self) -> bytes:
        return b"%d %d %d\n" % (self.stored_ms, self.depth, self.cost) + self.body

    @classmethod
    def decode(cls, raw: bytes) -> Entry | None:
        head, sep, body = raw.partition(b"\n")
        parts = head.split(b" ")
        if not sep or len(parts) != 3 or not all(p.isdigit() for p in parts):
            return None
        return cls(int(parts[0]), int(parts[1]), int(parts[2]), body)


@dataclass(slots=True)
class Verdict:
    cacheable: bool
    document: DocumentNode | None  # kept for cacheable documents: their shape is analysed


@dataclass(slots=True)
class Pending:
    """A request going down the full path whose answer may be kept (see ``keep``)."""

    operation: Operation
    key: str
    verdict: Verdict | None  # None: judged once it has run
    succeeded: bool = False  # set from the result: data and no errors


# -- the cache --------------------------------------------------------------------------------


class ResponseCache:
    """One per app: the verdicts on documents, the key's version, the metric."""

    def __init__(self, schema: GraphQLSchema, settings: Settings, metrics: Metrics) -> None:
        if not CACHEABLE_ROOTS <= PUBLIC_FIELDS:
            raise RuntimeError("a cacheable root field is not public")
        self.schema = schema
        self.settings = settings
        self.ttl = settings.response_cache_ttl
        self.allowed = catalogue_fields(schema)
        self._manifest = manifest_at(settings.operations_manifest)
        version = "\0".join(
            (
                FORMAT,
                importlib.metadata.version("csm-graph"),
                str(settings.max_page_size),
                hashlib.sha256(print_schema(schema).encode()).hexdigest(),
            )
        )
        self._version = hashlib.sha256(version.encode()).hexdigest()[:16].encode() + b"\0"
        self._verdicts: OrderedDict[str, Verdict] = OrderedDict()
        self._bodies: dict[bytes, tuple[Operation, str]] = {}  # oldest first out
        self._decoded: dict[bytes, Entry] = {}
        counter = metrics.cache_requests
        self._hits = counter.labels("response", "hit")
        self._misses = counter.labels("response", "miss")
        self._stores = counter.labels("response", "store")
        self._errors = counter.labels("response", "error")
        self._metrics = metrics
        self._served: dict[str, tuple[CounterChild, HistogramChild]] = {}

    def served(self, channel: str, seconds: float) -> None:
        """Count a hit as an operation (``csm_graphql_requests_total``, ``..._seconds``),
        with the metrics' children kept per channel (looking them up costs more than the
        count)."""
        children = self._served.get(channel)
        if children is None:
            metrics = self._metrics
            children = self._served[channel] = (
                metrics.graphql_requests.labels(channel, "ok"),
                metrics.graphql_seconds.labels(channel),
            )
        children[0].inc()
        children[1].observe(seconds)

    def key(self, operation: Operation) -> str:
        try:
            variables = orjson.dumps(operation.variables, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # an integer orjson cannot write: never cached
            return ""
        digest = hashlib.sha256(self._version)
        digest.update(operation.document_id.encode())
        digest.update(b"\0" + orjson.dumps(operation.operation_name) + b"\0")
        digest.update(variables)
        return digest.hexdigest()

    async def lookup(
        self, request: web.Request, principal: Principal, stores: Stores
    ) -> tuple[web.Response | None, Pending | None]:
        """The cached answer (or None), and what to keep the full path's answer under."""
        read = await self._read(request)
        if read is None:
            return None, None
        operation, key = read
        verdict = self._verdicts.get(operation.document_id)
        if verdict is None and operation.query is not None and not _names_a_root(operation.query):
            verdict = self._remember(operation.document_id, Verdict(False, None))
        if verdict is not None and not verdict.cacheable:
            return None, None
        if not key:
            return None, None
        # A document not judged yet by this process may still have an entry, kept by another
        # process (same version, so same rules) that judged it: then it is cacheable.
        pending = Pending(operation, key, verdict)
        if not self._admitted(principal, operation.document_id):
            return None, pending
        try:
            raw = await stores.responses.get(key)
        except StoreUnavailable:
            self._errors.inc()
            return None, pending
        entry = self._decode(raw) if raw is not None else None
        if entry is None:
            self._misses.inc()
            return None, pending
        policy = policy_for(principal)
        assert policy is not None  # admitted
        if entry.depth > policy.max_depth or entry.cost > policy.max_cost:
            return None, None  # refused by the full path; nothing to keep
        if operation.persisted and not await self._persisted(operation, stores):
            return None, pending
        if verdict is not None:
            self._verdicts.move_to_end(operation.document_id)
        self._hits.inc()
        access_log.debug("query %s: hit", operation.operation_name or "(anonymous)")
        return self._answer(request, entry), None

    async def _read(self, request: web.Request) -> tuple[Operation, str] | None:
        """The request's operation and key; a JSON body seen before is not decoded again."""
        if request.method != "POST" or "application/json" not in request.content_type:
            operation = await read_operation(request)
            return (operation, self.key(operation)) if operation is not None else None
        body = await request.read()
        known = self._bodies.get(body)
        if known is not None:
            return known
        operation = await read_operation(request)
        if operation is None:
            return None
        read = operation, self.key(operation)
        query = operation.query
        if len(body) <= MAX_BODY_BYTES and (query is None or _names_a_root(query)):
            self._bodies[body] = read
            if len(self._bodies) > MAX_BODIES:
                self._bodies.pop(next(iter(self._bodies)))
        return read

    def _decode(self, raw: bytes) -> Entry | None:
        entry = self._decoded.get(raw)
        if entry is None:
            entry = Entry.decode(raw)
            if entry is not None:
                self._decoded[raw] = entry
                if len(self._decoded) > MAX_DECODED:
                    self._decoded.pop(next(iter(self._decoded)))
        return entry

    def _admitted(self, principal: Principal, document_id: str) -> bool:
        """The channel policy's checks that need no document: the role on the channel, and a
        trusted-only channel's manifest, by id (the full path trusts the same documents)."""
        policy = policy_for(principal)
        trusted = False
        if policy is not None and policy.trusted_only:
            trusted_op = self._manifest.get(document_id)
            trusted = trusted_op is not None and (
                not trusted_op.channels or principal.channel in trusted_op.channels
            )
        return check_admission(principal, policy, trusted=trusted) is None

    async def _persisted(self, operation: Operation, stores: Stores) -> bool:
        """Do what the full path does with a persisted-query id: an id alone must resolve (the
        manifest, else the APQ store); a document with its id is registered."""
        sha = operation.document_id
        if sha in self._manifest:
            return True
        try:
            if operation.query is None:
                return await stores.documents.get(sha) is not None
            await stores.documents.put(sha, operation.query)
        except StoreUnavailable:
            return operation.query is not None
        return True

    def _answer(self, request: web.Request, entry: Entry) -> web.Response:
        response = web.Response(body=entry.body, content_type=_media(request))
        response.headers["X-Cache"] = "hit"
        if _shared_cacheable(request):
            left = self.ttl - (time.time() * 1000 - entry.stored_ms) / 1000
            _cache_headers(response, max(0, int(left)))
        return response

    async def keep(
        self,
        request: web.Request,
        pending: Pending,
        response: web.StreamResponse,
        stores: Stores,
    ) -> None:
        """Keep the full path's answer when it succeeded and its document is cacheable."""
        if not isinstance(response, web.Response) or response.status != 200:
            return
        body = response.body
        if not pending.succeeded or not isinstance(body, bytes):
            return
        operation = pending.operation
        verdict = (
            pending.verdict
            or self._verdicts.get(operation.document_id)
            or await self._judge(operation, stores)
        )
        if verdict is None or not verdict.cacheable or verdict.document is None:
            return
        response.headers["X-Cache"] = "miss"
        shape = analyze(
            self.schema,
            verdict.document,
            operation.operation_name,
            operation.variables,
            self.settings.max_page_size,
        )
        if shape is None:
            return
        entry = Entry(int(time.time() * 1000), shape.depth, shape.cost, body)
        try:
            kept = await stores.responses.put(pending.key, entry.encode(), self.ttl)
        except StoreUnavailable:
            self._errors.inc()
            return
        if kept:
            self._stores.inc()
            if _shared_cacheable(request):
                _cache_headers(response, int(self.ttl))

    async def _judge(self, operation: Operation, stores: Stores) -> Verdict | None:
        """Decide once whether a document is cacheable (None: its text is out of reach)."""
        text = operation.query
        if text is None:
            trusted = self._manifest.get(operation.document_id)
            if trusted is not None:
                text = trusted.document
            else:
                try:
                    text = await stores.documents.get(operation.document_id)
                except StoreUnavailable:
                    return None
            if text is None:
                return None
        verdict = Verdict(False, None)
        if _names_a_root(text):
            try:
                document = parse(text)
            except GraphQLError:
                document = None
            if document is not None and cacheable(self.schema, document, self.allowed):
                verdict = Verdict(True, document)
        return self._remember(operation.document_id, verdict)

    def _remember(self, document_id: str, verdict: Verdict) -> Verdict:
        self._verdicts[document_id] = verdict
        while len(self._verdicts) > MAX_VERDICTS:
            self._verdicts.popitem(last=False)
        return verdict


def _names_a_root(text: str) -> bool:
    """Whether a document's text names a cacheable root field: a document that does not is
    judged without being parsed."""
    return any(name in text for name in _ROOT_NAMES)


def _media(request: web.Request) -> str:
    if GRAPHQL_RESPONSE in request.headers.get("Accept", ""):
        return GRAPHQL_RESPONSE
    return "application/json"


def _shared_cacheable(request: web.Request) -> bool:
    """A GET without credentials: its answer may be kept by shared HTTP caches."""
    return request.method == "GET" and "Authorization" not in request.headers


def _cache_headers(response: web.Response, max_age: int) -> None:
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.headers.add("Vary", "Accept, Authorization")
