"""OpenTelemetry tracing, when configured: a span per GraphQL operation and per backend call.

A slow or failing customer-360 view is one operation fanning out to a dozen backends; a trace
shows which call took the time or failed, under the operation that made it. Tracing is on with
``CSM_OTEL=1`` or when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``…_TRACES_ENDPOINT``) is set, and
off with ``CSM_OTEL=0`` (see :class:`graph.settings.Settings`); the standard ``OTEL_*``
variables choose the exporter's endpoint, headers, sampler and service name. The packages are
an optional extra (``pip install 'csm-graph[otel]'``). Off, or without them, nothing of
OpenTelemetry is imported, backend calls get no hook (:func:`backend_call_hook` is ``None``)
and an operation costs one ``None`` check.

Spans:

- operation (``query Customer360``, kind SERVER): ``graphql.operation.name`` / ``.type``,
  ``csm.channel``, ``csm.outcome`` (ok, partial, error, cancelled), ``csm.error_codes``,
  ``csm.request_id``, ``csm.correlation_id``; status ERROR unless ok. The endpoint is public:
  a client's ``traceparent`` does not make the operation its child (any caller could pick
  trace ids and force sampling); it is recorded as a span link.
- backend call (``GET TMF629``, kind CLIENT), child of the operation that made it:
  ``csm.api``, ``http.request.method``, ``url.path`` (no query: only its parameter names, as
  ``csm.query_keys``), ``server.address`` / ``.port``, ``http.response.status_code``,
  ``error.type`` (the status of a 4xx/5xx, ``timeout``, ``error``); status ERROR for 5xx,
  timeouts and connection failures. The request carries ``traceparent``.

:class:`OperationTelemetry`, the schema extension that makes operation spans, also names the
operation for the logs (:func:`.logging.set_operation`) and logs one line per operation
(logger ``graph.access``), traced or not.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from strawberry.extensions import SchemaExtension

from graph.sources.identity import current_identity

from .logging import OperationInfo, current_request, reset_operation, set_operation

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

__all__ = [
    "CallHook",
    "OperationTelemetry",
    "backend_call_hook",
    "configure_tracing",
    "install_tracer",
    "traced",
    "tracer",
]

log = logging.getLogger(__name__)
access_log = logging.getLogger("graph.access")

# (api, method, URL without query, query parameters, headers to send) -> the function to call
# with the outcome (an HTTP status, "timeout" or "error") when the call ends. It may add
# headers (trace context). graph.sources.client calls it around each backend request.
CallHook = Callable[
    [str, str, str, Mapping[str, str] | None, dict[str, str]], Callable[[str], None]
]


class _Tracing:
    """A tracer and the OpenTelemetry pieces the hot paths use, imported once."""

    def __init__(self, tracer: Tracer) -> None:
        from opentelemetry import trace
        from opentelemetry.trace import Link, SpanKind, Status, StatusCode
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.tracer = tracer
        self.trace = trace
        self.Link = Link
        self.SpanKind = SpanKind
        self.Status = Status
        self.ERROR = StatusCode.ERROR
        self.propagator = TraceContextTextMapPropagator()


_active: _Tracing | None = None
_SPAN: Final[ContextVar[Span | None]] = ContextVar("csm_operation_span", default=None)


def install_tracer(new: Tracer | None) -> None:
    """Trace with ``new`` from now on (``None``: stop tracing). Apps created afterwards give
    their backend clients the hook (:func:`backend_call_hook`)."""
    global _active
    _active = _Tracing(new) if new is not None else None


def tracer() -> Tracer | None:
    return _active.tracer if _active is not None else None


@contextmanager
def traced(new: Tracer) -> Iterator[None]:
    """Trace with ``new`` within the block (tests: an SDK tracer with an in-memory exporter)."""
    global _active
    previous = _active
    install_tracer(new)
    try:
        yield
    finally:
        _active = previous


def configure_tracing(enabled: bool, service_name: str = "csm-graph") -> bool:
    """Export spans over OTLP (the standard ``OTEL_*`` variables configure the exporter) when
    ``enabled`` and OpenTelemetry is installed; True when tracing is on."""
    if not enabled:
        install_tracer(None)
        return False
    try:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        log.warning(
            "tracing is configured but %s is not installed (pip install 'csm-graph[otel]'): "
            "tracing is off",
            exc.name or "OpenTelemetry",
        )
        install_tracer(None)
        return False
    named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    provider = TracerProvider(
        resource=Resource.create({} if named else {"service.name": service_name})
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    install_tracer(provider.get_tracer("csm-graph"))
    endpoint = urlsplit(
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or "http://localhost:4318"
    )
    # The host only: an endpoint URL may carry credentials.
    log.info("tracing: spans exported over OTLP/HTTP to %s", endpoint.hostname)
    return True


def backend_call_hook() -> CallHook | None:
    """The hook that makes a span per backend call, or None when tracing is off."""
    active = _active
    if active is None:
        return None
    kind, trace, propagator = active.SpanKind.CLIENT, active.trace, active.propagator

    def start(
        api: str,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        headers: dict[str, str],
    ) -> Callable[[str], None]:
        parts = urlsplit(url)
        attributes: dict[str, Any] = {
            "csm.api": api,
            "http.request.method": method,
            "url.path": parts.path,
            "server.address": parts.hostname or "",
        }
        if parts.port is not None:
            attributes["server.port"] = parts.port
        if params:
            attributes["csm.query_keys"] = sorted(params)
        parent = _SPAN.get()
        span = active.tracer.start_span(
            f"{method} {api}",
            context=trace.set_span_in_context(parent) if parent is not None else None,
            kind=kind,
            attributes=attributes,
        )
        propagator.inject(headers, context=trace.set_span_in_context(span))

        def finish(outcome: str) -> None:
            failed = not outcome.isdigit()
            if not failed:
                status = int(outcome)
                span.set_attribute("http.response.status_code", status)
                failed = status >= 500
                if status >= 400:
                    span.set_attribute("error.type", outcome)
            else:
                span.set_attribute("error.type", outcome)
            if failed:
                span.set_status(active.Status(active.ERROR, outcome))
            span.end()

        return finish

    return start


def _operation_type(execution_context: Any) -> str | None:
    if execution_context.graphql_document is None:
        return None
    try:
        return str(execution_context.operation_type.value)
    except Exception:  # an unknown operation name: strawberry refuses the request
        return None


def _outcome(result: Any, failure: BaseException | None) -> tuple[str, list[str]]:
    if isinstance(failure, asyncio.CancelledError | GeneratorExit):
        return "cancelled", []
    if failure is not None:
        return "error", ["INTERNAL"]
    errors = getattr(result, "errors", None) or []
    codes = [str((e.extensions or {}).get("code", "INTERNAL")) for e in errors]
    if not errors:
        return "ok", codes
    return ("partial" if getattr(result, "data", None) else "error"), codes


class OperationTelemetry(SchemaExtension):
    """Name the operation for the logs, log it when it ends, and trace it when tracing is on.
    Listed first among the schema's extensions, so that it sees errors with their codes."""

    _info: OperationInfo | None = None

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        execution_context = self.execution_context
        info = OperationInfo(execution_context.operation_name)  # as the request names it
        self._info = info
        token = set_operation(info)
        active = _active
        span = self._start_span(active) if active is not None else None
        span_token = _SPAN.set(span) if span is not None else None
        failure: BaseException | None = None
        try:
            yield
        except BaseException as exc:
            failure = exc
            raise
        finally:
            self._describe()
            outcome, codes = _outcome(execution_context.result, failure)
            principal = getattr(execution_context.context, "principal", None)
            channel = getattr(principal, "channel", None)
            elapsed_ms = (time.perf_counter() - started) * 1000
            access_log.info(
                "%s %s: %s in %.1f ms",
                info.type or "operation",
                info.name or "(anonymous)",
                outcome,
                elapsed_ms,
                extra={"outcome": outcome, "duration_ms": round(elapsed_ms, 3),
                       "error_codes": codes},
            )  # fmt: skip
            if span is not None and active is not None:
                self._end_span(active, span, outcome, codes, channel)
            if span_token is not None:
                try:
                    _SPAN.reset(span_token)
                except ValueError:  # a stream closed from another task
                    _SPAN.set(None)
            reset_operation(token)

    def on_execute(self) -> Iterator[None]:
        self._describe()
        yield

    def _describe(self) -> None:
        """Complete the operation's name and type once the document is parsed."""
        info = self._info
        if info is None or info.type is not None:
            return
        execution_context = self.execution_context
        info.type = _operation_type(execution_context)
        if info.type is not None and info.name is None:
            info.name = execution_context.operation_name

    def _start_span(self, active: _Tracing) -> Span:
        attributes: dict[str, Any] = {}
        request = current_request()
        if request is not None:
            attributes["csm.request_id"] = request.request_id
        identity = current_identity()
        correlation = identity.correlation_id if identity is not None else None
        if correlation is None and request is not None:
            correlation = request.correlation_id
        if correlation is not None:
            attributes["csm.correlation_id"] = correlation
        links = []
        headers = getattr(getattr(self.execution_context.context, "request", None), "headers", None)
        if headers is not None and "traceparent" in headers:
            remote = active.trace.get_current_span(active.propagator.extract(headers))
            if remote.get_span_context().is_valid:
                links.append(active.Link(remote.get_span_context(), {"csm.link": "client"}))
        return active.tracer.start_span(
            "GraphQL operation", kind=active.SpanKind.SERVER, attributes=attributes, links=links
        )

    def _end_span(
        self, active: _Tracing, span: Span, outcome: str, codes: list[str], channel: str | None
    ) -> None:
        info = self._info or OperationInfo(None)
        if info.type is not None:
            span.update_name(f"{info.type} {info.name}" if info.name else info.type)
            span.set_attribute("graphql.operation.type", info.type)
        if info.name is not None:
            span.set_attribute("graphql.operation.name", info.name)
        if channel is not None:
            span.set_attribute("csm.channel", channel)
        span.set_attribute("csm.outcome", outcome)
        if codes:
            span.set_attribute("csm.error_codes", sorted(set(codes)))
        if outcome != "ok":
            span.set_status(active.Status(active.ERROR, outcome))
        span.end()
