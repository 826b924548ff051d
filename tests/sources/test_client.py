"""The TMF client against the sandbox over real HTTP: batching, chunking, paging, errors."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest

from graph.sandbox import Fault, RunningSandbox, SandboxConfig, running_sandbox
from graph.sources import (
    APIS,
    BackendNotFound,
    BackendRejected,
    BackendTimeout,
    BackendUnavailable,
    Sources,
    TmfClient,
    open_clients,
)
from graph.sources import client as client_module
from tests.conftest import TODAY

Calls = list[tuple[str, str, str]]


@pytest.fixture
async def calls() -> Calls:
    return []


@pytest.fixture
async def sources(sandbox: RunningSandbox, calls: Calls) -> AsyncIterator[Sources]:
    urls = {api.key: sandbox.url + api.base_path for api in APIS}

    def observe(api: str, method: str, status: str, seconds: float) -> None:
        calls.append((api, method, status))

    async with open_clients(urls, 0.5, observe) as clients:
        yield Sources.on(clients)


async def test_by_ids_batches_into_one_request_and_skips_missing(
    sources: Sources, calls: Calls
) -> None:
    ids = ["cus-000003", "cus-000001", "cus-999999", "cus-000003"]
    found = await sources.customer.by_ids(ids)
    assert sorted(c["id"] for c in found) == ["cus-000001", "cus-000003"]
    assert calls == [("TMF629", "GET", "200")]


async def test_by_ref_uses_the_reference_filter(sources: Sources, calls: Calls) -> None:
    accounts = await sources.billing_account.by_ref("relatedParty.id", ["cus-000001", "cus-000002"])
    owners = {p["id"] for a in accounts for p in a.get("relatedParty", [])}
    assert {"cus-000001", "cus-000002"} <= owners
    assert len(calls) == 1


async def test_long_id_lists_are_chunked_by_url_length(
    sources: Sources, calls: Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "MAX_URL_QUERY", 40)
    ids = [f"cus-{i:06d}" for i in range(1, 21)]
    found = await sources.customer.by_ids(ids)
    assert sorted(c["id"] for c in found) == ids
    assert len(calls) == 7  # 3 ids of 10 characters + commas per 40-character chunk


async def test_paging_follows_the_total_count(http: aiohttp.ClientSession) -> None:
    config = SandboxConfig(customers=3, seed=7, today=TODAY, max_limit=5)
    async with running_sandbox(config) as small:
        client = TmfClient(
            "TMF678", small.url + "/tmf-api/customerBillManagement/v4", http, page_size=5
        )
        bills = await client.list_all("customerBill", {"relatedParty.id": "cus-000001"})
        direct = await http.get(
            small.url + "/tmf-api/customerBillManagement/v4/customerBill",
            params={"relatedParty.id": "cus-000001", "limit": "5"},
        )
        total = int(direct.headers["X-Total-Count"])
        direct.release()
        assert total > 5
        assert len(bills) == total
        assert len({b["id"] for b in bills}) == total


async def test_get_returns_none_on_404_and_fields_project(sources: Sources) -> None:
    assert await sources.customer.get("cus-999999") is None
    projected = await sources.customer.get("cus-000001", fields=["name"])
    assert projected is not None
    assert set(projected) == {"id", "href", "name"}


async def test_backend_failures_map_to_typed_errors(
    sandbox: RunningSandbox, sources: Sources, http: aiohttp.ClientSession
) -> None:
    sandbox.faults.set("TMF629", Fault(error_rate=1.0, error_status=503))
    with pytest.raises(BackendUnavailable) as unavailable:
        await sources.customer.by_ids(["cus-000001"])
    assert unavailable.value.api == "TMF629"
    assert "http" not in str(unavailable.value)
    sandbox.faults.set("TMF629", Fault(down="reset"))
    with pytest.raises(BackendUnavailable):
        await sources.customer.get("cus-000001")
    sandbox.faults.set("TMF629", Fault(latency_ms=1500))
    with pytest.raises(BackendTimeout):
        await sources.customer.get("cus-000001")
    sandbox.faults.clear()
    with pytest.raises(BackendRejected) as rejected:
        await sources.customer.search({"shoeSize": "44"})
    assert rejected.value.status == 400
    assert not isinstance(rejected.value, BackendNotFound)


async def test_a_refused_connection_is_unavailable(http: aiohttp.ClientSession) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = TmfClient("TMF629", f"http://127.0.0.1:{port}/tmf-api/customerManagement/v4", http)
    with pytest.raises(BackendUnavailable):
        await client.get("customer", "cus-000001")


async def test_a_list_too_long_to_show_is_refused_not_followed(
    http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "MAX_PAGES", 2)
    config = SandboxConfig(customers=3, seed=7, today=TODAY, max_limit=5)
    async with running_sandbox(config) as small:
        client = TmfClient(
            "TMF678", small.url + "/tmf-api/customerBillManagement/v4", http, page_size=5
        )
        with pytest.raises(BackendUnavailable):
            await client.list_all("customerBill", {"relatedParty.id": "cus-000001"})
