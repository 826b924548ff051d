"""Agents' access to customers' data is recorded as TMF683 party interactions: one per customer
per request, written in the background, never lost silently (see graph/auth/audit.py).

Gateway tests run a real gateway on a real sandbox, with the app's audit writer swapped for one
with short timings before the app starts; writer tests drive :class:`AuditWriter` directly
through its sink interface."""

from __future__ import annotations

import asyncio
import datetime
import logging
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from graph.auth import Principal, Role
from graph.auth.audit import (
    MAX_IDS_PER_ITEM,
    REASON,
    AccessLog,
    AuditWriter,
    CustomerAccess,
    access_log_for,
    interaction_body,
)
from graph.auth.scope import ObservedSource, sources_for
from graph.sandbox import RunningSandbox
from graph.schema.common import encode_global_id
from graph.server import GATEWAY, create_app
from graph.sources import BackendRejected, BackendUnavailable
from tests.gateway.conftest import GQL, RunningGateway, auth_headers, settings_for
from tests.support.tmf_client import call, url_of
from tests.support.tmf_specs import require_specs, validate

CUSTOMER = "cus-000003"
AGENT = "agent:a1"
TMF683_SPEC = "TMF683_PartyInteraction_v4.0.0.swagger.json"

CUSTOMER_360 = """query($id: ID!) { customer(id: $id) {
  reference name
  billingAccounts { reference }
  bills(first: 3) { edges { node { reference lines { name } } } }
} }"""


def fast_writer(spill: Path, **overrides: Any) -> AuditWriter:
    settings: dict[str, Any] = {
        "flush_interval": 0.02,
        "backoff": 0.05,
        "max_backoff": 0.1,
        "max_attempts": 40,
        "shutdown_timeout": 0.5,
    }
    return AuditWriter(spill, **{**settings, **overrides})


@asynccontextmanager
async def audited_gateway(
    sandbox: RunningSandbox, writer: AuditWriter
) -> AsyncIterator[RunningGateway]:
    """A gateway on the sandbox whose audit writer is ``writer`` (set before the app starts,
    reporting to the app's metrics like the writer it replaces)."""
    sock = socket.create_server(("127.0.0.1", 0))
    app = create_app(settings_for(sandbox))
    writer.observer = app[GATEWAY].audit.observer
    app[GATEWAY].audit = writer
    runner = web.AppRunner(app, access_log=None)
    try:
        await runner.setup()
        await web.SockSite(runner, sock).start()
        yield RunningGateway(url=f"http://127.0.0.1:{sock.getsockname()[1]}", app=app)
    finally:
        await runner.cleanup()
        sock.close()


@pytest.fixture
def spill(tmp_path: Path) -> Path:
    return tmp_path / "audit-spill.jsonl"


@pytest.fixture
def writer(spill: Path) -> AuditWriter:
    return fast_writer(spill)


@pytest.fixture
async def gateway(sandbox: RunningSandbox, writer: AuditWriter) -> AsyncIterator[RunningGateway]:
    """Overrides the shared fixture (and so the ``gql`` one): the gateway with ``writer``."""
    async with audited_gateway(sandbox, writer) as running:
        yield running


async def settled(writer: AuditWriter, written: int, within: float = 5.0) -> None:
    """Wait (bounded) until ``written`` records are written and nothing is pending."""
    deadline = time.monotonic() + within
    while writer.pending or writer.counts["written"] < written:
        assert time.monotonic() < deadline, f"audit writer not settled: {writer.counts}"
        await asyncio.sleep(0.01)


async def audit_records(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, customer: str
) -> list[dict[str, Any]]:
    """The customer's interactions in TMF683 that record an agent's access."""
    reply = await call(
        http, "GET", url_of(sandbox.url, "partyInteraction"), params={"relatedParty.id": customer}
    )
    assert reply.status in (200, 206), reply.body
    return [r for r in reply.body if r.get("reason") == REASON]


def viewed(interaction: dict[str, Any]) -> dict[str, str]:
    """Resource kind -> the listed ids, from an interaction's items."""
    return {i["item"]["name"]: i["note"][0]["text"] for i in interaction["interactionItem"]}


async def set_fault(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, fault: dict[str, Any]
) -> None:
    reply = await call(http, "PUT", f"{sandbox.url}/admin/faults/TMF683", json=fault)
    assert reply.status == 200, reply.body


# -- through the gateway ----------------------------------------------------------------------


async def test_an_agents_customer_view_is_one_interaction_with_agent_channel_and_what_was_seen(
    gql: GQL, writer: AuditWriter, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    assert await audit_records(http, sandbox, CUSTOMER) == []
    result = await gql(CUSTOMER_360, {"id": CUSTOMER}, principal=AGENT)
    assert "errors" not in result, result
    assert writer.counts["queued"] == 1  # queued before the answer was sent
    await settled(writer, 1)

    [interaction] = await audit_records(http, sandbox, CUSTOMER)
    parties = {p["role"]: p for p in interaction["relatedParty"]}
    assert parties["customer"]["id"] == CUSTOMER
    assert parties["customer"]["@referredType"] == "Customer"
    assert parties["customer"]["name"] == result["data"]["customer"]["name"]
    assert parties["agent"]["id"] == "a1"
    assert [c["id"] for c in interaction["channel"]] == ["agent-desktop"]
    assert (interaction["direction"], interaction["status"]) == ("inbound", "completed")
    start = interaction["interactionDate"]["startDateTime"]
    assert start <= interaction["interactionDate"]["endDateTime"]
    seen = viewed(interaction)
    assert set(seen) == {"customer", "billingAccount", "customerBill", "appliedCustomerBillingRate"}
    assert seen["customer"] == CUSTOMER
    for edge in result["data"]["customer"]["bills"]["edges"]:
        assert edge["node"]["reference"] in seen["customerBill"]
    for account in result["data"]["customer"]["billingAccounts"]:
        assert account["reference"] in seen["billingAccount"]
    assert writer.counts["spilled"] == 0


async def test_audit_outcomes_are_counted_in_the_metrics(
    gql: GQL, writer: AuditWriter, gateway: RunningGateway, http: aiohttp.ClientSession
) -> None:
    await gql(CUSTOMER_360, {"id": CUSTOMER}, principal=AGENT)
    await settled(writer, 1)
    async with http.get(f"{gateway.url}/metrics") as resp:
        text = await resp.text()
    assert 'csm_audit_records_total{outcome="queued"} 1.0' in text
    assert 'csm_audit_records_total{outcome="written"} 1.0' in text


async def test_a_customer_search_records_each_customer_found(
    gql: GQL, writer: AuditWriter, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    query = """query { customers(search: "Weber", first: 10) {
      edges { node { reference person { familyName } } } } }"""
    result = await gql(query, principal="agent:a2@agent-desktop")
    assert "errors" not in result, result
    found = [e["node"]["reference"] for e in result["data"]["customers"]["edges"]]
    assert len(found) == 3
    await settled(writer, 3)
    assert writer.counts["queued"] == 3
    for customer in found:
        [interaction] = await audit_records(http, sandbox, customer)
        assert {p["id"] for p in interaction["relatedParty"]} == {customer, "a2"}
        assert [c["id"] for c in interaction["channel"]] == ["agent-desktop"]
        assert set(viewed(interaction)) == {"customer", "individual"}


async def test_listing_customers_records_the_page_shown_not_every_customer(
    gql: GQL, writer: AuditWriter
) -> None:
    """The list is paged at the CRM, so an agent's first page of 4 is 4 records, not all 20."""
    result = await gql(
        "{ customers(first: 4) { totalCount edges { node { name } } } }", principal="agent:a1"
    )
    assert "errors" not in result, result
    assert result["data"]["customers"]["totalCount"] == 20
    await settled(writer, 4)
    assert writer.counts["queued"] == 4


@pytest.mark.parametrize(
    ("principal", "query"),
    [
        ("customer:" + CUSTOMER, "{ me { name billingAccounts { reference } } }"),
        ("analyst:x", '{ customer(id: "cus-000003") { name billingAccounts { reference } } }'),
    ],
)
async def test_customers_and_analysts_are_not_recorded(
    gql: GQL,
    writer: AuditWriter,
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    principal: str,
    query: str,
) -> None:
    result = await gql(query, principal=principal)
    assert "errors" not in result, result
    assert writer.counts["queued"] == 0  # recording is decided before the answer is sent
    assert await audit_records(http, sandbox, CUSTOMER) == []


@pytest.mark.parametrize("role", [Role.AGENT, Role.ANALYST, Role.CUSTOMER, Role.ANONYMOUS])
def test_only_agents_reads_are_observed(gateway: RunningGateway, role: Role) -> None:
    principal = Principal(
        subject="x", role=role, customer_id="cus-1" if role is Role.CUSTOMER else None
    )
    access = access_log_for(principal)
    assert (access is not None) is (role is Role.AGENT)
    sources, _ = sources_for(principal, gateway.state.sources, AccessLog(principal))
    assert isinstance(sources.bill, ObservedSource) is (role is Role.AGENT)
    assert not isinstance(sources.offering, ObservedSource)  # the catalogue is no one's data


async def test_records_naming_no_customer_are_traced_to_their_owner_after_the_request(
    gql: GQL, writer: AuditWriter, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    """A payment or a person read on its own names no customer; the writer looks the owner
    up at the backends after the request and records the access all the same."""
    alone = """query($p: ID!, $i: ID!) {
      p: node(id: $p) { ... on Payment { reference } }
      i: node(id: $i) { ... on Person { fullName } } }"""
    ids = {
        "p": encode_global_id("Payment", "pay-000003-1-01"),
        "i": encode_global_id("Person", "ind-000003"),
    }
    result = await gql(alone, ids, principal=AGENT)
    assert result["data"]["p"] == {"reference": "pay-000003-1-01"}
    await settled(writer, 1)
    [interaction] = await audit_records(http, sandbox, "cus-000003")
    assert set(viewed(interaction)) == {"payment", "individual"}


async def test_a_record_with_no_owner_anywhere_is_logged_and_counted(
    gql: GQL,
    writer: AuditWriter,
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    problem = await call(http, "POST", url_of(sandbox.url, "serviceProblem"), json={
        "category": "network", "priority": 2, "description": "core router", "reason": "outage",
        "originatorParty": {"id": "noc", "@referredType": "Organization", "name": "NOC"},
    })  # fmt: skip
    caplog.set_level(logging.ERROR, logger="graph.auth.audit")
    query = "query($id: ID!) { node(id: $id) { ... on ServiceProblem { reference } } }"
    await gql(
        query, {"id": encode_global_id("ServiceProblem", problem.body["id"])}, principal=AGENT
    )
    await writer.owner_lookups(5)
    assert writer.counts["unattributed"] == 1
    assert problem.body["id"] in caplog.text
    assert writer.counts["queued"] == 0


async def test_records_are_retried_while_tmf683_fails_and_written_once_it_recovers(
    gql: GQL, writer: AuditWriter, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    await set_fault(http, sandbox, {"error_rate": 1.0})
    result = await gql(CUSTOMER_360, {"id": CUSTOMER}, principal=AGENT)
    assert "errors" not in result, result
    deadline = time.monotonic() + 3
    while writer.counts["retried"] < 2:
        assert time.monotonic() < deadline, writer.counts
        await asyncio.sleep(0.01)
    assert writer.counts["written"] == 0
    assert (await call(http, "DELETE", f"{sandbox.url}/admin/faults")).status in (200, 204)
    await settled(writer, 1)
    assert len(await audit_records(http, sandbox, CUSTOMER)) == 1
    assert writer.counts["spilled"] == writer.counts["lost"] == 0


async def test_records_tmf683_never_took_are_spilled_at_shutdown(
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    dev_idp_key: Path,
    spill: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    writer = fast_writer(spill)
    caplog.set_level(logging.ERROR, logger="graph.auth.audit")
    await set_fault(http, sandbox, {"down": "503"})
    async with audited_gateway(sandbox, writer) as gateway:
        body = orjson.dumps({"query": CUSTOMER_360, "variables": {"id": CUSTOMER}})
        headers = {"Content-Type": "application/json", **auth_headers(AGENT, dev_idp_key)}
        async with http.post(f"{gateway.url}/graphql", data=body, headers=headers) as resp:
            assert resp.status == 200
        deadline = time.monotonic() + 3
        while writer.counts["retried"] < 1:
            assert time.monotonic() < deadline, writer.counts
            await asyncio.sleep(0.01)
    [spilled] = spilled_records(spill)
    assert spilled["reason"] == "shutdown"
    assert spilled["body"]["relatedParty"][0]["id"] == CUSTOMER
    assert writer.counts["spilled"] == 1
    assert writer.counts["written"] == 0
    assert any(r.levelno == logging.ERROR and str(spill) in r.getMessage() for r in caplog.records)
    assert owner_only(spill)  # customer and agent ids


async def test_the_answer_does_not_wait_for_tmf683(
    gql: GQL, writer: AuditWriter, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    await gql(CUSTOMER_360, {"id": "cus-000001"}, principal=AGENT)  # warm up the sandbox
    await settled(writer, 1)
    await set_fault(http, sandbox, {"latency_ms": 500})
    started = time.monotonic()
    result = await gql(CUSTOMER_360, {"id": CUSTOMER}, principal=AGENT)
    answered = time.monotonic() - started
    assert "errors" not in result, result
    await settled(writer, 2)
    written = time.monotonic() - started
    assert answered < 0.4, answered
    assert written >= 0.5  # the write itself did take TMF683's half second


async def test_over_a_websocket_the_connection_is_recorded_when_it_ends(
    gateway: RunningGateway,
    writer: AuditWriter,
    http: aiohttp.ClientSession,
    dev_idp_key: Path,
) -> None:
    query = '{ customer(id: "cus-000003") { reference } }'
    async with http.ws_connect(f"{gateway.url}/graphql", protocols=("graphql-transport-ws",)) as ws:
        await ws.send_json({"type": "connection_init", "payload": auth_headers(AGENT, dev_idp_key)})
        assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
        for n in ("1", "2"):
            await ws.send_json({"id": n, "type": "subscribe", "payload": {"query": query}})
            assert (await ws.receive_json(timeout=5))["type"] == "next"
            assert (await ws.receive_json(timeout=5))["type"] == "complete"
    await settled(writer, 1)
    assert writer.counts["queued"] == 1


# -- the writer, through its sink ----------------------------------------------------------


class Sink:
    """A TMF683 stand-in: fails the first ``failures`` calls with ``error``, then accepts;
    notes how many calls ran at once."""

    def __init__(self, failures: int = 0, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or BackendUnavailable("TMF683", "HTTP 503")
        self.created: list[dict[str, Any]] = []
        self.calls = self.active = self.peak = 0

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await asyncio.sleep(0.005)
            if self.calls <= self.failures:
                raise self.error
        finally:
            self.active -= 1
        self.created.append(body)
        return {"id": f"pi-{len(self.created)}", **body}


def body_for(customer: str) -> dict[str, Any]:
    return {"reason": REASON, "relatedParty": [{"id": customer}]}


def spilled_records(spill: Path) -> list[dict[str, Any]]:
    if not spill.exists():
        return []
    return [orjson.loads(line) for line in spill.read_text().splitlines()]


def spilled_reasons(spill: Path) -> list[str]:
    return [record["reason"] for record in spilled_records(spill)]


def owner_only(path: Path) -> bool:
    return path.stat().st_mode & 0o077 == 0


async def test_the_writer_batches_with_bounded_concurrency(spill: Path) -> None:
    writer = fast_writer(spill, batch_size=5, concurrency=2)
    sink = Sink()
    async with writer.running(sink):
        for n in range(12):
            writer.submit(body_for(f"cus-{n}"))
        await settled(writer, 12)
    assert sorted(b["relatedParty"][0]["id"] for b in sink.created) == sorted(
        f"cus-{n}" for n in range(12)
    )
    assert sink.peak == 2  # concurrent, and bounded
    assert writer.counts["written"] == 12
    assert spilled_records(spill) == []


async def test_a_body_tmf683_refuses_is_spilled_not_retried(
    spill: Path, caplog: pytest.LogCaptureFixture
) -> None:
    writer = fast_writer(spill)
    sink = Sink(failures=1, error=BackendRejected("TMF683", 400, "Missing attribute"))
    async with writer.running(sink):
        writer.submit(body_for("cus-1"))
        deadline = time.monotonic() + 2
        while writer.pending:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
    assert sink.calls == 1
    assert spilled_reasons(spill) == ["rejected"]
    assert "refused" in caplog.text


async def test_retries_are_bounded(spill: Path) -> None:
    writer = fast_writer(spill, max_attempts=3, backoff=0.01)
    sink = Sink(failures=10)
    async with writer.running(sink):
        writer.submit(body_for("cus-1"))
        deadline = time.monotonic() + 2
        while writer.pending:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
    assert (sink.calls, writer.counts["retried"]) == (3, 2)
    assert spilled_reasons(spill) == ["exhausted"]


async def test_a_full_queue_spills_instead_of_dropping_or_blocking(
    spill: Path, caplog: pytest.LogCaptureFixture
) -> None:
    writer = fast_writer(spill, max_queued=2)
    for n in range(3):
        writer.submit(body_for(f"cus-{n}"))  # not started: nothing drains the queue
    assert spilled_reasons(spill) == ["overflow"]
    assert "queue full" in caplog.text
    async with writer.running(Sink()):
        await settled(writer, 2)
    assert writer.counts["written"] == 2
    writer.submit(body_for("cus-late"))  # after stop: still not dropped
    assert spilled_reasons(spill) == ["overflow", "stopped"]
    assert writer.counts["spilled"] == 2


class HangingSink:
    """A TMF683 that takes requests and never answers."""

    def __init__(self) -> None:
        self.called = asyncio.Event()

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        self.called.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_hanging_tmf683_cannot_hold_shutdown_and_loses_nothing(
    spill: Path, caplog: pytest.LogCaptureFixture
) -> None:
    writer = fast_writer(spill, batch_size=2, shutdown_timeout=0.1)
    sink = HangingSink()
    async with writer.running(sink):
        for n in range(3):
            writer.submit(body_for(f"cus-{n}"))
        await asyncio.wait_for(sink.called.wait(), 2)  # a batch is in flight, one queued
        started = time.monotonic()
    assert time.monotonic() - started < 0.5
    assert sorted(r["body"]["relatedParty"][0]["id"] for r in spilled_records(spill)) == [
        "cus-0", "cus-1", "cus-2",
    ]  # fmt: skip
    assert spilled_reasons(spill) == ["shutdown"] * 3
    assert "3 interaction(s) unwritten" in caplog.text


def unusable_spill(tmp_path: Path, how: str) -> Path:
    if how == "parent is a file":
        (tmp_path / "not-a-dir").write_text("")
        return tmp_path / "not-a-dir" / "spill.jsonl"
    path = tmp_path / "shared.jsonl"  # e.g. planted in a shared temp dir
    path.write_text("")
    path.chmod(0o644)
    return path


@pytest.mark.parametrize("how", ["parent is a file", "readable by others"])
def test_an_unusable_spill_file_logs_the_records_in_full(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    path = unusable_spill(tmp_path, how)
    writer = fast_writer(path, max_queued=0)
    writer.submit(body_for("cus-000042"))
    assert (writer.counts["lost"], writer.counts["spilled"]) == (1, 0)
    assert "cus-000042" in caplog.text
    if how == "readable by others":
        assert path.read_text() == ""


# -- attribution and the TMF683 body ----------------------------------------------------------

AGENT_PRINCIPAL = Principal(subject="a1", role=Role.AGENT, channel="agent-desktop")


def ref(kind: str, record_id: str) -> dict[str, str]:
    return {"id": record_id, "href": f"http://crm/{kind}/{record_id}", "@referredType": kind}


def test_records_naming_no_customer_are_attributed_through_records_of_the_same_request() -> None:
    access = AccessLog(AGENT_PRINCIPAL)
    access.observe("payment", [{"id": "pay-1", "account": ref("BillingAccount", "ba-1")}])
    access.observe("payment", [{"id": "pay-9", "account": ref("BillingAccount", "ba-9")}])
    access.observe(
        "appliedCustomerBillingRate",
        [{"id": "acbr-2", "billingAccount": ref("BillingAccount", "ba-2")}],
    )
    access.observe("individual", [{"id": "ind-1"}, {"id": "ind-7"}])
    access.observe("serviceProblem", [{"id": "sp-1", "affectedService": [ref("Service", "svc-1")]}])
    access.observe(
        "customer",
        [{"id": "cus-1", "name": "Ann", "engagedParty": ref("Individual", "ind-1"),
          "account": [ref("BillingAccount", "ba-1")]}],
    )  # fmt: skip
    access.observe("billingAccount", [{"id": "ba-2", "relatedParty": [ref("Customer", "cus-2")]}])
    access.observe(
        "service",
        [{"id": "svc-1", "relatedParty": [ref("Customer", "cus-1"), ref("Customer", "cus-2")]}],
    )
    access.observe("paymentMethod", [{"id": "pm-1", "relatedParty": ref("Customer", "cus-2")}])
    access.observe("billingAccount", [{"id": "ba-1"}])  # named in cus-1's account list
    customers = access.customers()
    assert {c: a.viewed for c, a in customers.items()} == {
        "cus-1": {"customer": {"cus-1"}, "payment": {"pay-1"}, "individual": {"ind-1"},
                  "service": {"svc-1"}, "serviceProblem": {"sp-1"}, "billingAccount": {"ba-1"}},
        "cus-2": {"billingAccount": {"ba-2"}, "appliedCustomerBillingRate": {"acbr-2"},
                  "service": {"svc-1"}, "serviceProblem": {"sp-1"},
                  "paymentMethod": {"pm-1"}},
    }  # fmt: skip
    assert access.unattributed == {"payment": {"pay-9"}, "individual": {"ind-7"}}
    assert (customers["cus-1"].name, customers["cus-1"].href) == (
        "Ann",
        "http://crm/Customer/cus-1",
    )
    assert customers["cus-2"].href == "http://crm/Customer/cus-2"


def test_the_interaction_is_a_valid_tmf683_create_body() -> None:
    require_specs()
    seen = CustomerAccess("cus-1", name="Ann", href="http://crm/customer/cus-1")
    for n in range(MAX_IDS_PER_ITEM + 5):
        seen.add("usage", f"usg-{n:04}")
    seen.add("customer", "cus-1")
    started = datetime.datetime(2026, 11, 26, 9, 30, tzinfo=datetime.UTC)
    ended = started + datetime.timedelta(seconds=1)
    body = interaction_body(seen, AGENT_PRINCIPAL, started, ended)
    validate(TMF683_SPEC, "PartyInteraction_Create", body)
    assert body["interactionDate"] == {
        "startDateTime": "2026-11-26T09:30:00.000Z",
        "endDateTime": "2026-11-26T09:30:01.000Z",
    }
    assert body["channel"] == [{"id": "agent-desktop", "name": "Call centre",
                                "href": "urn:csm-graph:channel:agent-desktop",
                                "role": "contactChannel"}]  # fmt: skip
    usage = next(i for i in body["interactionItem"] if i["item"]["name"] == "usage")
    assert usage["reason"] == f"Viewed {MAX_IDS_PER_ITEM + 5} usage records"
    assert usage["note"][0]["text"].endswith("usg-0099 (and 5 more)")


def test_a_request_is_recorded_once_however_often_it_is_finished(spill: Path) -> None:
    access = AccessLog(AGENT_PRINCIPAL)
    access.observe("customer", [{"id": "cus-1"}])
    writer = fast_writer(spill)
    assert writer.finish(access) == 1
    assert writer.finish(access) == 0
    assert writer.counts["queued"] == 1
