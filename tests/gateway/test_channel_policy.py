"""The channel policy, through the real gateway: who each channel admits, trusted operations
on kiosk and IVR (by document or by id), assurance levels per field, depth and cost limits,
introspection -- each refusal made before execution, without a backend request."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import jwt
import orjson
import pytest
from graphql import get_introspection_query, parse
from strawberry.extensions import ValidationCache

from graph.auth.devidp import DEV_AUDIENCE, DEV_ISSUER, key_id, load_or_create_key, mint
from graph.auth.policy import (
    CHANNEL_POLICY,
    FIELD_ASSURANCE,
    INTROSPECTION_MAX_COST,
    ChannelPolicy,
    analyze,
    effective_acr,
    introspection_allowed,
    policy_for,
    required_assurance,
)
from graph.auth.principal import ASSURANCE_LEVELS, CHANNELS, Principal, Role
from graph.errors import ErrorCodes
from graph.operations import MANIFEST_PATH, add_operation, manifest_at
from graph.sandbox import RunningSandbox
from graph.schema import DOMAINS, GraphSchema, build_schema
from graph.schema.common import NODE_KINDS, encode_global_id
from graph.schema.query import Query
from graph.server.policy_extension import ChannelPolicyExtension
from graph.settings import Settings
from tests.gateway.conftest import RunningGateway, running_gateway, settings_for, token_for
from tests.support.tmf_client import call, url_of

KIOSK, IVR, WEB = "customer:cus-000001@kiosk", "customer:cus-000001@ivr", "customer:cus-000001"
ANALYST, AGENT = "analyst:x@agent-desktop", "agent:a1@agent-desktop"
IVR_CONTACT = "query IvrContact { me { person { contactMedia { kind phoneNumber } } } }"
IVR_CARD = "query IvrCard { me { paymentMethods { name card { lastFourDigits } } } }"


def doc(name: str) -> str:
    return manifest_at().by_name(name).document


class Client:
    """POSTs GraphQL to one gateway as a principal, counting the backend requests it causes."""

    def __init__(self, gateway: RunningGateway, http: aiohttp.ClientSession, key: Path) -> None:
        self.gateway, self.http, self.key = gateway, http, key
        self.backend_requests = 0

    async def post(
        self, body: dict[str, Any], principal: str | None = None, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if principal or token:
            headers["Authorization"] = f"Bearer {token or token_for(str(principal), self.key)}"
        before = self.gateway.backend_requests()
        async with self.http.post(
            f"{self.gateway.url}/graphql", data=orjson.dumps(body), headers=headers
        ) as resp:
            assert resp.status == 200, await resp.text()
            result: dict[str, Any] = orjson.loads(await resp.read())
        self.backend_requests = self.gateway.backend_requests() - before
        return result

    async def run(self, query: str, principal: str | None = None, **variables: Any) -> Any:
        return await self.post({"query": query, "variables": variables}, principal)

    async def refused(
        self, query: str, principal: str | None, code: str, **variables: Any
    ) -> dict[str, Any]:
        """Refused with ``code``, no data, and not one backend request; the first error."""
        result = await self.run(query, principal, **variables)
        assert result.get("data") is None, result
        assert [e["extensions"]["code"] for e in result["errors"]][:1] == [code], result
        assert self.backend_requests == 0
        error: dict[str, Any] = result["errors"][0]
        return error

    async def ok(self, query: str, principal: str | None = None, **variables: Any) -> Any:
        result = await self.run(query, principal, **variables)
        assert "errors" not in result, result["errors"]
        return result["data"]


@pytest.fixture
def client(gateway: RunningGateway, http: aiohttp.ClientSession, dev_idp_key: Path) -> Client:
    return Client(gateway, http, dev_idp_key)


@pytest.fixture
async def strict(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path, tmp_path: Path
) -> AsyncIterator[Client]:
    """A gateway with introspection off (as without the development IdP) and its own
    manifest: the packaged operations plus two that read what a PIN may not."""
    manifest = tmp_path / "manifest.json"
    manifest.write_bytes(MANIFEST_PATH.read_bytes())
    add_operation("IvrContact", IVR_CONTACT, manifest)
    add_operation("IvrCard", IVR_CARD, manifest)
    settings = settings_for(sandbox, introspection=False, operations_manifest=manifest)
    async with running_gateway(settings) as gateway:
        yield Client(gateway, http, dev_idp_key)


# -- the table itself ----------------------------------------------------------------------


def test_every_channel_has_a_row_and_every_assurance_entry_names_a_real_field() -> None:
    assert set(CHANNEL_POLICY) == CHANNELS
    assert {c for c, p in CHANNEL_POLICY.items() if p.trusted_only} == {"kiosk", "ivr"}
    schema = build_schema()._schema
    for coordinate, level in FIELD_ASSURANCE.items():
        type_name, _, field = coordinate.partition(".")
        assert field in getattr(schema.get_type(type_name), "fields", {}), coordinate
        assert level in ASSURANCE_LEVELS, coordinate


def test_a_missing_acr_counts_as_low_on_the_ivr_and_substantial_elsewhere() -> None:
    def acr(channel: str, value: str | None) -> str:
        principal = Principal("s", Role.CUSTOMER, "cus-1", channel, value)
        policy = policy_for(principal)
        assert isinstance(policy, ChannelPolicy)
        return effective_acr(principal, policy)

    assert acr("ivr", None) == "low"
    assert {acr(c, None) for c in CHANNELS - {"ivr"}} == {"substantial"}
    assert acr("ivr", "high") == "high"
    assert acr("web", "low") == "low"
    assert required_assurance("Mutation.anything", mutation=True) == "substantial"
    assert required_assurance("Bill.amountDue") == "low"


def test_introspection_is_for_analysts_and_otherwise_as_configured() -> None:
    analyst = Principal("x", Role.ANALYST, channel="agent-desktop")
    customer = Principal("c", Role.CUSTOMER, "cus-1", "web")
    agent = Principal("a", Role.AGENT, channel="agent-desktop")

    def allowed(principal: Principal, development: bool, configured: bool | None) -> bool:
        policy = policy_for(principal)
        assert policy is not None
        return introspection_allowed(
            principal, policy, development=development, configured=configured
        )

    assert all(allowed(analyst, d, c) for d in (True, False) for c in (None, True, False))
    for who in (customer, agent):
        assert allowed(who, True, None)
        assert not allowed(who, False, None)
        assert allowed(who, False, True)
        assert not allowed(who, True, False)


def test_cost_and_depth_follow_list_sizes_and_survive_fragment_bombs() -> None:
    schema = build_schema()._schema
    query = """query($n: Int) {
      me { bills(first: $n) { totalCount edges { node { lines { name } } } } } }"""
    # me 1 + bills (1 + totalCount 1 + edges (1 + n * (node 1 + lines (1 + 10 * name 1))))
    for n, cost in ((None, 4 + 100 * 12), (3, 4 + 3 * 12), (0, 4)):
        shape = analyze(schema, parse(query), None, {"n": n}, page_size=100)
        assert shape is not None
        assert (shape.depth, shape.cost) == (6, cost), n
    # @skip / @include: honoured when known, so a skipped field neither costs nor needs acr
    query = """query($people: Boolean) { me { person @include(if: $people) { contactMedia {
      email } } bills(first: 5) @skip(if: true) { totalCount } } }"""
    for people, cost, fields in ((False, 1, {"Query.me"}), (None, 1 + 1 + 1 + 10 * 1, None)):
        shape = analyze(schema, parse(query), None, {"people": people}, page_size=100)
        assert shape is not None
        assert shape.cost == cost, people
        assert fields is None or set(shape.fields) == fields
    # Fragments spread three times, under three aliases, twelve levels deep: 3^12 paths to
    # cost, analysed in milliseconds (each place a fragment is used is walked once).
    level = " ".join(
        f"{alias}: account {{ bills {{ edges {{ node {{ ...PREV ...PREV ...PREV }} }} }} }}"
        for alias in "abc"
    )
    fragments = ["fragment F0 on Bill { billNo }"] + [
        f"fragment F{k} on Bill {{ {level.replace('PREV', f'F{k - 1}')} }}" for k in range(1, 13)
    ]
    bomb = '{ node(id: "x") { ... on Bill { ...F12 } } }\n' + "\n".join(fragments)
    started = time.perf_counter()
    shape = analyze(schema, parse(bomb), None, None, page_size=100)
    assert time.perf_counter() - started < 0.5
    assert shape is not None
    assert shape.depth == 50
    assert shape.cost > 10**20


@pytest.mark.parametrize("validation_cache_first", [False, True])
async def test_the_execution_backstop_refuses_whatever_the_extension_order(
    validation_cache_first: bool,
) -> None:
    """Placed before ValidationCache (or with no validation of its own before it), the
    extension still refuses before any resolver runs: this context has no loaders, so a
    resolver that ran would fail INTERNAL."""
    node_types = [getattr(m, n) for m in DOMAINS for n in m.__all__ if n in NODE_KINDS]
    cache = lambda: ValidationCache(maxsize=8)  # noqa: E731
    extensions: list[Any] = [ErrorCodes, ChannelPolicyExtension]
    extensions += [cache] if validation_cache_first else []
    schema = GraphSchema(query=Query, types=node_types, extensions=extensions)
    settings = Settings()
    cases = [
        (Principal("c", Role.CUSTOMER, "cus-1", "web", "low"),
         "{ me { person { contactMedia { email } } } }", "FORBIDDEN"),
        (Principal("c", Role.CUSTOMER, "cus-1", "kiosk", "substantial"),
         "{ me { name } }", "OPERATION_NOT_ALLOWED"),
        (Principal("c", Role.CUSTOMER, "cus-1", "web", "substantial"),
         DEPTH_11, "BAD_USER_INPUT"),
    ]  # fmt: skip
    for principal, query, code in cases:
        context = SimpleNamespace(principal=principal, settings=settings)
        result = await schema.execute(query, context_value=context)
        assert result.data is None
        assert [e.extensions and e.extensions["code"] for e in result.errors or ()] == [code]


# -- channels and roles ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("principal", "query"),
    [
        ("customer:cus-000001@agent-desktop", "{ me { name } }"),
        ("agent:a1@web", '{ customer(id: "cus-000002") { name } }'),
        ("analyst:x@app", "{ customers(first: 1) { totalCount } }"),
        ("agent:a1@chatbot", '{ customer(id: "cus-000002") { name } }'),
    ],
)
async def test_a_channel_admits_only_its_roles(client: Client, principal: str, query: str) -> None:
    error = await client.refused(query, principal, "FORBIDDEN")
    role, channel = principal.split(":")[0], principal.split("@")[1]
    assert error["message"] == f"The {role} role is not admitted on the {channel} channel."


async def test_staff_work_on_the_agent_desktop(client: Client) -> None:
    query = '{ customer(id: "cus-000002") { reference } }'
    for staff in (AGENT, ANALYST):
        assert (await client.ok(query, staff))["customer"]["reference"] == "cus-000002"


# -- trusted operations on kiosk and IVR ------------------------------------------------------


async def test_kiosks_run_their_manifest_operations(client: Client) -> None:
    bill = await client.ok(doc("KioskBill"), KIOSK, first=2)
    assert bill["me"]["reference"] == "cus-000001"
    assert 0 < len(bill["me"]["bills"]["edges"]) <= 2
    account = await client.ok(doc("KioskAccount"), KIOSK)
    assert account["me"]["billingAccounts"]
    assert account["me"]["products"]["edges"]
    assert client.backend_requests > 0


async def test_kiosks_may_not_send_their_own_documents(
    client: Client, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    for query in (
        "{ me { name } }",
        doc("KioskBill") + " ",  # one byte off a trusted document
        "{ me { nope } }",  # invalid: refused all the same, without validation's hints
        "{ __schema { types { name } } }",
    ):
        error = await client.refused(query, KIOSK, "OPERATION_NOT_ALLOWED")
        assert "trusted operations" in error["message"], query
    # A request error: 400 under application/graphql-response+json.
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/graphql-response+json",
        "Authorization": f"Bearer {token_for(KIOSK, dev_idp_key)}",
    }
    body = orjson.dumps({"query": "{ me { name } }"})
    async with http.post(f"{client.gateway.url}/graphql", data=body, headers=headers) as resp:
        assert resp.status == 400
        answer = orjson.loads(await resp.read())
    assert "data" not in answer
    assert answer["errors"][0]["extensions"]["code"] == "OPERATION_NOT_ALLOWED"


async def test_trusted_operations_can_be_sent_by_id(
    client: Client, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    sha = manifest_at().by_name("KioskBill").id
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha}}
    by_id = await client.post({"extensions": extensions, "variables": {"first": 2}}, KIOSK)
    by_text = await client.run(doc("KioskBill"), KIOSK, first=2)
    assert "errors" not in by_id
    assert by_id == by_text
    # and over GET, the GraphQL-over-HTTP way
    params = {"extensions": json.dumps(extensions), "variables": json.dumps({"first": 1})}
    headers = {
        "Accept": "application/json",  # (without a query, */* would be a browser's GraphiQL)
        "Authorization": f"Bearer {token_for(KIOSK, dev_idp_key)}",
    }
    async with http.get(f"{client.gateway.url}/graphql", params=params, headers=headers) as r:
        assert r.status == 200
        got = orjson.loads(await r.read())
    assert len(got["data"]["me"]["bills"]["edges"]) == 1
    unknown = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    for body in ({"extensions": unknown}, {"extensions": unknown, "operationName": "KioskBill"}):
        result = await client.post(body, KIOSK)
        assert result["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        assert result.get("data") is None
        assert client.backend_requests == 0


async def test_the_policy_holds_over_websocket(
    client: Client, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    url = f"{client.gateway.url}/graphql"
    async with http.ws_connect(url, protocols=("graphql-transport-ws",)) as ws:
        auth = {"Authorization": f"Bearer {token_for(KIOSK, dev_idp_key)}"}
        await ws.send_json({"type": "connection_init", "payload": auth})
        assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
        before = client.gateway.backend_requests()
        ad_hoc = {"query": "{ me { name } }"}
        await ws.send_json({"id": "1", "type": "subscribe", "payload": ad_hoc})
        refused = await ws.receive_json(timeout=5)
        assert refused["type"] == "error"
        assert refused["payload"][0]["extensions"]["code"] == "OPERATION_NOT_ALLOWED"
        assert client.gateway.backend_requests() == before
        trusted = {"query": doc("KioskAccount")}
        await ws.send_json({"id": "2", "type": "subscribe", "payload": trusted})
        answer = await ws.receive_json(timeout=5)
        assert answer["payload"]["data"]["me"]["reference"] == "cus-000001", answer


async def test_the_ivr_reads_balances_and_due_bills(client: Client) -> None:
    data = await client.ok(doc("IvrBalance"), IVR)
    assert data["me"]["billingAccounts"][0]["outstanding"]["currency"]
    assert all(e["node"]["id"] for e in data["me"]["bills"]["edges"])


# -- assurance levels -------------------------------------------------------------------------


async def test_an_ivr_pin_cannot_read_contact_or_payment_details(
    strict: Client, dev_idp_key: Path
) -> None:
    """Even in the manifest, what needs more than a PIN is refused to the IVR -- and runs on
    a kiosk, whose sign-in is substantial."""
    for query, field in ((IVR_CONTACT, "Person.contactMedia"), (IVR_CARD, "PaymentMethod.card")):
        error = await strict.refused(query, IVR, "FORBIDDEN")
        assert error["extensions"] == {
            "code": "FORBIDDEN", "field": field, "requiredAcr": "substantial", "acr": "low"
        }  # fmt: skip
        assert field in error["message"]
        assert (await strict.ok(query, KIOSK))["me"]
    assert (await strict.ok(doc("IvrBalance"), IVR))["me"]["billingAccounts"]
    # an IVR token that states no acr at all counts as a PIN
    key = load_or_create_key(dev_idp_key)
    now = int(time.time())
    claims = {
        "iss": DEV_ISSUER,
        "aud": DEV_AUDIENCE,
        "sub": "cus-000001",
        "iat": now,
        "exp": now + 600,
        "role": "customer",
        "customer_id": "cus-000001",
        "channel": "ivr",
    }
    token = jwt.encode(claims, key, "ES256", {"kid": key_id(key)})
    result = await strict.post({"query": IVR_CONTACT}, token=token)
    assert result["errors"][0]["extensions"]["acr"] == "low"


async def test_assurance_applies_on_every_channel_and_through_fragments(
    client: Client, dev_idp_key: Path
) -> None:
    key = load_or_create_key(dev_idp_key)
    low = mint(key, role="customer", channel="web", customer_id="cus-000001", acr="low")
    query = """query { me { ...Who paymentMethods { name } } }
      fragment Who on Customer { person { ... on Person { fullName birthDate } } }"""
    result = await client.post({"query": query}, token=low)
    assert result["data"] is None
    assert client.backend_requests == 0
    assert [e["extensions"]["field"] for e in result["errors"]] == ["Person.birthDate"]
    assert (await client.post({"query": query}, WEB))["data"]["me"]["person"]["fullName"]
    # through an interface: checked on every type the node may be
    by_node = '{ node(id: "x") { id ... on Person { contactMedia { email } } } }'
    result = await client.post({"query": by_node}, token=low)
    assert [e["extensions"]["field"] for e in result["errors"]] == ["Person.contactMedia"]
    # a token with no acr at all: substantial on the web, low on the IVR
    now = int(time.time())
    claims = {"iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "sub": "cus-000001", "iat": now,
              "exp": now + 600, "role": "customer", "customer_id": "cus-000001"}  # fmt: skip

    def unstated(channel: str) -> str:
        return jwt.encode({**claims, "channel": channel}, key, "ES256", {"kid": key_id(key)})

    assert "errors" not in await client.post({"query": query}, token=unstated("web"))


# -- depth and cost ---------------------------------------------------------------------------

DEPTH_10 = """{ me { billingAccounts { bills(first: 1) { edges { node { lines { product {
  billingAccount { defaultPaymentMethod { name } } } } } } } } } }"""
DEPTH_11 = DEPTH_10.replace("{ name }", "{ card { brand } }")


async def test_the_depth_limit(client: Client) -> None:
    assert CHANNEL_POLICY["web"].max_depth == 10
    await client.ok(DEPTH_10, WEB)
    error = await client.refused(DEPTH_11, WEB, "BAD_USER_INPUT")
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "depth": 11, "maxDepth": 10}
    assert error["message"] == "The operation is 11 levels deep; the web channel allows 10."
    cycle = "bills(first: 1) { edges { node { account { "
    deep = "{ me { billingAccounts { " + cycle * 16 + "name" + " } } } }" * 16 + " } } }"
    error = await client.refused(deep, WEB, "BAD_USER_INPUT")
    assert "more than 64 levels deep" in error["message"]


async def test_the_cost_limit(client: Client) -> None:
    query = """query($n: Int) { me { bills(first: $n) { edges { node {
      lines { taxes { amount { amount } } } } } } } }"""
    # me 1 + bills 1 + edges (1 + n * (node 1 + lines (1 + 10 * (taxes 1 + 10 * 2))))
    assert CHANNEL_POLICY["web"].max_cost == 20_000
    assert "me" in await client.ok(query, WEB, n=50)  # costs 3 + 50 * 212 = 10,603
    error = await client.refused(query, WEB, "BAD_USER_INPUT", n=100)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "cost": 21_203, "maxCost": 20_000}
    # without `first` a connection is costed at the maximum page size it then returns
    unpaged = query.replace("query($n: Int)", "").replace("(first: $n)", "")
    await client.refused(unpaged, WEB, "BAD_USER_INPUT")
    # trusted operations are bounded too: a kiosk asking 100 bills at once
    error = await client.refused(doc("KioskBill"), KIOSK, "BAD_USER_INPUT", first=100)
    assert error["extensions"]["maxCost"] == CHANNEL_POLICY["kiosk"].max_cost


async def test_anonymous_callers_get_the_catalogue_within_the_webs_limits(client: Client) -> None:
    error = await client.refused("{ productOfferings(first: 1) { totalCount } me { name } }",
                                 None, "UNAUTHENTICATED")  # fmt: skip
    assert "`me`" in error["message"]
    assert (await client.ok("{ productOfferings(first: 1) { totalCount } }"))["productOfferings"]
    page = "(first: 100) { edges { node { prices { price { amount } } categories { name } } } }"
    # each alias costs 1 + (1 + 100 * (1 + 21 + 11)) = 3,302: seven cost 23,114
    seven = "{ " + " ".join(f"p{i}: productOfferings{page}" for i in range(7)) + " }"
    error = await client.refused(seven, None, "BAD_USER_INPUT")
    assert error["extensions"]["maxCost"] == CHANNEL_POLICY["web"].max_cost


# -- introspection ----------------------------------------------------------------------------


async def test_introspection_is_off_for_customers_and_on_for_analysts(strict: Client) -> None:
    for query in ("{ __schema { queryType { name } } }", '{ __type(name: "Bill") { name } }'):
        error = await strict.refused(query, WEB, "FORBIDDEN")
        assert error["message"] == "Introspection is off for this principal on this channel."
        await strict.refused(query, AGENT, "FORBIDDEN")
        await strict.refused(query, None, "FORBIDDEN")
    assert (await strict.ok("{ __typename }", WEB)) == {"__typename": "Query"}
    full = get_introspection_query(
        descriptions=True, specified_by_url=True, directive_is_repeatable=True,
        schema_description=True, input_value_deprecation=True,
    )  # fmt: skip
    schema = await strict.ok(full, ANALYST)
    assert schema["__schema"]["queryType"]["name"] == "Query"
    # graphql-core refuses nesting fields { type { fields … } } (MaxIntrospectionDepthRule);
    # breadth is this policy's: each alias costs 2 + 10 * (1 + 10 * (1 + 10)) = 1,112
    wide = " ".join(
        f"s{i}: __schema {{ types {{ fields {{ args {{ name }} }} }} }}" for i in range(60)
    )
    error = await strict.refused("{ " + wide + " }", ANALYST, "BAD_USER_INPUT")
    assert error["extensions"] == {
        "code": "BAD_USER_INPUT", "cost": 60 * 1_112, "maxCost": INTROSPECTION_MAX_COST
    }  # fmt: skip


async def test_introspection_is_on_in_development(client: Client) -> None:
    data = await client.ok("{ __schema { queryType { name } } }", WEB)
    assert data == {"__schema": {"queryType": {"name": "Query"}}}


async def test_a_low_assurance_session_cannot_reach_guarded_data_through_node(
    gateway: RunningGateway,
    http: aiohttp.ClientSession,
    dev_idp_key: Path,
    sandbox: RunningSandbox,
) -> None:
    """The assurance table guards the types, not just the Customer fields leading to them."""
    token = mint(
        load_or_create_key(dev_idp_key), role="customer", channel="web",
        customer_id="cus-000001", acr="low",
    )  # fmt: skip
    usage = await call(
        http, "GET", url_of(sandbox.url, "usage"), params={"relatedParty.id": "cus-000001"}
    )
    query = "query($id: ID!) { node(id: $id) { ... on Usage { characteristics { name value } } } }"
    variables = {"id": encode_global_id("Usage", usage.body[0]["id"])}
    async with http.post(
        f"{gateway.url}/graphql",
        data=orjson.dumps({"query": query, "variables": variables}),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    ) as resp:
        body = orjson.loads(await resp.read())
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "Usage.characteristics" in body["errors"][0]["message"]


async def test_suggestions_do_not_reveal_the_schema_where_introspection_is_off(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    from tests.gateway.conftest import auth_headers, running_gateway, settings_for

    async def ask(gateway: RunningGateway, principal: str) -> str:
        async with http.post(
            f"{gateway.url}/graphql",
            data=orjson.dumps({"query": "{ me { nam } }"}),
            headers={"Content-Type": "application/json", **auth_headers(principal, dev_idp_key)},
        ) as resp:
            message: str = orjson.loads(await resp.read())["errors"][0]["message"]
            return message

    async with running_gateway(settings_for(sandbox, introspection=False)) as gateway:
        hidden = await ask(gateway, "customer:cus-000001")
        assert "nam" in hidden
        assert "Did you mean" not in hidden
    async with running_gateway(settings_for(sandbox, introspection=True)) as gateway:
        assert "Did you mean 'name'" in await ask(gateway, "customer:cus-000001")
