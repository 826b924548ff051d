"""Hostile input is refused cheaply and never turns into more than it says."""

from __future__ import annotations

import aiohttp
import orjson

from graph.sandbox import RunningSandbox
from tests.gateway.conftest import GQL, RunningGateway
from tests.support.tmf_client import call, url_of


async def test_an_oversized_body_is_413_before_parsing(
    gateway: RunningGateway, http: aiohttp.ClientSession
) -> None:
    document = "{" + " a" * 70_000 + " }"
    async with http.post(
        f"{gateway.url}/graphql",
        data=orjson.dumps({"query": document}),
        headers={"Content-Type": "application/json"},
    ) as resp:
        assert resp.status == 413


async def test_a_document_with_too_many_tokens_is_refused(
    gql: GQL, gateway: RunningGateway
) -> None:
    before = gateway.backend_requests()
    result = await gql("{" + " __typename" * 3000 + " }")
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert gateway.backend_requests() == before


async def test_an_id_cannot_smuggle_a_tmf_or_list(gql: GQL, gateway: RunningGateway) -> None:
    before = gateway.backend_requests()
    result = await gql(
        '{ customer(id: "cus-000001,cus-000002,cus-000003") { name } }', principal="agent:a1"
    )
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert gateway.backend_requests() == before


async def test_a_backend_value_the_schema_cannot_serialize_is_internal_and_not_echoed(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    tickets = await call(
        http, "GET", url_of(sandbox.url, "troubleTicket"), params={"relatedParty.id": "cus-000001"}
    )
    ticket = tickets.body[0]
    note = {"text": "call back", "author": {"internalUser": "svc-crm-prod", "db": "10.1.2.3"}}
    patched = await call(
        http, "PATCH", ticket["href"], json={"note": [note]},
        content_type="application/merge-patch+json",
    )  # fmt: skip
    assert patched.status == 200, patched.body
    query = """query($id: ID!) { customer(id: $id) {
      troubleTickets { edges { node { notes { author } } } } } }"""
    result = await gql(query, {"id": "cus-000001"}, principal="agent:a1")
    codes = {e["extensions"]["code"] for e in result["errors"]}
    assert codes == {"INTERNAL"}
    assert "svc-crm-prod" not in orjson.dumps(result).decode()
