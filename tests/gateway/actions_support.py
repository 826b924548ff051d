"""What the action tests share: running a mutation for its payload, what the sandbox was sent,
its faults, and the TMF683 records the gateway's audit writer sends."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from graph.auth.devidp import load_or_create_key, mint
from graph.ids import encode_global_id
from graph.sandbox import RunningSandbox
from tests.gateway.conftest import GQL, RunningGateway
from tests.support.tmf_client import call, url_of

__all__ = [
    "NOT_SUBSTANTIAL",
    "WRITES",
    "audit_written",
    "clear_faults",
    "forget_requests",
    "gid",
    "interactions_of",
    "merge_patch",
    "payload_of",
    "post_graphql",
    "record_of",
    "refused_before_any_backend_request",
    "set_fault",
    "write_requests",
]

WRITES = ("POST", "PATCH", "PUT", "DELETE")

# Who may not make a change that needs a "substantial" sign-in, and what they are told: a PIN
# (the IVR, which also runs only its trusted operations), a low sign-in, an analyst (who only
# reads) and an anonymous caller (who acts on no account). cus-000001's, where a customer's.
NOT_SUBSTANTIAL = [
    pytest.param("ivr", "OPERATION_NOT_ALLOWED", id="ivr"),
    pytest.param("low", "FORBIDDEN", id="acr-low"),
    pytest.param("analyst", "FORBIDDEN", id="analyst"),
    pytest.param(None, "UNAUTHENTICATED", id="anonymous"),
]


def gid(type_name: str, record_id: str) -> str:
    return encode_global_id(type_name, record_id)


async def payload_of(
    gql: GQL, document: str, given: dict[str, Any], principal: str | None = None
) -> dict[str, Any]:
    """The payload of the document's one mutation (or query) field; no GraphQL error."""
    result = await gql(document, {"input": given}, principal=principal)
    assert "errors" not in result, result
    payload: dict[str, Any] = next(iter(result["data"].values()))
    return payload


async def post_graphql(
    http: aiohttp.ClientSession,
    url: str,
    document: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    """POST a document to the gateway at ``url`` (another than the ``gateway`` fixture's)."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    body = orjson.dumps({"query": document, "variables": variables or {}})
    async with http.post(f"{url}/graphql", data=body, headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        result: dict[str, Any] = orjson.loads(await resp.read())
        return result


async def write_requests(http: aiohttp.ClientSession, sandbox: RunningSandbox) -> list[str]:
    """Writes to the sandbox's TMF APIs since the last :func:`forget_requests`, as "POST
    /tmf-api/..." (the audit's TMF683 records aside)."""
    reply = await call(http, "GET", f"{sandbox.url}/admin/requests")
    return [
        f"{r['method']} {r['path']}"
        for api, entries in reply.body.items()
        if api != "TMF683"
        for r in entries
        if r["method"] in WRITES
    ]


async def forget_requests(http: aiohttp.ClientSession, sandbox: RunningSandbox) -> None:
    await call(http, "DELETE", f"{sandbox.url}/admin/requests")


async def set_fault(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, api: str, **fault: object
) -> None:
    """Give one API a fault (``down="503"``, ``hang=True``, ``methods=["POST"]``...)."""
    reply = await call(http, "PUT", f"{sandbox.url}/admin/faults/{api}", json=fault)
    assert reply.status == 200, reply.body


async def clear_faults(http: aiohttp.ClientSession, sandbox: RunningSandbox) -> None:
    await call(http, "DELETE", f"{sandbox.url}/admin/faults")


async def audit_written(gateway: RunningGateway, within: float = 5.0) -> None:
    """Until the gateway's audit writer has sent every record to TMF683."""
    deadline = time.monotonic() + within
    while gateway.state.audit.pending:
        assert time.monotonic() < deadline, "the action's interaction was not written"
        await asyncio.sleep(0.02)


async def interactions_of(
    http: aiohttp.ClientSession,
    sandbox: RunningSandbox,
    gateway: RunningGateway,
    customer: str,
    action: str | None = None,
) -> list[dict[str, Any]]:
    """The customer's TMF683 interactions once the audit is written; of ``action`` only, if
    named (its reason ends with it)."""
    await audit_written(gateway)
    reply = await call(
        http, "GET", url_of(sandbox.url, "partyInteraction"), params={"relatedParty.id": customer}
    )
    assert reply.status in (200, 206), reply.body
    found: list[dict[str, Any]] = reply.body
    return [r for r in found if action is None or str(r.get("reason", "")).endswith(action)]


async def refused_before_any_backend_request(
    http: aiohttp.ClientSession,
    gateway: RunningGateway,
    key_path: Path,
    who: str | None,
    code: str,
    document: str,
    given: dict[str, Any],
) -> None:
    """``who`` (of :data:`NOT_SUBSTANTIAL`) is refused the action with GraphQL error ``code``,
    and no backend is asked anything."""
    key = load_or_create_key(key_path)
    tokens = {
        "ivr": mint(key, role="customer", channel="ivr", customer_id="cus-000001"),
        "low": mint(key, role="customer", channel="web", customer_id="cus-000001", acr="low"),
        "analyst": mint(key, role="analyst", channel="agent-desktop", subject="x1"),
    }
    requests = gateway.backend_requests()
    result = await post_graphql(
        http, gateway.url, document, {"input": given}, tokens.get(who or "")
    )
    assert result.get("data") is None, result
    assert {e["extensions"]["code"] for e in result["errors"]} == {code}, result
    assert gateway.backend_requests() == requests


async def record_of(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, collection: str, record_id: str
) -> dict[str, Any]:
    """A record as the sandbox stores it (it must exist)."""
    reply = await call(http, "GET", url_of(sandbox.url, collection, record_id))
    assert reply.status == 200, reply.body
    record: dict[str, Any] = reply.body
    return record


async def merge_patch(
    http: aiohttp.ClientSession,
    sandbox: RunningSandbox,
    collection: str,
    record_id: str,
    body: dict[str, Any],
) -> None:
    """Change a record directly at the sandbox, as another system would."""
    reply = await call(
        http,
        "PATCH",
        url_of(sandbox.url, collection, record_id),
        json=body,
        content_type="application/merge-patch+json",
    )
    assert reply.status == 200, reply.body
