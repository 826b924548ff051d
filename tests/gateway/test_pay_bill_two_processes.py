"""``payBill`` sent to two gateway processes at once, with the same idempotency key, pays once.

Two real ``csm-graph serve`` processes share one sandbox and one Redis (the ``redis_url``
fixture; skipped without one). The payment API is slowed down so that both requests are in
flight together: without the shared store each process would find no payment by the
correlator yet and pay, so the test fails unless the processes coordinate through Redis.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import redis.asyncio as aioredis

from graph.sandbox import RunningSandbox
from graph.schema.common import encode_global_id
from tests.gateway.conftest import process_env, token_for
from tests.support.tmf_client import call, url_of

CSM_GRAPH = Path(sys.executable).with_name("csm-graph")
CUSTOMER = "cus-000001"
BILL = "cb-000001-2-23"  # 14.98 EUR open
ACCOUNT = "ba-000001-2"
METHOD = "pm-000001-1"
ROUNDS = 4
PAY = """mutation($input: PayBillInput!) { payBill(input: $input) {
  payment { reference totalAmount { amount currency } }
  bills { reference state remainingAmount { amount currency } }
  account { reference outstanding { amount currency } }
  errors { code message field }
} }"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def output_of(log: Path) -> str:
    return log.read_text(errors="replace")


@asynccontextmanager
async def gateway_process(env: dict[str, str], log: Path) -> AsyncIterator[str]:
    """A ``csm-graph serve`` process with ``env``; yields its URL once /healthz answers."""
    port = free_port()
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            str(CSM_GRAPH), "serve", "--port", str(port), env=env, stdout=output, stderr=output
        )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as http:
            deadline = time.monotonic() + 20
            while True:
                assert process.returncode is None, output_of(log)
                assert time.monotonic() < deadline, output_of(log)
                try:
                    async with http.get(f"{url}/healthz") as resp:
                        if resp.status == 200:
                            break
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.05)
        yield url
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 5)
            except TimeoutError:
                process.kill()
                await process.wait()


async def payments_of(http: aiohttp.ClientSession, sandbox: RunningSandbox) -> list[str]:
    reply = await call(
        http, "GET", url_of(sandbox.url, "payment"), params={"account.id": ACCOUNT, "limit": "1000"}
    )
    assert reply.status == 200, reply.body
    return [p["id"] for p in reply.body]


async def pay(
    http: aiohttp.ClientSession, url: str, token: str, given: dict[str, Any]
) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    body = orjson.dumps({"query": PAY, "variables": {"input": given}})
    async with http.post(f"{url}/graphql", data=body, headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        result: dict[str, Any] = orjson.loads(await resp.read())
    assert "errors" not in result, result
    payload: dict[str, Any] = result["data"]["payBill"]
    return payload


async def test_the_same_payment_sent_to_two_processes_at_once_pays_once(
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    redis_url: str,
    dev_idp_key: Path,
    tmp_path: Path,
) -> None:
    prefix = f"csm-test:{uuid.uuid4().hex}:"
    env = process_env(sandbox, redis_url, prefix, dev_idp_key, tmp_path)
    redis = aioredis.Redis.from_url(redis_url)
    try:
        async with AsyncExitStack() as stack:
            urls = await asyncio.gather(
                *(
                    stack.enter_async_context(gateway_process(env, tmp_path / f"gateway-{n}.log"))
                    for n in (1, 2)
                )
            )
            # Both requests are in flight together: each backend call to TMF676 takes 100 ms.
            reply = await call(
                http, "PUT", f"{sandbox.url}/admin/faults/TMF676", json={"latency_ms": 100}
            )
            assert reply.status == 200, reply.body
            token = token_for(f"customer:{CUSTOMER}", dev_idp_key)
            paid: list[str] = []
            for round_ in range(1, ROUNDS + 1):
                before = await payments_of(http, sandbox)
                given = {
                    "bills": [{"bill": encode_global_id("Bill", BILL), "amount": "1.00"}],
                    "paymentMethod": encode_global_id("PaymentMethod", METHOD),
                    "idempotencyKey": f"two-processes-{uuid.uuid4()}",
                }
                first, second = await asyncio.gather(*(pay(http, u, token, given) for u in urls))
                assert first["errors"] == [], first
                assert second == first, f"round {round_}"
                after = await payments_of(http, sandbox)
                assert len(after) == len(before) + 1, f"round {round_}: {len(after) - len(before)}"
                new = next(p for p in after if p not in before)
                assert first["payment"]["reference"] == new
                left = f"{14.98 - round_:.2f}"
                assert first["bills"][0]["remainingAmount"]["amount"] == left
                paid.append(new)
            assert len(set(paid)) == ROUNDS
            # The processes coordinated through Redis, under their prefix.
            assert len([k async for k in redis.scan_iter(match=prefix + "idem:*")]) == ROUNDS
    finally:
        await call(http, "DELETE", f"{sandbox.url}/admin/faults")
        keys = [k async for k in redis.scan_iter(match=prefix + "*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
