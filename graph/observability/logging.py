"""Structured logs that say which request, operation and caller each line belongs to.

A replica serves many operations at once, from many tasks (resolvers, loaders' batch tasks,
``asyncio.gather`` fan-outs); a log line helps only if it names its request. So the ids live in
context variables, which every task copies from the one that started it: the server binds a
request id and the correlation id per HTTP request (:func:`request_context`, an aiohttp
middleware), the schema extension the operation (:func:`set_operation`), the server the caller
(:data:`graph.sources.identity.CALLER`). :class:`ContextFilter`, on the handler, copies them
into every record, whatever logger emits it.

Formats (``CSM_LOG_FORMAT``): ``json`` -- one object per line (see docs/operations.md for the
fields) -- or ``text``; ``auto`` (the default) is text on a terminal, JSON otherwise.
``CSM_LOG_LEVEL`` sets the level (``INFO``). Secrets never reach the output: :func:`scrub`
removes bearer tokens, JWTs and ``key=value`` credentials from messages, exception text and
extra fields alike.
"""

from __future__ import annotations

import datetime
import logging
import re
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any, Final, TextIO

import orjson
from aiohttp import web

from graph.sources.identity import REQUEST_ID, correlation_id_from, current_identity

__all__ = [
    "LOG_FORMATS",
    "ContextFilter",
    "JsonFormatter",
    "LogConfigError",
    "OperationInfo",
    "RequestIds",
    "TextFormatter",
    "bound_request",
    "configure_logging",
    "current_operation",
    "current_request",
    "log_format_from",
    "log_level_from",
    "new_request_id",
    "request_context",
    "request_correlation_id",
    "reset_operation",
    "scrub",
    "set_operation",
]

LOG_FORMATS: Final = ("auto", "json", "text")
_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class LogConfigError(ValueError):
    """``CSM_LOG_FORMAT`` or ``CSM_LOG_LEVEL`` is not one of the known values."""


@dataclass(frozen=True, slots=True)
class RequestIds:
    """One HTTP request: the gateway's own id for it, and the correlation id it runs under."""

    request_id: str
    correlation_id: str


@dataclass(slots=True)
class OperationInfo:
    """The GraphQL operation being served; the type is known once the document is parsed."""

    name: str | None
    type: str | None = None


_REQUEST: Final[ContextVar[RequestIds | None]] = ContextVar("csm_request", default=None)
_OPERATION: Final[ContextVar[OperationInfo | None]] = ContextVar("csm_operation", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def current_request() -> RequestIds | None:
    return _REQUEST.get()


def current_operation() -> OperationInfo | None:
    return _OPERATION.get()


def request_correlation_id(headers: Mapping[str, str]) -> str:
    """The correlation id of the request being served (bound by :func:`request_context`), or
    the one ``headers`` give (a new one when they give none)."""
    bound = _REQUEST.get()
    return bound.correlation_id if bound is not None else correlation_id_from(headers)


@contextmanager
def bound_request(ids: RequestIds) -> Iterator[RequestIds]:
    """Serve the block (and every task it starts) as the request ``ids`` names."""
    token = _REQUEST.set(ids)
    try:
        yield ids
    finally:
        _REQUEST.reset(token)


def set_operation(info: OperationInfo) -> Token[OperationInfo | None]:
    return _OPERATION.set(info)


def reset_operation(token: Token[OperationInfo | None]) -> None:
    """Undo :func:`set_operation`; harmless where the context is not the one it was set in
    (a stream closed from another task)."""
    try:
        _OPERATION.reset(token)
    except ValueError:
        _OPERATION.set(None)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bind a new request id and the request's correlation id while the request is served;
    answer with the request id in ``X-Request-ID``."""
    ids = RequestIds(new_request_id(), correlation_id_from(request.headers))
    try:
        with bound_request(ids):
            response = await handler(request)
    except web.HTTPException as exc:  # 413, 404, 405... raised by aiohttp or a handler
        exc.headers[REQUEST_ID] = ids.request_id
        raise
    if not response.prepared:
        response.headers[REQUEST_ID] = ids.request_id
    return response


# Secrets: credentials written as key=value or "key": "value" (headers, query strings, JSON,
# reprs), a bearer or basic credential, a JWT anywhere, the event listener's secret URL.
_KEYED: Final = re.compile(
    r"(?i)\b([\w-]*(?:token|secret|password|passwd|api[_-]?key)|authorization|cookie)"
    r"(['\"]?\s*[:=]\s*['\"]?)(?:(?:bearer|basic|digest)\s+)?[^\s'\"&,;)}\]]+"
)
_SCHEME: Final = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{12,}")
_JWT: Final = re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_EVENT_URL: Final = re.compile(r"(/events/)[A-Za-z0-9_-]{16,}")


def scrub(text: str) -> str:
    """``text`` without credentials (each replaced by ``[redacted]``)."""
    if not text:
        return text
    text = _KEYED.sub(r"\1\2[redacted]", text)
    text = _SCHEME.sub(r"\1 [redacted]", text)
    text = _JWT.sub("[redacted]", text)
    return _EVENT_URL.sub(r"\1[redacted]", text)


# What ContextFilter adds to records, in output order.
_CONTEXT_FIELDS: Final = (
    "request_id",
    "correlation_id",
    "operation",
    "operation_type",
    "subject",
    "role",
    "channel",
)
_STANDARD: Final = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "taskName", *_CONTEXT_FIELDS}
)


class ContextFilter(logging.Filter):
    """Copy the request, operation and caller being served into each record (as attributes;
    ``None`` where unknown). Attach it to handlers: a logger's filters miss its children."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids = _REQUEST.get()
        identity = current_identity()
        operation = _OPERATION.get()
        correlation = identity.correlation_id if identity is not None else None
        if correlation is None and ids is not None:
            correlation = ids.correlation_id
        values = {
            "request_id": ids.request_id if ids is not None else None,
            "correlation_id": correlation,
            "operation": operation.name if operation is not None else None,
            "operation_type": operation.type if operation is not None else None,
            "subject": identity.subject if identity is not None else None,
            "role": identity.role if identity is not None else None,
            "channel": identity.channel if identity is not None else None,
        }
        for name, value in values.items():
            if getattr(record, name, None) is None:
                setattr(record, name, value)
        return True


def _plain(value: Any) -> Any:
    """An extra field's value as JSON can carry it, scrubbed."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return scrub(str(value))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (UTC, ISO 8601), ``level``, ``logger``,
    ``message``, the context fields that are known, extra fields, ``exception`` (type and
    traceback) -- everything scrubbed of credentials."""

    def format(self, record: logging.LogRecord) -> str:
        created = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
        entry: dict[str, Any] = {
            "time": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        for name in _CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        for name, value in record.__dict__.items():
            if name not in _STANDARD and not name.startswith("_"):
                entry[name] = _plain(value)
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception_type"] = record.exc_info[0].__name__
            entry["exception"] = scrub(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = scrub(record.exc_text)
        if record.stack_info:
            entry["stack"] = scrub(self.formatStack(record.stack_info))
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """``time LEVEL logger [request=… correlation=… operation=… subject=…] message``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(csm_context)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        parts = []
        for label, name in (
            ("request", "request_id"),
            ("correlation", "correlation_id"),
            ("operation", "operation"),
            ("subject", "subject"),
            ("channel", "channel"),
        ):
            value = getattr(record, name, None)
            if value is not None:
                parts.append(f"{label}={value}")
        record.__dict__["csm_context"] = f" [{' '.join(parts)}]" if parts else ""
        try:
            return scrub(super().format(record))
        finally:
            del record.__dict__["csm_context"]


def log_format_from(value: str | None) -> str:
    """``CSM_LOG_FORMAT``: ``auto`` (unset), ``json`` or ``text``."""
    chosen = (value or "auto").strip().lower()
    if chosen not in LOG_FORMATS:
        raise LogConfigError(f"CSM_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")
    return chosen


def log_level_from(value: str | None) -> str:
    """``CSM_LOG_LEVEL``: a level name (``INFO`` when unset)."""
    chosen = (value or "INFO").strip().upper()
    if chosen not in _LEVELS:
        raise LogConfigError(f"CSM_LOG_LEVEL must be one of {', '.join(_LEVELS)}")
    return chosen


def configure_logging(
    log_format: str = "auto",
    level: str = "INFO",
    stream: TextIO | None = None,
    *,
    force: bool = False,
) -> logging.Handler | None:
    """Send the root logger's records to ``stream`` (stderr) in ``log_format``, with the
    request context. Like ``logging.basicConfig``, does nothing where the root logger already
    has handlers (an embedding program's, a test runner's) unless ``force``; returns the
    handler installed, if any."""
    root = logging.getLogger()
    if root.handlers and not force:
        return None
    target = stream if stream is not None else sys.stderr
    chosen = log_format_from(log_format)
    if chosen == "auto":
        chosen = "text" if target.isatty() else "json"
    handler = logging.StreamHandler(target)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(log_level_from(level))
    return handler
