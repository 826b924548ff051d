"""Partial results under backend faults, driven through the sandbox's fault injection.

Each API in turn is down (503 or a dropped connection), erroring (500 on every request), slow
(past its timeout) or hanging, under a customer-360 query: the answer comes within the
operation's deadline, the fields that need that API are null with an error at their path coded
BACKEND_UNAVAILABLE or BACKEND_TIMEOUT, and everything else is exactly what the query gives
without the fault. Then the deadline itself, per-API timeouts, a breaker that opens under
repeated failures and recovers (half-open, closed) once the fault is cleared, and writes that
are never retried.
"""

from __future__ import annotations

import asyncio
import copy
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from graph.sandbox import Fault, RunningSandbox
from graph.schema.common import encode_global_id
from graph.sources import APIS
from graph.sources.resilience import BreakerPolicy, ResiliencePolicy, RetryPolicy
from tests.gateway.conftest import (
    RunningGateway,
    auth_headers,
    running_gateway,
    settings_for,
    token_for,
)
from tests.gateway.test_customer360 import VIEW
from tests.support.ws import graphql_ws

CUSTOMER = "cus-000004"
QUERY = (
    "query Customer360 { me {"
    + VIEW
    + "  usage(first: 3) { totalCount }  interactions(first: 3) { totalCount } } }"
)

# The fields each API serves in QUERY: an error for that API must sit at a path ending in one.
FIELDS: dict[str, set[str]] = {
    "TMF629": {"me"},
    "TMF632": {"person"},
    "TMF666": {"billingAccounts"},
    "TMF678": {"bills"},  # and its lines, asked by another request
    "TMF676": {"payments", "payment"},  # account payments; a bill's applied payments
    "TMF670": {"paymentMethods"},
    "TMF635": {"usage"},
    "TMF683": {"interactions"},
    "TMF621": {"troubleTickets"},
    "TMF656": {"health"},
    "TMF620": {"offering"},
    "TMF622": {"productOrders"},
    "TMF637": {"products"},
    "TMF638": {"services"},
    "TMF639": {"supportingResources"},
    "TMF641": set(),  # service orders: nothing in a customer-360 needs them
}

TIMEOUT = 0.3  # each API's, in the fault matrix
DEADLINE = 2.0
FAULTS: dict[str, tuple[Fault, str]] = {
    "down": (Fault(down="503"), "BACKEND_UNAVAILABLE"),
    "reset": (Fault(down="reset"), "BACKEND_UNAVAILABLE"),
    "erroring": (Fault(error_rate=1.0, error_status=500), "BACKEND_UNAVAILABLE"),
    "slow": (Fault(latency_ms=700), "BACKEND_TIMEOUT"),
    "hanging": (Fault(hang=True), "BACKEND_TIMEOUT"),
}


def resilience(**breaker: Any) -> ResiliencePolicy:
    return ResiliencePolicy(
        retry=RetryPolicy(retries=1, base_delay=0.01, max_delay=0.02),
        breaker=BreakerPolicy(**({"min_calls": 10_000} | breaker)),
    )


class Client:
    """POSTs QUERY (or another document) to one gateway as the customer, timing each answer."""

    def __init__(self, gateway: RunningGateway, http: aiohttp.ClientSession, key: Path) -> None:
        self.gateway = gateway
        self.http = http
        self.headers = {
            "Content-Type": "application/json",
            **auth_headers(f"customer:{CUSTOMER}", key),
        }
        self.elapsed = 0.0

    async def __call__(
        self, query: str = QUERY, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        body = orjson.dumps({"query": query, "variables": variables or {}})
        started = time.monotonic()
        async with self.http.post(
            f"{self.gateway.url}/graphql", data=body, headers=self.headers
        ) as resp:
            assert resp.status == 200, await resp.text()
            result: dict[str, Any] = orjson.loads(await resp.read())
        self.elapsed = time.monotonic() - started
        return result

    async def metrics(self) -> str:
        async with self.http.get(f"{self.gateway.url}/metrics") as resp:
            return await resp.text()

    async def readiness(self) -> tuple[int, dict[str, Any]]:
        self.gateway.state.readiness = None  # no answer reused from an earlier probe
        async with self.http.get(f"{self.gateway.url}/readyz") as resp:
            return resp.status, orjson.loads(await resp.read())


@pytest.fixture
async def cleared(sandbox: RunningSandbox) -> AsyncIterator[None]:
    """Held (hanging) requests end when the faults change: cleared before the sandbox stops."""
    yield
    sandbox.faults.clear()


def nulled(data: dict[str, Any], paths: list[list[str | int]]) -> dict[str, Any]:
    """``data`` with the value at each path set to null."""
    result = copy.deepcopy(data)
    for path in paths:
        parent: Any = result
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = None
    return result


def metric(text: str, name: str, api: str) -> float | None:
    found = re.search(rf'^{name}{{api="{api}"}} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else None


def assert_partial(
    baseline: dict[str, Any], result: dict[str, Any], api: str, code: str, label: str
) -> None:
    """Only the fields ``api`` serves are missing, each with one coded error at its path."""
    errors = result.get("errors", [])
    if not FIELDS[api]:
        assert not errors, (label, errors)
        assert result["data"] == baseline, label
        return
    assert errors, (label, result)
    for error in errors:
        path = error["path"]
        assert path[-1] in FIELDS[api], (label, path)
        assert error["extensions"]["code"] == code, (label, error)
        assert error["message"].startswith(f"The {api} backend "), (label, error)
        assert "correlationId" in error["extensions"]
    paths = [e["path"] for e in errors]
    assert len({tuple(p) for p in paths}) == len(paths), (label, paths)  # one error per field
    if api == "TMF629":
        assert result["data"] is None, label  # `me` itself needs the CRM
    else:
        assert result["data"] == nulled(baseline, paths), label


@pytest.mark.parametrize("api", [api.key for api in APIS])
async def test_each_api_down_slow_erroring_or_hanging_costs_only_its_fields(
    api: str,
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    dev_idp_key: Path,
    cleared: None,
) -> None:
    settings = settings_for(
        sandbox,
        events=False,
        backend_timeout=TIMEOUT,
        request_deadline=DEADLINE,
        resilience=resilience(),
    )
    async with running_gateway(settings) as gateway:
        query = Client(gateway, http, dev_idp_key)
        baseline = await query()
        assert "errors" not in baseline, baseline["errors"]
        for mode, (fault, code) in FAULTS.items():
            sandbox.faults.set(api, fault)
            result = await query()
            sandbox.faults.clear()
            label = f"{api} {mode}"
            assert query.elapsed < DEADLINE, (label, query.elapsed)
            if code == "BACKEND_TIMEOUT" and FIELDS[api]:
                assert query.elapsed >= 2 * TIMEOUT, (label, query.elapsed)  # tried twice
            assert_partial(baseline["data"], result, api, code, label)
        assert await query() == baseline  # recovered (the breaker never opened here)
        text = await query.metrics()
        if FIELDS[api]:
            assert (metric(text, "csm_backend_retries_total", api) or 0) >= 4
            assert (metric(text, "csm_backend_timeouts_total", api) or 0) >= 4
        assert metric(text, "csm_breaker_state", api) == 0


async def test_bills_down_leaves_the_rest_of_the_customer_360(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    """The issue's example, spelt out: billing in maintenance blanks only the bills."""
    async with running_gateway(settings_for(sandbox, events=False)) as gateway:
        query = Client(gateway, http, dev_idp_key)
        before = (await query())["data"]["me"]
        sandbox.faults.set("TMF678", Fault(down="503"))
        result = await query()
    me = result["data"]["me"]
    assert me["reference"] == CUSTOMER
    for field in ("person", "troubleTickets", "productOrders", "products", "paymentMethods"):
        assert me[field] is not None
        assert me[field] == before[field], field
    assert me["products"]["edges"]
    assert len(me["billingAccounts"]) == len(before["billingAccounts"]) > 0
    for index, account in enumerate(me["billingAccounts"]):
        assert before["billingAccounts"][index]["bills"] is not None
        assert account["bills"] is None
        assert account["payments"] == before["billingAccounts"][index]["payments"]
        assert account["outstanding"] == before["billingAccounts"][index]["outstanding"]
        [error] = [e for e in result["errors"] if e["path"][2] == index]
        assert error["path"] == ["me", "billingAccounts", index, "bills"]
        assert error["extensions"]["code"] == "BACKEND_UNAVAILABLE"
    assert len(result["errors"]) == len(me["billingAccounts"])


async def test_the_operation_deadline_bounds_a_hanging_backend(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path, cleared: None
) -> None:
    deadline = 0.8
    settings = settings_for(
        sandbox,
        events=False,
        backend_timeout=5.0,  # longer than the whole operation may take
        request_deadline=deadline,
        resilience=resilience(),
    )
    async with running_gateway(settings) as gateway:
        query = Client(gateway, http, dev_idp_key)
        baseline = await query()
        sandbox.faults.set("TMF678", Fault(hang=True))
        result = await query()
        assert deadline - 0.05 <= query.elapsed < deadline + 0.4, query.elapsed
        assert_partial(baseline["data"], result, "TMF678", "BACKEND_TIMEOUT", "deadline")
        text = await query.metrics()
    assert (metric(text, "csm_backend_timeouts_total", "TMF678") or 0) >= 1
    # Cut by the deadline, a timeout is not the backend's failure and is not retried.
    assert metric(text, "csm_backend_retries_total", "TMF678") is None


async def test_the_deadline_is_per_http_operation_and_a_websocket_has_none(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    """A WebSocket outlives any deadline: its operations keep to their APIs' timeouts; each HTTP
    operation gets its own whole deadline."""
    tickets = "{ me { reference troubleTickets { totalCount } } }"
    settings = settings_for(
        sandbox, events=False, backend_timeout=2.0, request_deadline=0.4, resilience=resilience()
    )
    async with running_gateway(settings) as gateway:
        query = Client(gateway, http, dev_idp_key)
        sandbox.faults.set("TMF621", Fault(latency_ms=300))
        for _ in range(2):  # the second operation is not charged for the first one's time
            fine = await query(tickets)
            assert "errors" not in fine, fine
        sandbox.faults.set("TMF621", Fault(latency_ms=600))
        late = await query(tickets)
        assert late["data"]["me"]["troubleTickets"] is None
        assert [e["extensions"]["code"] for e in late["errors"]] == ["BACKEND_TIMEOUT"]
        token = token_for(f"customer:{CUSTOMER}", dev_idp_key)
        async with graphql_ws(http, gateway.url, token) as ws:
            data = await ws.data(await ws.subscribe(tickets))
        assert data["me"]["troubleTickets"]["totalCount"] >= 0


async def test_each_api_keeps_its_own_timeout(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path, cleared: None
) -> None:
    policy = resilience()
    settings = settings_for(
        sandbox,
        events=False,
        backend_timeout=3.0,
        request_deadline=5.0,
        resilience=ResiliencePolicy(
            timeouts={"TMF678": 0.2}, retry=policy.retry, breaker=policy.breaker
        ),
    )
    async with running_gateway(settings) as gateway:
        query = Client(gateway, http, dev_idp_key)
        baseline = await query()
        sandbox.faults.set("TMF678", Fault(latency_ms=500))
        sandbox.faults.set("TMF621", Fault(latency_ms=500))
        result = await query()
    # Bills ran out of TMF678's 0.2 s (twice); tickets waited their half second and came.
    assert_partial(baseline["data"], result, "TMF678", "BACKEND_TIMEOUT", "per-API timeout")
    assert 0.5 <= query.elapsed < 1.5, query.elapsed


async def test_a_breaker_opens_under_repeated_failures_and_recovers(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    cool_down = 0.5
    settings = settings_for(
        sandbox,
        events=False,
        resilience=resilience(min_calls=4, failure_rate=0.5, open_seconds=cool_down, probes=1),
    )
    async with running_gateway(settings) as gateway:
        query = Client(gateway, http, dev_idp_key)
        baseline = (await query())["data"]
        sent = sandbox.faults.requests

        sandbox.faults.set("TMF678", Fault(down="503"))
        for _ in range(2):  # the bills of both accounts in one request, tried twice: 4 failures
            assert_partial(baseline, await query(), "TMF678", "BACKEND_UNAVAILABLE", "opening")
        text = await query.metrics()
        assert metric(text, "csm_breaker_state", "TMF678") == 2  # open
        assert metric(text, "csm_breaker_state", "TMF621") == 0

        # Open: refused at once, without a request; the rest of the answer is unchanged.
        before = sent["TMF678"]
        result = await query()
        assert_partial(baseline, result, "TMF678", "BACKEND_UNAVAILABLE", "open")
        assert sent["TMF678"] == before
        assert (metric(await query.metrics(), "csm_breaker_rejections_total", "TMF678") or 0) >= 1
        status, ready = await query.readiness()
        assert status == 503
        assert ready["breakers"]["TMF678"] == "open"
        assert ready["backends"]["TMF678"] == "CircuitOpen"
        assert ready["breakers"]["TMF629"] == "closed"
        assert sent["TMF678"] == before  # the readiness probe was refused too

        # Half-open after the cool-down: one probe goes; it meets the fault and re-opens it.
        await _sleep(cool_down)
        assert metric(await query.metrics(), "csm_breaker_state", "TMF678") == 1
        assert_partial(baseline, await query(), "TMF678", "BACKEND_UNAVAILABLE", "probe")
        assert sent["TMF678"] == before + 1  # the probe alone: its retry was refused
        assert metric(await query.metrics(), "csm_breaker_state", "TMF678") == 2

        # The fault is cleared: after the cool-down the probe succeeds and the breaker closes.
        sandbox.faults.clear()
        await _sleep(cool_down)
        assert (await query())["data"] == baseline
        assert metric(await query.metrics(), "csm_breaker_state", "TMF678") == 0
        status, ready = await query.readiness()
        assert status == 200
        assert set(ready["breakers"].values()) == {"closed"}


async def test_a_failed_write_is_not_retried(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    async with running_gateway(settings_for(sandbox, events=False)) as gateway:
        query = Client(gateway, http, dev_idp_key)
        products = (await query())["data"]["me"]["products"]["edges"]
        subject = encode_global_id("Product", products[0]["node"]["reference"])
        sandbox.faults.set("TMF621", Fault(down="503", methods=("POST",)))
        before = sandbox.faults.by_method[("TMF621", "POST")]
        result = await query(
            """mutation($subject: ID!) {
              createTroubleTicket(input: {subject: $subject, description: "No dial tone."}) {
                ticket { reference } errors { code }
              }
            }""",
            {"subject": subject},
        )
    assert sandbox.faults.by_method[("TMF621", "POST")] == before + 1
    codes = [e["extensions"]["code"] for e in result.get("errors", [])]
    assert codes == ["BACKEND_UNAVAILABLE"], result


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds + 0.02)
