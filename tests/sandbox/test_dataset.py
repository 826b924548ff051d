"""Lazy materialization: requests scoped by ids touch only their customers; others touch all."""

from __future__ import annotations

import datetime

import aiohttp

from graph.sandbox import RunningSandbox, SandboxConfig, running_sandbox
from graph.sandbox.dataset import Dataset
from graph.sandbox.seed import SeedPlan, party_records
from graph.sandbox.validation import merge_patch
from tests.support.tmf_client import call, url_of

TODAY = datetime.date(2026, 11, 26)


async def materialized(http: aiohttp.ClientSession, sandbox: RunningSandbox) -> dict[str, int]:
    stats: dict[str, int] = (await call(http, "GET", f"{sandbox.url}/admin/stats")).body[
        "materialized"
    ]
    return stats


async def test_a_large_sandbox_starts_without_materializing_anyone(
    http: aiohttp.ClientSession,
) -> None:
    async with running_sandbox(SandboxConfig(customers=100_000, today=TODAY)) as sandbox:
        assert await materialized(http, sandbox) == {"parties": 0, "customers": 0}
        bills = await call(
            http, "GET", url_of(sandbox.url, "customerBill"),
            params={"relatedParty.id": "cus-099999", "fields": "id"},
        )  # fmt: skip
        assert bills.body
        assert await materialized(http, sandbox) == {"parties": 1, "customers": 1}
        one = await call(http, "GET", url_of(sandbox.url, "customer", "cus-054321"))
        assert one.status == 200
        assert await materialized(http, sandbox) == {"parties": 2, "customers": 1}
        beyond = await call(http, "GET", url_of(sandbox.url, "customer", "cus-100001"))
        assert beyond.status == 404


async def test_a_search_on_a_non_id_attribute_reaches_customers_not_yet_materialized(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    plan = SeedPlan(seed=7, customers=20, today=TODAY, base_url=sandbox.url)
    person = party_records(plan, 17)["individual"][0]
    email = next(
        c["characteristic"]["emailAddress"]
        for c in person["contactMedium"]
        if c["mediumType"] == "email"
    )
    found = await call(
        http, "GET", url_of(sandbox.url, "individual"),
        params={"contactMedium.characteristic.emailAddress": email},
    )  # fmt: skip
    assert [p["id"] for p in found.body] == [person["id"]]


def test_shared_copies_never_leak_a_change_from_one_record_to_another() -> None:
    dataset = Dataset(SeedPlan(seed=3, customers=2, today=TODAY))
    spec_bills = dataset["customerBill"]
    dataset._ensure_accounts(1)
    bills = list(spec_bills._records.values())
    unit_dicts = {id(b["amountDue"]) for b in bills}
    assert len(unit_dicts) <= len(bills)  # sharing happens
    first = bills[0]
    patched = merge_patch(first, {"amountDue": {"value": 1.23}})
    spec_bills.replace(patched)
    assert all(b["amountDue"]["value"] != 1.23 for b in bills[1:])
    assert first["amountDue"]["value"] != 1.23
