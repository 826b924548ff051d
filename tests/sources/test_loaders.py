"""Loaders: one backend request per batch, results in key order, groups by reference."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from graph.loaders import Loaders
from graph.sandbox import RunningSandbox
from graph.sources import APIS, Sources, open_clients

Calls = list[str]


@pytest.fixture
async def counted(sandbox: RunningSandbox) -> AsyncIterator[tuple[Sources, Calls]]:
    calls: Calls = []
    urls = {api.key: sandbox.url + api.base_path for api in APIS}
    async with open_clients(urls, 2.0, lambda api, *_: calls.append(api)) as clients:
        yield Sources.on(clients), calls


async def test_by_id_batches_and_keeps_key_order(counted: tuple[Sources, Calls]) -> None:
    sources, calls = counted
    loader = Loaders().by_id(sources.customer)
    keys = ["cus-000005", "cus-999999", "cus-000002", "cus-000005"]
    found = await asyncio.gather(*(loader.load(k) for k in keys))
    assert [r["id"] if r else None for r in found] == [
        "cus-000005",
        None,
        "cus-000002",
        "cus-000005",
    ]
    assert calls == ["TMF629"]
    again = await loader.load("cus-000002")
    assert again is not None
    assert calls == ["TMF629"]  # cached for the request


async def test_by_ref_groups_per_key_and_primes_by_id(counted: tuple[Sources, Calls]) -> None:
    sources, calls = counted
    loaders = Loaders()
    by_account = loaders.by_ref(sources.bill, "billingAccount.id")
    keys = ["ba-000001-1", "ba-000002-1", "ba-999999-1"]
    groups = await asyncio.gather(*(by_account.load(k) for k in keys))
    assert calls == ["TMF678"]
    for key, bills in zip(keys, groups, strict=True):
        assert all(b["billingAccount"]["id"] == key for b in bills)
    assert groups[0]
    assert groups[2] == []
    bill = await loaders.by_id(sources.bill).load(groups[0][0]["id"])
    assert bill is groups[0][0]
    assert calls == ["TMF678"]


async def test_each_request_gets_fresh_loaders(counted: tuple[Sources, Calls]) -> None:
    sources, calls = counted
    await Loaders().by_id(sources.customer).load("cus-000001")
    await Loaders().by_id(sources.customer).load("cus-000001")
    assert calls == ["TMF629", "TMF629"]
