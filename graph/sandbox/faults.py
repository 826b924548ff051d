"""Fault injection and request counting, per API, settable at start and at run time.

Tests and benchmarks need backends that are slow, flaky, hanging or down, one API at a time,
and need to count what the gateway asked of each. The middleware here does both for every
request under an API's base path; ``/admin/faults`` and ``/admin/stats`` drive it (see
docs/sandbox.md). "down" either answers 503 or drops the connection without an answer, the
nearest a shared port gets to a refused connection.

It also keeps, per API, the selected headers of the last ``RECENT_REQUESTS`` requests
(:data:`RECORDED_HEADERS`; ``GET /admin/requests``), so that tests can see what a gateway sent.
Credentials are never stored: ``Authorization`` and ``X-End-User-Token`` are kept only as a
:func:`fingerprint`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Final

from aiohttp import web
from aiohttp.typedefs import Middleware

from .errors import TmfError, error_response
from .registry import APIS

__all__ = ["RECORDED_HEADERS", "Fault", "FaultBoard", "fault_middleware", "fingerprint"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

DOWN_MODES: Final = (None, "503", "reset")
HTTP_METHODS: Final = frozenset({"GET", "POST", "PATCH", "PUT", "DELETE"})
MAX_HANG_SECONDS: Final = 600.0
RECENT_REQUESTS: Final = 200  # per API
RECORDED_HEADERS: Final = (
    "Authorization",
    "X-Correlation-ID",
    "X-End-User-Subject",
    "X-End-User-Role",
    "X-End-User-Customer",
    "X-End-User-Channel",
    "X-End-User-Assurance",
    "X-End-User-Token",
)
_SECRET_HEADERS: Final = frozenset({"Authorization", "X-End-User-Token"})
_MAX_RECORDED_VALUE: Final = 256


def fingerprint(value: str) -> str:
    """A credential as recorded: its scheme, then a short hash and the length of the rest
    (``Bearer sha256:1f2e3d4c5b6a len=43``), never the credential itself."""
    scheme, sep, rest = value.partition(" ")
    if not sep:
        scheme, rest = "", value
    digest = hashlib.sha256(rest.encode()).hexdigest()[:12]
    return f"{scheme + ' ' if scheme else ''}sha256:{digest} len={len(rest)}"


@dataclass(frozen=True, slots=True)
class Fault:
    """What one API suffers. Latency applies first, then the first fault that fires."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    # The request is carried out, and only its answer is late: a write that lands although
    # the client gave up waiting.
    answer_latency_ms: float = 0.0
    methods: tuple[str, ...] = ()  # only requests of these HTTP methods suffer it; () = all
    error_rate: float = 0.0  # share of requests answered with error_status
    error_status: int = 500
    hang: bool = False  # hold requests without an answer until the faults change
    down: str | None = None  # None, "503" or "reset"

    @classmethod
    def from_json(cls, data: Any, base: Fault | None = None) -> Fault:
        if not isinstance(data, dict):
            raise TmfError(400, "Invalid fault", "a JSON object is expected")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise TmfError(400, "Invalid fault", f"unknown setting {unknown[0]!r}")
        if isinstance(data.get("methods"), list):
            data = {**data, "methods": tuple(str(m).upper() for m in data["methods"])}
        fault = replace(base or cls(), **data)
        fault.validate()
        return fault

    def validate(self) -> None:
        numbers = (self.latency_ms, self.jitter_ms, self.error_rate, self.answer_latency_ms)
        if any(isinstance(n, bool) or not isinstance(n, int | float) or n < 0 for n in numbers):
            raise TmfError(400, "Invalid fault", "latency, jitter and error rate must be >= 0")
        if self.error_rate > 1:
            raise TmfError(400, "Invalid fault", "error_rate is a share between 0 and 1")
        if self.error_status not in (500, 502, 503, 504):
            raise TmfError(400, "Invalid fault", "error_status must be 500, 502, 503 or 504")
        if not isinstance(self.methods, tuple) or not set(self.methods) <= HTTP_METHODS:
            raise TmfError(400, "Invalid fault", f"methods are some of {sorted(HTTP_METHODS)}")
        if not isinstance(self.hang, bool) or self.down not in DOWN_MODES:
            raise TmfError(
                400, "Invalid fault", "hang is a boolean; down is null, '503' or 'reset'"
            )


class FaultBoard:
    """Current faults and request counts, keyed by API (``TMF629``...)."""

    def __init__(self, faults: Mapping[str, Fault] | None = None, seed: int = 0) -> None:
        self._prefixes = {api.base_path: api.key for api in APIS}
        self.faults: dict[str, Fault] = {}
        self.requests: Counter[str] = Counter()
        self.by_method: Counter[tuple[str, str]] = Counter()
        self._random = random.Random(seed)
        self._changed = asyncio.Event()
        self.recent: dict[str, deque[dict[str, Any]]] = {}
        for key, fault in (faults or {}).items():
            self.set(key, fault)

    def record(self, api: str, request: web.Request) -> None:
        """Keep the selected headers of one request (credentials as fingerprints only)."""
        headers: dict[str, str] = {}
        for name in RECORDED_HEADERS:
            value = request.headers.get(name)
            if value is not None:
                value = fingerprint(value) if name in _SECRET_HEADERS else value
                headers[name] = value[:_MAX_RECORDED_VALUE]
        entry = {"method": request.method, "path": request.path, "headers": headers}
        self.recent.setdefault(api, deque(maxlen=RECENT_REQUESTS)).append(entry)

    def recent_requests(self, api: str | None = None) -> dict[str, list[dict[str, Any]]]:
        return {
            key: list(entries)
            for key, entries in sorted(self.recent.items())
            if api is None or key == api
        }

    def api_of(self, path: str) -> str | None:
        parts = path.split("/", 4)  # "", "tmf-api", name, "v4", rest
        return self._prefixes.get("/".join(parts[:4])) if len(parts) >= 4 else None

    def set(self, key: str, fault: Fault) -> None:
        keys = list(self._prefixes.values()) if key == "*" else [key]
        for api in keys:
            if api not in self._prefixes.values():
                raise TmfError(404, "Unknown API", f"no API {api!r} in the sandbox")
            self.faults[api] = fault
        self._wake_hangers()

    def clear(self) -> None:
        self.faults.clear()
        self._wake_hangers()

    def _wake_hangers(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def fault_for(self, api: str, method: str) -> Fault | None:
        """The API's fault, if requests of ``method`` suffer it."""
        fault = self.faults.get(api)
        if fault is None or (fault.methods and method not in fault.methods):
            return None
        return fault

    def snapshot(self) -> dict[str, Any]:
        return {key: asdict(fault) for key, fault in sorted(self.faults.items())}

    def stats(self) -> dict[str, Any]:
        methods: dict[str, dict[str, int]] = {}
        for (api, method), count in self.by_method.items():
            methods.setdefault(api, {})[method] = count
        return {
            api: {"requests": count, "byMethod": methods.get(api, {})}
            for api, count in sorted(self.requests.items())
        }

    def reset_stats(self) -> None:
        self.requests.clear()
        self.by_method.clear()

    async def apply(self, api: str, request: web.Request) -> web.StreamResponse | None:
        """Suffer the API's fault; return a response to send instead of the real one."""
        fault = self.fault_for(api, request.method)
        if fault is None:
            return None
        delay = fault.latency_ms + self._random.uniform(0, fault.jitter_ms)
        if delay > 0:
            await asyncio.sleep(delay / 1000)
        if fault.down == "reset":
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError  # nothing more to send on an aborted connection
        if fault.down == "503":
            return error_response(503, "Service unavailable", f"{api} is down", "SANDBOX_DOWN")
        if fault.hang:
            # Hold the request until the faults change (or a bound passes), then serve it
            # normally: the backend "came back".
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), MAX_HANG_SECONDS)
            return None
        if fault.error_rate and self._random.random() < fault.error_rate:
            return error_response(
                fault.error_status, "Injected failure", f"{api} failed", "SANDBOX_FAULT"
            )
        return None


def fault_middleware(board: FaultBoard) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        api = board.api_of(request.path)
        if api is None:
            return await handler(request)
        board.requests[api] += 1
        board.by_method[(api, request.method)] += 1
        board.record(api, request)
        injected = await board.apply(api, request)
        if injected is not None:
            return injected
        response = await handler(request)
        fault = board.fault_for(api, request.method)
        if fault is not None and fault.answer_latency_ms:
            await asyncio.sleep(fault.answer_latency_ms / 1000)
        return response

    return middleware
