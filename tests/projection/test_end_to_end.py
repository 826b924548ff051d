"""Projection end to end: the backends get ``fields=``, send less, and the answers are exactly
those of a gateway that fetches whole records (optimizations off), on the same data."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from graphql import GraphQLObjectType, get_named_type, is_leaf_type

from graph.sandbox import RunningSandbox
from graph.schema import build_schema
from tests.gateway.conftest import RunningGateway, auth_headers, running_gateway, settings_for
from tests.gateway.test_customer360 import LIST, ME

SCHEMA = build_schema()._schema
CUSTOMERS = [f"cus-{n:06d}" for n in range(1, 9)]


def leaves(type_name: str, depth: int = 3) -> str:
    """Every field of the type that is made of its own record: leaves, and value objects
    (Money, periods, notes...) with theirs. Relations are written out by the documents."""
    graphql_type = SCHEMA.get_type(type_name)
    assert isinstance(graphql_type, GraphQLObjectType), type_name
    parts: list[str] = []
    for name, graphql_field in graphql_type.fields.items():
        definition = graphql_field.extensions["strawberry-definition"]
        named = get_named_type(graphql_field.type)
        if is_leaf_type(named):
            parts.append(name)
        elif definition.base_resolver is None and depth > 0 and not graphql_field.args:
            parts.append(f"{name} {{ {leaves(named.name, depth - 1)} }}")
    return " ".join(parts)


L = leaves
# Every field of every type a customer's queries reach, in documents within the guardrails'
# token limit.
EVERYTHING = {
    "crm": f"""query Crm {{ me {{ {L("Customer")} person {{ {L("Person")} }}
      paymentMethods {{ {L("PaymentMethod")} }} }} }}""",
    "accounts": f"""query Accounts {{ me {{ billingAccounts {{ {L("BillingAccount")}
      defaultPaymentMethod {{ reference kind }}
      bills(first: 2) {{ totalCount edges {{ cursor node {{ {L("Bill")}
        lines {{ {L("BillLine")} product {{ reference name }} }}
        appliedPayments {{ appliedAmount {{ amount }} payment {{ reference status }} }}
        account {{ reference }} }} }} }} }} }} }}""",
    "payments": f"""query Payments {{ me {{
      bills(first: 4) {{ totalCount edges {{ node {{ reference billDate }} }} }}
      payments(first: 5) {{ totalCount edges {{ node {{ {L("Payment")}
        method {{ reference kind }} account {{ reference name }}
        items {{ amount {{ amount }} bill {{ reference billNo }} }} }} }} }}
      usage(first: 5) {{ edges {{ node {{ {L("Usage")} product {{ reference }} }} }} }} }} }}""",
    "products": f"""query Products {{ me {{ products(first: 5) {{ edges {{ node {{ {L("Product")}
      offering {{ {L("ProductOffering")} categories {{ {L("Category")} }}
        prices {{ {L("OfferingPrice")} }} }}
      billingAccount {{ reference name }}
      services {{ reference health problems {{ reference }} }} }} }} }} }} }}""",
    "services": f"""query Services {{ me {{ services(first: 4) {{ edges {{ node {{
      {L("Service")} health problems {{ {L("ServiceProblem")} affectedServices {{ reference }}
        troubleTickets {{ reference status }} }}
      supportingResources {{ {L("Resource")} }} }} }} }} }} }}""",
    "tickets": f"""query Tickets {{ me {{
      troubleTickets(first: 5) {{ edges {{ node {{ {L("TroubleTicket")}
        relatedEntities {{ reference entity {{ __typename ... on Bill {{ reference billNo }}
          ... on Product {{ reference name }} ... on Service {{ reference name }}
          ... on Resource {{ reference name }} }} }} }} }} }}
      open: troubleTickets(open: true, first: 5) {{ totalCount edges {{ node {{ reference }} }} }}
      closed: troubleTickets(open: false) {{ totalCount }} }} }}""",
    "orders": f"""query Orders {{ me {{ productOrders(first: 5) {{ edges {{ node {{
      {L("ProductOrder")} items {{ itemId action state quantity offering {{ reference name }}
        product {{ reference name }} }} }} }} }}
      interactions(first: 5) {{ edges {{ node {{ {L("PartyInteraction")} }} }} }} }} }}""",
}


@dataclass
class Pair:
    """Two gateways on one sandbox: projection on (optimizations on) and off."""

    projected: RunningGateway
    whole: RunningGateway
    sent: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)  # by projected


@pytest.fixture
async def pair(sandbox: RunningSandbox) -> AsyncIterator[Pair]:
    async with (
        running_gateway(settings_for(sandbox, optimizations=True)) as projected,
        running_gateway(settings_for(sandbox, optimizations=False)) as whole,
    ):
        found = Pair(projected, whole)
        for client in projected.state.clients.values():
            client.call_hook = _recorder(found.sent)
        yield found


def _recorder(sent: list[tuple[str, str, dict[str, str]]]) -> Any:
    def hook(
        api: str, method: str, url: str, params: Mapping[str, str] | None, headers: Any
    ) -> Any:
        if method == "GET":
            sent.append((api, url, dict(params or {})))
        return lambda outcome: None

    return hook


async def ask(
    http: aiohttp.ClientSession,
    gateway: RunningGateway,
    key: Path,
    document: str,
    principal: str,
    variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", **auth_headers(principal, key)}
    body = orjson.dumps({"query": document, "variables": variables or {}})
    async with http.post(f"{gateway.url}/graphql", data=body, headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        answer: dict[str, Any] = orjson.loads(await resp.read())
    assert "errors" not in answer, answer["errors"]
    return answer


async def same_answer(
    http: aiohttp.ClientSession,
    pair: Pair,
    key: Path,
    document: str,
    principal: str,
    variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    projected = await ask(http, pair.projected, key, document, principal, variables)
    whole = await ask(http, pair.whole, key, document, principal, variables)
    assert projected == whole
    return projected


def filled(value: Any) -> int:
    """How many non-null leaves an answer holds (an all-null answer proves nothing)."""
    if isinstance(value, dict):
        return sum(filled(v) for v in value.values())
    if isinstance(value, list):
        return sum(filled(v) for v in value)
    return 0 if value is None else 1


async def test_the_bill_request_of_a_customer_360_names_its_fields(
    pair: Pair, http: aiohttp.ClientSession, dev_idp_key: Path, sandbox: RunningSandbox
) -> None:
    await same_answer(http, pair, dev_idp_key, ME, "customer:cus-000004")
    bills = [params for api, url, params in pair.sent if url.endswith("/customerBill")]
    assert len(bills) == 1
    asked = set(bills[0]["fields"].split(","))
    # What the view shows and sorts by, the key bills are grouped by, the scope's keys.
    assert {"id", "billNo", "billDate", "state", "amountDue", "remainingAmount"} <= asked
    assert {"appliedPayment", "billingAccount", "relatedParty"} <= asked
    assert not asked & {"taxItem", "billDocument", "billingPeriod", "taxIncludedAmount"}
    # Every batched read of the customer-360 is projected.
    assert all("fields" in params for _, _, params in pair.sent)
    # And the sandbox honours it: the same request answers with those attributes only.
    url, params = next((u, p) for _, u, p in pair.sent if u.endswith("/customerBill"))
    async with http.get(url, params=params) as resp:
        records = await resp.json()
    assert records
    assert all(set(r) <= asked | {"href"} for r in records)


async def test_the_stock_path_asks_for_whole_records(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    sent: list[tuple[str, str, dict[str, str]]] = []
    async with running_gateway(settings_for(sandbox, optimizations=False)) as whole:
        for client in whole.state.clients.values():
            client.call_hook = _recorder(sent)
        await ask(http, whole, dev_idp_key, ME, "customer:cus-000004")
    assert sent
    assert not [params for _, _, params in sent if "fields" in params]


async def test_customer_360s_answer_as_with_whole_records(
    pair: Pair, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    for customer in CUSTOMERS:
        answer = await same_answer(http, pair, dev_idp_key, ME, f"customer:{customer}")
        assert filled(answer) > 20


@pytest.mark.parametrize("name", sorted(EVERYTHING))
async def test_every_field_answers_as_with_whole_records(
    pair: Pair, http: aiohttp.ClientSession, dev_idp_key: Path, name: str
) -> None:
    total = 0
    for customer in CUSTOMERS:
        answer = await same_answer(
            http, pair, dev_idp_key, EVERYTHING[name], f"customer:{customer}"
        )
        total += filled(answer)
    assert total > 50
    assert all("fields" in params for _, _, params in pair.sent if "id" in params)


async def test_staff_and_node_queries_answer_as_with_whole_records(
    pair: Pair, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    # An analyst's view is masked; an agent's list is recorded (agents' reads are audited:
    # asked last, so that no other answer sees the access records).
    bill_ids = await ask(
        http, pair.whole, dev_idp_key, "{ me { bills(first: 2) { edges { node { id } } } } }",
        "customer:cus-000003",
    )  # fmt: skip
    edges = bill_ids["data"]["me"]["bills"]["edges"]
    assert edges
    node = """query N($id: ID!) { node(id: $id) { id __typename
      ... on Bill { billNo state amountDue { amount } lines { name } account { reference } } } }"""
    for edge in edges:
        answer = await same_answer(
            http, pair, dev_idp_key, node, "customer:cus-000003", {"id": edge["node"]["id"]}
        )
        assert answer["data"]["node"]["billNo"]
    analyst = EVERYTHING["crm"].replace("me {", 'customer(id: "cus-000005") {')
    await same_answer(http, pair, dev_idp_key, analyst, "analyst:x")
    customer_id = base64.urlsafe_b64encode(b"Customer:cus-000002").decode().rstrip("=")
    await same_answer(http, pair, dev_idp_key, node.replace("Bill", "Customer").replace(
        "billNo state amountDue { amount } lines { name } account { reference }",
        "name status person { fullName } billingAccounts { name }",
    ), "analyst:x", {"id": customer_id})  # fmt: skip
    listed = await same_answer(http, pair, dev_idp_key, LIST, "agent:a1", {"n": 10})
    assert len(listed["data"]["customers"]["edges"]) == 10


async def test_a_customer_360_receives_less(
    pair: Pair, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    """The bytes the backends send for one customer-360, projected and whole: the same
    requests replayed against the sandbox with and without ``fields=``."""
    await ask(http, pair.projected, dev_idp_key, ME, "customer:cus-000004")
    sizes: dict[str, list[int]] = {}
    for _, url, params in pair.sent:
        unprojected = {k: v for k, v in params.items() if k != "fields"}
        resource = url.rsplit("/", 1)[-1]
        got = sizes.setdefault(resource, [0, 0])
        for i, query in enumerate((params, unprojected)):
            async with http.get(url, params=query) as resp:
                got[i] += len(await resp.read())
    projected, whole = (sum(s[i] for s in sizes.values()) for i in (0, 1))
    print(f"\ncustomer-360 bytes received: {projected} projected, {whole} whole")
    for resource, (p, w) in sorted(sizes.items()):
        print(f"  {resource}: {p} / {w}")
    assert sizes["customerBill"][0] < sizes["customerBill"][1] * 0.6
    assert projected < whole * 0.7
