"""The generic collection engine over real HTTP: TMF630 list, get, create, patch, delete."""

from __future__ import annotations

import aiohttp
import pytest

from graph.sandbox import RunningSandbox
from graph.sandbox.registry import COLLECTIONS
from tests.support.tmf_client import call, url_of


async def first(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, name: str
) -> dict[str, object]:
    reply = await call(http, "GET", url_of(sandbox.url, name), params={"limit": "1"})
    assert reply.status in (200, 206), reply.body
    record: dict[str, object] = reply.body[0]
    return record


async def test_every_collection_lists_and_gets_by_id(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    for name in COLLECTIONS:
        listed = await call(http, "GET", url_of(sandbox.url, name), params={"limit": "2"})
        assert listed.status in (200, 206), (name, listed.body)
        assert listed.body, f"{name}: the seeded sandbox has no records"
        record = listed.body[0]
        assert record["href"] == url_of(sandbox.url, name, record["id"])
        one = await call(http, "GET", record["href"])
        assert one.status == 200
        assert one.body == record


async def test_paging_headers_and_partial_content(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    url = url_of(sandbox.url, "customer")
    whole = await call(http, "GET", url, params={"limit": "1000"})
    assert whole.status == 200
    assert whole.headers["X-Total-Count"] == whole.headers["X-Result-Count"] == "20"
    page = await call(http, "GET", url, params={"offset": "5", "limit": "4"})
    assert page.status == 206
    assert page.headers["X-Total-Count"] == "20"
    assert page.headers["X-Result-Count"] == "4"
    assert [r["id"] for r in page.body] == [r["id"] for r in whole.body[5:9]]
    past = await call(http, "GET", url, params={"offset": "50"})
    assert past.status == 206
    assert past.body == []


async def test_limit_is_capped_at_the_server_maximum(http: aiohttp.ClientSession) -> None:
    from graph.sandbox import SandboxConfig, running_sandbox

    async with running_sandbox(SandboxConfig(customers=3, max_limit=5)) as small:
        reply = await call(http, "GET", url_of(small.url, "customerBill"), params={"limit": "500"})
        assert reply.status == 206
        assert reply.headers["X-Result-Count"] == "5"
        assert int(reply.headers["X-Total-Count"]) > 5


@pytest.mark.parametrize(
    "params", [{"limit": "x"}, {"offset": "-1"}, {"nonsense": "1"}, {"sort": "zzz"}]
)
async def test_bad_list_parameters_are_400_with_a_tmf_error(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, params: dict[str, str]
) -> None:
    reply = await call(http, "GET", url_of(sandbox.url, "customer"), params=params)
    assert reply.status == 400
    assert set(reply.body) >= {"code", "reason", "message", "status"}
    assert reply.body["status"] == "400"


async def test_fields_selects_attributes_and_keeps_id_and_href(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    reply = await call(
        http,
        "GET",
        url_of(sandbox.url, "customerBill"),
        params={"fields": "state,amountDue", "limit": "3"},
    )
    assert reply.body
    for bill in reply.body:
        assert set(bill) <= {"id", "href", "state", "amountDue"}
        assert {"id", "href", "state"} <= set(bill)
    one = await call(http, "GET", reply.body[0]["href"], params={"fields": "billNo"})
    assert set(one.body) == {"id", "href", "billNo"}


async def test_dotted_filters_reach_into_arrays_and_comma_lists_are_or(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    customers = (
        await call(http, "GET", url_of(sandbox.url, "customer"), params={"limit": "3"})
    ).body
    ids = [c["id"] for c in customers]
    url = url_of(sandbox.url, "billingAccount")
    for cid in ids:
        accounts = await call(http, "GET", url, params={"relatedParty.id": cid})
        assert accounts.body
        for account in accounts.body:
            assert cid in [p["id"] for p in account["relatedParty"]]
    both = await call(http, "GET", url, params={"relatedParty.id": f"{ids[0]},{ids[1]}"})
    singles = [
        (await call(http, "GET", url, params={"relatedParty.id": cid})).body for cid in ids[:2]
    ]
    assert sorted(a["id"] for a in both.body) == sorted(a["id"] for s in singles for a in s)
    by_id = await call(http, "GET", url_of(sandbox.url, "customer"), params={"id": ",".join(ids)})
    assert sorted(c["id"] for c in by_id.body) == sorted(ids)
    none = await call(http, "GET", url, params={"relatedParty.id": "cus-999999"})
    assert none.status == 200
    assert none.body == []
    assert none.headers["X-Total-Count"] == "0"


async def test_non_indexed_filters_operators_and_sort(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    account = await first(http, sandbox, "billingAccount")
    url = url_of(sandbox.url, "customerBill")
    bills = (await call(http, "GET", url, params={"billingAccount.id": str(account["id"])})).body
    dates = sorted(b["billDate"] for b in bills)
    middle = dates[len(dates) // 2]
    later = await call(
        http,
        "GET",
        url,
        params={
            "billingAccount.id": str(account["id"]),
            "billDate.gte": middle,
            "sort": "-billDate",
        },
    )
    got = [b["billDate"] for b in later.body]
    assert got == sorted((d for d in dates if d >= middle), reverse=True)
    state = bills[0]["state"]
    same_state = await call(
        http, "GET", url, params={"billingAccount.id": str(account["id"]), "state": state}
    )
    assert same_state.body
    assert all(b["state"] == state for b in same_state.body)
    assert len(same_state.body) == sum(1 for b in bills if b["state"] == state)


async def test_get_unknown_id_is_404_with_a_tmf_error(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    for record_id in ("cus-999999", "cus-nope", "whatever"):
        reply = await call(http, "GET", url_of(sandbox.url, "customer", record_id))
        assert reply.status == 404
        assert reply.body["code"]
        assert reply.body["reason"]
        assert "Traceback" not in str(reply.body)


async def test_unknown_route_and_method_are_tmf_errors(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    missing = await call(http, "GET", f"{sandbox.url}/tmf-api/nothing/v4/thing")
    assert missing.status == 404
    assert missing.body["status"] == "404"
    not_allowed = await call(
        http, "POST", url_of(sandbox.url, "customerBill"), json={"billNo": "1"}
    )
    assert not_allowed.status == 405
    assert not_allowed.body["status"] == "405"


async def test_create_returns_201_with_id_href_and_location(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    body = {"givenName": "Ada", "familyName": "Lovelace", "birthDate": "1990-12-10"}
    reply = await call(http, "POST", url_of(sandbox.url, "individual"), json=body)
    assert reply.status == 201, reply.body
    created = reply.body
    assert created["id"]
    assert created["href"] == url_of(sandbox.url, "individual", created["id"])
    assert reply.headers["Location"] == created["href"]
    assert created["givenName"] == "Ada"
    fetched = await call(http, "GET", created["href"])
    assert fetched.body == created
    found = await call(
        http, "GET", url_of(sandbox.url, "individual"), params={"familyName": "Lovelace"}
    )
    assert [r["id"] for r in found.body] == [created["id"]]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{not json", "Invalid body"),
        (b"[1, 2]", "Invalid body"),
        (b"", "Invalid body"),
        (b'{"givenName": "A", "familyName": "B", "shoeSize": 44}', "Unknown attribute"),
        (b'{"givenName": "A"}', "Missing attribute"),
        (b'{"givenName": 7, "familyName": "B"}', "Invalid attribute value"),
        (b'{"givenName": "A", "familyName": "B", "id": "mine"}', "Unknown attribute"),
    ],
)
async def test_bad_create_bodies_are_400_and_store_nothing(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, data: bytes, reason: str
) -> None:
    url = url_of(sandbox.url, "individual")
    before = (await call(http, "GET", url, params={"limit": "1000"})).headers["X-Total-Count"]
    reply = await call(http, "POST", url, data=data)
    assert reply.status == 400
    assert reply.body["reason"] == reason
    after = (await call(http, "GET", url, params={"limit": "1000"})).headers["X-Total-Count"]
    assert after == before


async def test_patch_is_a_merge_patch(sandbox: RunningSandbox, http: aiohttp.ClientSession) -> None:
    individual = await first(http, sandbox, "individual")
    url = str(individual["href"])
    patch = {"preferredGivenName": "Kit", "title": None, "gender": "female"}
    reply = await call(http, "PATCH", url, json=patch, content_type="application/merge-patch+json")
    assert reply.status == 200, reply.body
    assert reply.body["preferredGivenName"] == "Kit"
    assert "title" not in reply.body
    assert reply.body["familyName"] == individual["familyName"]
    again = await call(http, "GET", url)
    assert again.body == reply.body


async def test_patch_refuses_other_media_types_and_read_only_attributes(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    individual = await first(http, sandbox, "individual")
    url = str(individual["href"])
    json_patch = await call(
        http,
        "PATCH",
        url,
        json=[{"op": "replace", "path": "/title", "value": "Dr"}],
        content_type="application/json-patch+json",
    )
    assert json_patch.status == 415
    read_only = await call(
        http, "PATCH", url, json={"id": "other"}, content_type="application/merge-patch+json"
    )
    assert read_only.status == 400
    assert (await call(http, "GET", url)).body == individual


async def test_delete_is_204_then_404(sandbox: RunningSandbox, http: aiohttp.ClientSession) -> None:
    created = await call(
        http,
        "POST",
        url_of(sandbox.url, "individual"),
        json={"givenName": "Del", "familyName": "Me"},
    )
    deleted = await call(http, "DELETE", created.body["href"])
    assert deleted.status == 204
    assert (await call(http, "GET", created.body["href"])).status == 404
    assert (await call(http, "DELETE", created.body["href"])).status == 404
