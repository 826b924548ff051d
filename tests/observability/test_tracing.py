"""OpenTelemetry tracing: a span per operation, a child span per backend call, the trace
context sent to backends -- recorded by the SDK's in-memory exporter; and, off or without the
packages, no hook, no span, no import."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from graph.observability import tracing
from graph.observability.tracing import backend_call_hook, traced
from graph.sandbox import RunningSandbox
from graph.sources import TmfClient
from tests.gateway.conftest import RunningGateway, running_gateway, settings_for

from .conftest import Post, set_fault

pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanContext, SpanKind, StatusCode

ROOT = Path(__file__).resolve().parents[2]
BILLS = "query Bills { me { name bills(first: 2) { edges { node { reference } } } } }"


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    """Tracing on, into memory, for the test's duration."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with traced(provider.get_tracer("test")):
        yield memory


@pytest.fixture
async def gateway(
    exporter: InMemorySpanExporter, sandbox: RunningSandbox
) -> AsyncIterator[RunningGateway]:
    """Created with tracing on (its clients get the hook when the app starts); no hub
    registrations (no live updates), so every backend call is the test's."""
    async with running_gateway(settings_for(sandbox, events=False)) as running:
        assert running.backend_requests() == 0
        yield running


def _ids(span: ReadableSpan) -> SpanContext:
    context = span.get_span_context()
    assert context is not None
    return context


def _operations(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]


def _calls(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.kind is SpanKind.CLIENT]


async def test_an_operation_span_parents_one_span_per_backend_call(
    post: Post, gateway: RunningGateway, exporter: InMemorySpanExporter
) -> None:
    reply = await post(BILLS, "customer:cus-000001", {"X-Correlation-ID": "corr-trace-1"})
    assert "errors" not in reply.body
    [operation] = _operations(exporter)
    assert operation.name == "query Bills"
    assert operation.parent is None
    assert operation.status.status_code is StatusCode.UNSET
    assert dict(operation.attributes or {}) == {
        "graphql.operation.name": "Bills",
        "graphql.operation.type": "query",
        "csm.channel": "web",
        "csm.outcome": "ok",
        "csm.request_id": reply.headers["X-Request-ID"],
        "csm.correlation_id": "corr-trace-1",
    }
    calls = _calls(exporter)
    assert len(calls) == gateway.backend_requests() >= 2
    context = _ids(operation)
    for call in calls:
        assert call.parent is not None
        assert call.parent.span_id == context.span_id
        assert _ids(call).trace_id == context.trace_id
        attributes = dict(call.attributes or {})
        assert call.name == f"GET {attributes['csm.api']}"
        assert attributes["http.request.method"] == "GET"
        assert attributes["http.response.status_code"] == 200
        assert attributes["server.address"] == "127.0.0.1"
        path = str(attributes["url.path"])
        assert path.startswith("/tmf-api/")
        assert "?" not in path
        assert "cus-" not in path
        assert "error.type" not in attributes
    apis = {dict(c.attributes or {})["csm.api"] for c in calls}
    assert {"TMF629", "TMF678"} <= apis
    # Query values stay out of spans: only the parameters' names.
    bills = next(c for c in calls if dict(c.attributes or {})["csm.api"] == "TMF678")
    keys = tuple(dict(bills.attributes or {})["csm.query_keys"])  # type: ignore[arg-type]
    assert {"offset", "limit"} <= set(keys)
    assert not any("cus-" in str(value) for value in (bills.attributes or {}).values())


async def test_a_failing_backend_marks_its_calls_and_the_operation(
    post: Post,
    gateway: RunningGateway,
    exporter: InMemorySpanExporter,
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
) -> None:
    await set_fault(http, sandbox, "TMF678", down="503")
    reply = await post(BILLS, "customer:cus-000001")
    assert "BACKEND_UNAVAILABLE" in {e["extensions"]["code"] for e in reply.body["errors"]}
    [operation] = _operations(exporter)
    attributes = dict(operation.attributes or {})
    assert attributes["csm.outcome"] in ("partial", "error")
    assert tuple(attributes["csm.error_codes"]) == ("BACKEND_UNAVAILABLE",)  # type: ignore[arg-type]
    assert operation.status.status_code is StatusCode.ERROR
    failed = [c for c in _calls(exporter) if dict(c.attributes or {})["csm.api"] == "TMF678"]
    assert failed  # one per attempt
    for call in failed:
        assert dict(call.attributes or {})["http.response.status_code"] == 503
        assert dict(call.attributes or {})["error.type"] == "503"
        assert call.status.status_code is StatusCode.ERROR
    ok = [c for c in _calls(exporter) if dict(c.attributes or {})["csm.api"] == "TMF629"]
    assert ok
    assert all(c.status.status_code is StatusCode.UNSET for c in ok)


async def test_a_backend_timeout_is_an_error_span(
    exporter: InMemorySpanExporter,
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    dev_idp_key: Path,
) -> None:
    from tests.gateway.conftest import auth_headers

    settings = settings_for(sandbox, backend_timeout=0.2, events=False)
    async with running_gateway(settings) as gateway:
        await set_fault(http, sandbox, "TMF678", hang=True)
        headers = {"Content-Type": "application/json"}
        headers.update(auth_headers("customer:cus-000001", dev_idp_key))
        async with http.post(
            f"{gateway.url}/graphql", json={"query": BILLS}, headers=headers
        ) as resp:
            body = await resp.json()
        await http.delete(f"{sandbox.url}/admin/faults")
    assert "BACKEND_TIMEOUT" in {e["extensions"]["code"] for e in body["errors"]}
    timed_out = [c for c in _calls(exporter) if dict(c.attributes or {})["csm.api"] == "TMF678"]
    assert timed_out
    for call in timed_out:
        assert dict(call.attributes or {})["error.type"] == "timeout"
        assert "http.response.status_code" not in dict(call.attributes or {})
        assert call.status.status_code is StatusCode.ERROR


async def test_concurrent_operations_each_parent_their_own_calls(
    post: Post, gateway: RunningGateway, exporter: InMemorySpanExporter
) -> None:
    subjects = ("cus-000001", "cus-000002", "cus-000003", "cus-000004")
    await asyncio.gather(*(post(BILLS, f"customer:{s}") for s in subjects))
    operations = _operations(exporter)
    assert len(operations) == len(subjects)
    by_span = {_ids(op).span_id: op for op in operations}
    assert len({_ids(op).trace_id for op in operations}) == len(subjects)
    calls = _calls(exporter)
    assert len(calls) == gateway.backend_requests()
    per_operation = dict.fromkeys(by_span, 0)
    for call in calls:
        assert call.parent is not None
        assert call.parent.span_id in by_span
        parent = by_span[call.parent.span_id]
        assert _ids(call).trace_id == _ids(parent).trace_id
        per_operation[call.parent.span_id] += 1
    assert len(set(per_operation.values())) == 1  # the same calls for each customer


async def test_a_clients_trace_context_is_a_link_not_a_parent(
    post: Post, gateway: RunningGateway, exporter: InMemorySpanExporter
) -> None:
    trace_id, span_id = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    await post(
        "query Name { me { name } }",
        "customer:cus-000001",
        {"traceparent": f"00-{trace_id}-{span_id}-01"},
    )
    [operation] = _operations(exporter)
    assert operation.parent is None
    assert _ids(operation).trace_id != int(trace_id, 16)
    [link] = operation.links
    assert (link.context.trace_id, link.context.span_id) == (int(trace_id, 16), int(span_id, 16))


async def test_a_refused_document_is_an_error_span_without_backend_calls(
    post: Post, gateway: RunningGateway, exporter: InMemorySpanExporter
) -> None:
    reply = await post("query Broken { me { nope } }", "customer:cus-000001")
    assert reply.body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    [operation] = _operations(exporter)
    assert operation.name == "query Broken"
    assert dict(operation.attributes or {})["csm.outcome"] == "error"
    assert operation.status.status_code is StatusCode.ERROR
    assert _calls(exporter) == []


@pytest.fixture
async def recording_backend() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    """A TMF-ish backend on a loopback port that records the headers it receives."""
    received: list[dict[str, str]] = []

    async def customer(request: web.Request) -> web.Response:
        received.append(dict(request.headers))
        return web.json_response({"id": request.match_info["id"]})

    app = web.Application()
    app.router.add_get("/tmf-api/customerManagement/v4/customer/{id}", customer)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.create_server(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/tmf-api/customerManagement/v4", received
    finally:
        await runner.cleanup()
        sock.close()


async def test_backends_receive_the_calls_trace_context(
    exporter: InMemorySpanExporter,
    recording_backend: tuple[str, list[dict[str, str]]],
    http: aiohttp.ClientSession,
) -> None:
    url, received = recording_backend
    client = TmfClient("TMF629", url, http, call_hook=backend_call_hook())
    assert await client.get("customer", "cus-000001", ["id"]) == {"id": "cus-000001"}
    [call] = exporter.get_finished_spans()
    context = _ids(call)
    [headers] = received
    flags = f"{int(context.trace_flags):02x}"
    assert headers["traceparent"] == f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags}"
    assert dict(call.attributes or {})["url.path"] == (
        "/tmf-api/customerManagement/v4/customer/cus-000001"
    )
    assert tuple(dict(call.attributes or {})["csm.query_keys"]) == ("fields",)  # type: ignore[arg-type]


async def test_off_there_is_no_hook_and_no_span(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    assert tracing.tracer() is None
    assert backend_call_hook() is None
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    async with running_gateway(settings_for(sandbox, events=False)) as gateway:
        assert all(c.call_hook is None for c in gateway.state.clients.values())
        with traced(provider.get_tracer("late")):  # on after the start: calls still untraced
            from tests.gateway.conftest import auth_headers

            headers = auth_headers("customer:cus-000001", dev_idp_key)
            async with http.post(
                f"{gateway.url}/graphql", json={"query": BILLS}, headers=headers
            ) as resp:
                assert resp.status == 200
    assert _calls(memory) == []


async def test_configured_tracing_exports_spans_over_otlp_http() -> None:
    """``configure_tracing`` as ``csm-graph serve`` calls it (in a process of its own: the
    global tracer provider is set once per process), against a collector on loopback."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    received: list[ExportTraceServiceRequest] = []

    async def traces(request: web.Request) -> web.Response:
        assert request.content_type == "application/x-protobuf"
        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.read())
        received.append(message)
        return web.Response(body=b"", content_type="application/x-protobuf")

    app = web.Application()
    app.router.add_post("/v1/traces", traces)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.create_server(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    script = textwrap.dedent(
        """
        from opentelemetry import trace
        from graph.observability.tracing import configure_tracing, tracer
        from graph.settings import Settings

        assert configure_tracing(Settings.from_env().tracing)
        active = tracer()
        assert active is not None
        active.start_span("probe").end()
        assert trace.get_tracer_provider().force_flush(10_000)
        """
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sock.getsockname()[1]}",
    }
    env.pop("CSM_OTEL", None)
    env.pop("OTEL_SERVICE_NAME", None)
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", script, env=env, stderr=asyncio.subprocess.PIPE
        )
        _, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        await runner.cleanup()
        sock.close()
    assert process.returncode == 0, err.decode()
    [request] = received
    [resource_spans] = request.resource_spans
    service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert service["service.name"] == "csm-graph"
    assert [s.name for scope in resource_spans.scope_spans for s in scope.spans] == ["probe"]


def test_without_the_packages_tracing_stays_off_and_nothing_is_imported(tmp_path: Path) -> None:
    """A process where OpenTelemetry cannot be imported: configured on, it says so and serves
    untraced; nothing tries to import it again."""
    script = textwrap.dedent(
        """
        import asyncio, logging, sys
        sys.modules["opentelemetry"] = None  # every import of it fails
        logging.basicConfig(level=logging.WARNING, format="%(name)s %(message)s")

        from graph.observability.tracing import backend_call_hook, configure_tracing
        from graph.settings import Settings

        settings = Settings.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"})
        assert settings.tracing
        assert configure_tracing(settings.tracing) is False
        assert backend_call_hook() is None

        from graph.sandbox import SandboxConfig, running_sandbox
        from tests.gateway.conftest import running_gateway, settings_for

        async def main() -> None:
            import aiohttp
            async with running_sandbox(SandboxConfig(customers=2, seed=7)) as sandbox:
                async with running_gateway(settings_for(sandbox, events=False)) as gateway:
                    async with aiohttp.ClientSession() as http:
                        async with http.post(
                            gateway.url + "/graphql", json={"query": "{ __typename }"}
                        ) as resp:
                            assert resp.status == 200, resp.status
                            assert (await resp.json())["data"] == {"__typename": "Query"}

        asyncio.run(main())
        assert not [m for m in sys.modules if m.startswith("opentelemetry.")]
        print("served untraced")
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("CSM_OTEL", None)
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "served untraced" in done.stdout
    assert "opentelemetry is not installed" in done.stderr
