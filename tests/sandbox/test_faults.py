"""Fault injection and request counting through /admin, as tests and benchmarks drive them."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from graph.sandbox import RunningSandbox
from tests.support.tmf_client import call, url_of


async def set_fault(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, api: str, **fault: object
) -> None:
    reply = await call(http, "PUT", f"{sandbox.url}/admin/faults/{api}", json=fault)
    assert reply.status == 200, reply.body


async def test_requests_are_counted_per_api_and_method(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    await call(http, "DELETE", f"{sandbox.url}/admin/stats")
    await call(http, "GET", url_of(sandbox.url, "customer"), params={"limit": "1"})
    await call(http, "GET", url_of(sandbox.url, "customer", "cus-000001"))
    await call(http, "GET", url_of(sandbox.url, "customerBill"), params={"limit": "1"})
    stats = (await call(http, "GET", f"{sandbox.url}/admin/stats")).body["apis"]
    assert stats["TMF629"] == {"requests": 2, "byMethod": {"GET": 2}}
    assert stats["TMF678"]["requests"] == 1
    assert "TMF621" not in stats


async def test_latency_is_added_to_one_api_only(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    await set_fault(http, sandbox, "TMF678", latency_ms=200)
    started = time.perf_counter()
    await call(http, "GET", url_of(sandbox.url, "customerBill"), params={"limit": "1"})
    slow = time.perf_counter() - started
    started = time.perf_counter()
    await call(http, "GET", url_of(sandbox.url, "customer"), params={"limit": "1"})
    fast = time.perf_counter() - started
    assert slow >= 0.2
    assert fast < 0.2


async def test_error_rate_one_fails_every_request(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    await set_fault(http, sandbox, "TMF629", error_rate=1.0, error_status=500)
    for _ in range(3):
        reply = await call(http, "GET", url_of(sandbox.url, "customer"))
        assert reply.status == 500
        assert reply.body["code"] == "SANDBOX_FAULT"
    await call(http, "DELETE", f"{sandbox.url}/admin/faults")
    assert (await call(http, "GET", url_of(sandbox.url, "customer"))).status == 200


async def test_error_rate_is_a_share(sandbox: RunningSandbox, http: aiohttp.ClientSession) -> None:
    await set_fault(http, sandbox, "TMF629", error_rate=0.5, error_status=503)
    statuses = [
        (await call(http, "GET", url_of(sandbox.url, "customer", "cus-000001"))).status
        for _ in range(200)
    ]
    assert set(statuses) == {200, 503}
    assert 60 < statuses.count(503) < 140


async def test_down_503_and_down_reset(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    await set_fault(http, sandbox, "TMF621", down="503")
    reply = await call(http, "GET", url_of(sandbox.url, "troubleTicket"))
    assert reply.status == 503
    await set_fault(http, sandbox, "TMF621", down="reset")
    with pytest.raises(aiohttp.ClientError):
        await call(http, "GET", url_of(sandbox.url, "troubleTicket"))
    assert (await call(http, "GET", url_of(sandbox.url, "customer"))).status == 200


async def test_hang_answers_nothing_until_cleared(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    await set_fault(http, sandbox, "TMF637", hang=True)
    with pytest.raises(asyncio.TimeoutError):
        async with asyncio.timeout(0.3):
            await call(http, "GET", url_of(sandbox.url, "product"))
    pending = asyncio.create_task(
        call(http, "GET", url_of(sandbox.url, "product"), params={"limit": "1"})
    )
    await asyncio.sleep(0.1)
    assert not pending.done()
    await call(http, "DELETE", f"{sandbox.url}/admin/faults")
    reply = await asyncio.wait_for(pending, 2)
    assert reply.status in (200, 206)


async def test_all_apis_at_once_and_snapshot(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    await set_fault(http, sandbox, "*", latency_ms=1, jitter_ms=2)
    snapshot = (await call(http, "GET", f"{sandbox.url}/admin/faults")).body
    assert len(snapshot) == 16
    assert snapshot["TMF639"]["jitter_ms"] == 2


@pytest.mark.parametrize(
    "fault",
    [
        {"latency_ms": -1},
        {"error_rate": 2},
        {"error_status": 404},
        {"down": "maybe"},
        {"color": "red"},
    ],
)
async def test_invalid_faults_are_400(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, fault: dict[str, object]
) -> None:
    reply = await call(http, "PUT", f"{sandbox.url}/admin/faults/TMF629", json=fault)
    assert reply.status == 400
    unknown = await call(http, "PUT", f"{sandbox.url}/admin/faults/TMF999", json={})
    assert unknown.status == 404


async def test_faults_set_at_start(http: aiohttp.ClientSession) -> None:
    from graph.sandbox import Fault, SandboxConfig, running_sandbox

    config = SandboxConfig(customers=2, faults={"TMF666": Fault(down="503")})
    async with running_sandbox(config) as sandbox:
        assert (await call(http, "GET", url_of(sandbox.url, "billingAccount"))).status == 503
        assert (await call(http, "GET", url_of(sandbox.url, "customer"))).status == 200
