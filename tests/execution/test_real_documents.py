"""Real documents through two gateways on one sandbox, one with the fast execution path
(``optimizations=True``) and one on the stock path: the same HTTP answers, byte for byte
after JSON decoding -- data, errors with their codes and paths, masking, permissions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from graph.execution.live import FastLiveExecutor
from graph.ids import encode_global_id
from graph.sandbox import RunningSandbox
from graph.schema import build_schema
from graph.schema.subscription import LiveExecutor
from tests.gateway.conftest import RunningGateway, auth_headers, running_gateway, settings_for
from tests.gateway.test_analyst_masking import QUERY as MASKED
from tests.gateway.test_customer360 import LIST, ME

MANIFEST = Path(__file__).parents[2] / "graph" / "operations" / "manifest.json"

NODES = """query Nodes($id: ID!, $withLines: Boolean!, $noState: Boolean!) {
  mine: me { reference }
  a: node(id: $id) { __typename id ...Shown }
  b: node(id: $id) { ... on Node { id } }
}
fragment Shown on Node {
  ... on Bill { billNo state s: state amountDue { amount currency }
                lines @include(if: $withLines) { name } }
  ... on Customer { name status @skip(if: $noState) }
  ... on Payment { reference status totalAmount { amount } }
}"""

PARTIAL = """{ me { name } customers(first: 2) { totalCount } }"""


def test_the_optimized_schema_uses_the_fast_executor_and_the_stock_one_does_not() -> None:
    assert build_schema(optimizations=True).execution_context_class is FastLiveExecutor
    assert build_schema(optimizations=False).execution_context_class is LiveExecutor
    assert issubclass(FastLiveExecutor, LiveExecutor)


def nodes(global_id: str, lines: bool = False, state: bool = True) -> dict[str, Any]:
    return {"id": global_id, "withLines": lines, "noState": not state}


def manifest_queries() -> list[tuple[str, str]]:
    operations = json.loads(MANIFEST.read_text())
    return [
        (op["document"], op["channels"][0])
        for op in operations
        if op["document"].lstrip().startswith("query") and "$" not in op["document"]
    ]


@pytest.mark.slow
async def test_real_documents_answer_alike(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    async def ask(
        gateway: RunningGateway, query: str, principal: str | None, variables: dict[str, Any]
    ) -> Any:
        headers = {"Content-Type": "application/json", **auth_headers(principal, dev_idp_key)}
        body = orjson.dumps({"query": query, "variables": variables})
        async with http.post(f"{gateway.url}/graphql", data=body, headers=headers) as resp:
            return resp.status, orjson.loads(await resp.read())

    customer = "customer:cus-000004"
    bill = (await _first_bill(sandbox, http, "cus-000004"))["id"]
    asks: list[tuple[str, str | None, dict[str, Any]]] = [
        (ME, customer, {}),
        (LIST, "agent:a1", {"n": 5}),
        (MASKED, "analyst:x", {"id": "cus-000004"}),
        (MASKED, "agent:a1", {"id": "cus-000004"}),
        (PARTIAL, customer, {}),  # FORBIDDEN beside data
        (NODES, customer, nodes(encode_global_id("Bill", bill), lines=True, state=False)),
        (NODES, customer, nodes(encode_global_id("Bill", "no-such-bill"))),
        (NODES, customer, nodes("not a global id")),
        # an agent: `me` is FORBIDDEN, the node is another domain's type
        (NODES, "agent:a1", nodes(encode_global_id("Customer", "cus-000004"))),
        ("{ productOfferings(first: 5) { edges { node { name prices { price { amount } } } } } }",
         None, {}),
    ]  # fmt: skip
    asks += [(doc, f"customer:cus-000002@{channel}", {}) for doc, channel in manifest_queries()]
    assert len(asks) > 10

    async with (
        running_gateway(settings_for(sandbox, optimizations=True)) as fast,
        running_gateway(settings_for(sandbox, optimizations=False)) as stock,
    ):
        errors = 0
        for query, principal, variables in asks:
            answer = await ask(stock, query, principal, variables)
            assert await ask(fast, query, principal, variables) == answer, query
            errors += "errors" in answer[1]
    # the comparison covered errors too, not only clean answers
    assert errors >= 2


async def _first_bill(sandbox: RunningSandbox, http: aiohttp.ClientSession, cid: str) -> Any:
    from tests.gateway.test_customer360 import tmf

    accounts = await tmf(http, sandbox, "billingAccount", **{"relatedParty.id": cid})
    bills = await tmf(http, sandbox, "customerBill", **{"billingAccount.id": accounts[0]["id"]})
    return bills[0]
