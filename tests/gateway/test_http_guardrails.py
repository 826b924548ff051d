"""Guardrails over HTTP (and WebSocket), end to end with real tokens: hostile documents refused
cheaply -- the right code, no backend request, well within a second -- while real documents pass;
batches, oversized bodies, forgeable browser requests and mutations over GET refused; CORS
answered only for the allowed origins.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from graphql import get_introspection_query

from graph.sandbox import RunningSandbox
from graph.server.guardrails import MAX_ALIASES, MAX_DOCUMENT_CHARS, MAX_FIELDS, MAX_SELECTIONS
from graph.settings import Settings, SettingsError
from tests.gateway.conftest import RunningGateway, auth_headers, running_gateway, settings_for
from tests.gateway.test_customer360 import LIST as CUSTOMERS_360
from tests.gateway.test_customer360 import ME as CUSTOMER_360
from tests.support.ws import graphql_ws

CUSTOMER = "customer:cus-000001"

Posted = tuple[int, dict[str, str], dict[str, Any]]


async def post(
    http: aiohttp.ClientSession,
    gateway: RunningGateway,
    body: bytes,
    headers: dict[str, str] | None = None,
) -> Posted:
    async with http.post(f"{gateway.url}/graphql", data=body, headers=headers or {}) as r:
        return r.status, dict(r.headers), orjson.loads(await r.read())


def refusals(gateway: RunningGateway, reason: str) -> float:
    value = gateway.state.metrics.registry.get_sample_value(
        "csm_guardrail_refusals_total", {"reason": reason}
    )
    return value or 0.0


# -- hostile documents ------------------------------------------------------------------------

CYCLE = "bills(first: 1) { edges { node { account { "
FIELDS_60 = " ".join(["name"] * 60)
BOMB_LEVEL = " ".join(
    f"{alias}: account {{ bills {{ edges {{ node {{ ...PREV ...PREV ...PREV }} }} }} }}"
    for alias in "abc"
)

# name -> (document, metric reason or None, extensions the refusal carries besides its code)
HOSTILE: dict[str, tuple[str, str | None, dict[str, Any]]] = {
    "deeper than the channel allows": (
        "{ me { billingAccounts { " + CYCLE * 15 + "name" + " } } } }" * 15 + " } } }",
        None,
        {"maxDepth": 10},
    ),
    "nested deeper than the parser goes": (
        "{ me { " + "billingAccounts { " * 400 + "name" + " }" * 400 + " } }",
        None,
        {},
    ),
    "wide": (
        "{ me { billingAccounts { " + FIELDS_60 + " " + FIELDS_60 + " } } }",
        "selections",
        {"selections": 120, "maxSelections": MAX_SELECTIONS},
    ),
    "an alias bomb": (
        "{ me { " + " ".join(f"a{i}: name" for i in range(200)) + " } }",
        "aliases",
        {"aliases": 200, "maxAliases": MAX_ALIASES},
    ),
    "one alias over and over (quadratic validation)": (
        "{ me { " + " ".join(f"a: {f}" for f in ("name", "reference") * 300) + " } }",
        "aliases",
        {"aliases": 600, "maxAliases": MAX_ALIASES},
    ),
    "many fields": (
        "{ me { " + " ".join(f"... on Customer {{ {FIELDS_60} }}" for _ in range(9)) + " } }",
        "fields",
        {"fields": 541, "maxFields": MAX_FIELDS},
    ),
    "huge": (
        "{ me { name } }\n# " + "x" * MAX_DOCUMENT_CHARS,
        "document_size",
        {"characters": MAX_DOCUMENT_CHARS + 18, "maxCharacters": MAX_DOCUMENT_CHARS},
    ),
    "too many tokens": ("{ me { " + "name " * 2100 + "} }", None, {}),
    "a fragment cycle": (
        "{ me { ...A } } fragment A on Customer { name ...B } fragment B on Customer { ...A }",
        None,
        {},
    ),
    "fragments fanning out (3^12 paths)": (
        '{ node(id: "x") { ... on Bill { ...F12 } } }\n'
        + "fragment F0 on Bill { billNo }\n"
        + "\n".join(
            f"fragment F{k} on Bill {{ {BOMB_LEVEL.replace('PREV', f'F{k - 1}')} }}"
            for k in range(1, 13)
        ),
        None,
        {"maxDepth": 10},
    ),
}


@pytest.mark.parametrize("name", list(HOSTILE))
async def test_hostile_documents_are_refused_cheaply(
    name: str, gateway: RunningGateway, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    document, reason, numbers = HOSTILE[name]
    headers = {"Content-Type": "application/json", **auth_headers(CUSTOMER, dev_idp_key)}
    body = orjson.dumps({"query": document})
    before, counted = gateway.backend_requests(), refusals(gateway, reason or "none")
    started = time.perf_counter()
    status, _, result = await post(http, gateway, body, headers)
    elapsed = time.perf_counter() - started
    assert status == 200
    assert result.get("data") is None
    (error,) = result["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert numbers.items() <= error["extensions"].items(), error
    assert gateway.backend_requests() == before
    assert elapsed < 1.0, elapsed  # a sanity bound: these take milliseconds
    if reason is not None:
        assert refusals(gateway, reason) == counted + 1
    # The same refusal for a client of application/graphql-response+json: 400, no data.
    headers["Accept"] = "application/graphql-response+json"
    status, _, result = await post(http, gateway, body, headers)
    assert status == 400
    assert "data" not in result
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_refused_document_keeps_its_operation_name_and_kind(
    gateway: RunningGateway, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    bomb = " ".join(f"a{i}: __typename" for i in range(100))
    document = f"query Other {{ me {{ name }} }} mutation Bomb {{ {bomb} }}"
    headers = {"Content-Type": "application/json", **auth_headers(CUSTOMER, dev_idp_key)}
    payload = {"query": document, "operationName": "Bomb"}
    _, _, result = await post(http, gateway, orjson.dumps(payload), headers)
    assert result["errors"][0]["extensions"]["aliases"] == 100
    # Over GET a mutation stays a mutation: refused as one (whatever else is wrong with it).
    params = {"query": document, "operationName": "Bomb"}
    async with http.get(f"{gateway.url}/graphql", params=params, headers=headers) as r:
        assert r.status == 400
        assert "mutation" in (await r.text()).lower()


async def test_hostile_documents_are_refused_over_a_websocket_too(
    gateway: RunningGateway, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    from tests.gateway.conftest import token_for

    before = gateway.backend_requests()
    async with graphql_ws(http, gateway.url, token_for(CUSTOMER, dev_idp_key)) as ws:
        document, _, numbers = HOSTILE["an alias bomb"]
        message = await ws.next(await ws.subscribe(document))
        assert message["type"] == "error", message
        (error,) = message["payload"]
        assert error["extensions"] == {"code": "BAD_USER_INPUT", **numbers}
        huge, _, _ = HOSTILE["huge"]
        message = await ws.next(await ws.subscribe(huge))
        assert message["payload"][0]["extensions"]["maxCharacters"] == MAX_DOCUMENT_CHARS
        assert (await ws.data(await ws.subscribe("{ me { reference } }")))["me"]["reference"]
    assert gateway.backend_requests() > before  # the last one ran


async def test_the_largest_real_documents_pass(
    gateway: RunningGateway, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    full = get_introspection_query(
        descriptions=True, specified_by_url=True, directive_is_repeatable=True,
        schema_description=True, input_value_deprecation=True,
    )  # fmt: skip
    for principal, document, variables in (
        (CUSTOMER, CUSTOMER_360, {}),
        ("agent:a1", CUSTOMERS_360, {"n": 5}),
        ("analyst:x1", full, {}),
    ):
        headers = {"Content-Type": "application/json", **auth_headers(principal, dev_idp_key)}
        body = orjson.dumps({"query": document, "variables": variables})
        status, _, result = await post(http, gateway, body, headers)
        assert status == 200
        assert "errors" not in result, result["errors"]
        assert result["data"]


# -- requests ---------------------------------------------------------------------------------


async def test_batched_requests_are_refused(
    gateway: RunningGateway, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    headers = {"Content-Type": "application/json", **auth_headers(CUSTOMER, dev_idp_key)}
    batch = orjson.dumps([{"query": "{ me { name } }"}, {"query": "{ me { reference } }"}])
    before = gateway.backend_requests()
    status, response_headers, result = await post(http, gateway, b"  \n" + batch, headers)
    assert status == 400
    assert response_headers["Content-Type"].startswith("application/json")
    (error,) = result["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "one operation per request" in error["message"]
    assert gateway.backend_requests() == before
    assert refusals(gateway, "batch") == 1


async def test_an_oversized_body_is_413_with_a_graphql_error(
    gateway: RunningGateway, http: aiohttp.ClientSession
) -> None:
    body = orjson.dumps({"query": "{" + " a" * 40_000 + " }"})
    for content_type in ("application/json", "application/json; charset=utf-8"):
        status, headers, result = await post(http, gateway, body, {"Content-Type": content_type})
        assert status == 413
        assert headers["Content-Type"].startswith("application/json")
        (error,) = result["errors"]
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "maxBytes": 64 * 1024}
    assert refusals(gateway, "body_size") == 2


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded",
     "multipart/form-data; boundary=x", None],
)  # fmt: skip
async def test_a_request_another_site_could_forge_is_refused(
    content_type: str | None, gateway: RunningGateway, http: aiohttp.ClientSession
) -> None:
    """A form post or a fetch() with a simple content type needs no preflight: it is refused
    unless a header only a preflighted request can carry shows it is not forged."""
    register = """mutation { registerCustomer(input: {givenName: "Eve", familyName: "Forge",
      email: "eve@example.com"}) { customer { reference } errors { code } } }"""
    body = orjson.dumps({"query": register})
    headers = {"Content-Type": content_type} if content_type else {}
    before = gateway.backend_requests()
    async with http.post(
        f"{gateway.url}/graphql", data=body, headers=headers, skip_auto_headers=["Content-Type"]
    ) as r:
        status, result = r.status, orjson.loads(await r.read())
    assert status == 400
    (error,) = result["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "X-CSM-CSRF" in error["message"]
    assert gateway.backend_requests() == before  # nothing registered, nothing read
    assert refusals(gateway, "csrf") == 1


async def test_a_preflight_only_header_lifts_the_csrf_refusal(
    gateway: RunningGateway, http: aiohttp.ClientSession
) -> None:
    body = orjson.dumps({"query": "{ __typename }"})
    for header in ("X-CSM-CSRF", "Apollo-Require-Preflight"):
        headers = {"Content-Type": "text/plain", header: "1"}
        status, _, result = await post(http, gateway, body, headers)
        # Past the CSRF check; still not JSON, which is all the gateway reads.
        assert status == 400
        assert "X-CSM-CSRF" not in result["errors"][0]["message"]
        assert "content type" in result["errors"][0]["message"].lower()
    status, _, result = await post(http, gateway, body, {"Content-Type": "application/json"})
    assert (status, result) == (200, {"data": {"__typename": "Query"}})
    assert refusals(gateway, "csrf") == 0


async def test_mutations_over_get_are_refused_and_nothing_runs(
    gateway: RunningGateway, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    auth = auth_headers(CUSTOMER, dev_idp_key)
    query = "{ me { products(first: 1) { edges { node { id } } } } }"
    _, _, result = await post(
        http, gateway, orjson.dumps({"query": query}), {"Content-Type": "application/json", **auth}
    )
    product = result["data"]["me"]["products"]["edges"][0]["node"]["id"]
    mutation = f"""mutation {{ createTroubleTicket(input: {{subject: "{product}",
      description: "sent over GET"}}) {{ ticket {{ reference }} errors {{ code }} }} }}"""
    before = gateway.backend_requests()
    for headers in (auth, {**auth, "X-CSM-CSRF": "1"}):
        async with http.get(
            f"{gateway.url}/graphql", params={"query": mutation}, headers=headers
        ) as r:
            assert r.status == 400
            result = orjson.loads(await r.read())
        (error,) = result["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "mutation" in error["message"].lower()
    assert gateway.backend_requests() == before


# -- CORS -------------------------------------------------------------------------------------

PORTAL = "https://portal.example.com"


@pytest.fixture
async def cors_gateway(sandbox: RunningSandbox) -> AsyncIterator[RunningGateway]:
    settings = settings_for(sandbox, events=False, cors_origins=(PORTAL,))
    async with running_gateway(settings) as gateway:
        yield gateway


async def preflight(
    http: aiohttp.ClientSession, gateway: RunningGateway, origin: str
) -> tuple[int, dict[str, str]]:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    async with http.options(f"{gateway.url}/graphql", headers=headers) as r:
        return r.status, dict(r.headers)


async def test_cors_preflight_is_answered_for_allowed_origins_only(
    cors_gateway: RunningGateway, http: aiohttp.ClientSession
) -> None:
    status, headers = await preflight(http, cors_gateway, PORTAL)
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == PORTAL
    assert set(headers["Access-Control-Allow-Methods"].split(", ")) == {"GET", "POST"}
    allowed = {h.strip().lower() for h in headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "x-csm-csrf"} <= allowed
    assert "Access-Control-Allow-Credentials" not in headers  # bearer tokens, no cookies
    assert headers["Vary"] == "Origin"
    for origin in ("https://evil.example.com", "http://portal.example.com", "null"):
        status, headers = await preflight(http, cors_gateway, origin)
        assert status == 403
        assert not any(h.startswith("Access-Control-") for h in headers)
    assert refusals(cors_gateway, "cors") == 3


async def test_cors_headers_go_to_allowed_origins_only(
    cors_gateway: RunningGateway, http: aiohttp.ClientSession
) -> None:
    body = orjson.dumps({"query": "{ __typename }"})
    for origin, allowed in ((PORTAL, True), ("https://PORTAL.example.com:443", True),
                            ("https://evil.example.com", False)):  # fmt: skip
        headers = {"Content-Type": "application/json", "Origin": origin}
        status, response_headers, result = await post(http, cors_gateway, body, headers)
        assert (status, result) == (200, {"data": {"__typename": "Query"}})
        assert "Origin" in response_headers["Vary"]
        if allowed:
            assert response_headers["Access-Control-Allow-Origin"] == origin
            exposed = response_headers["Access-Control-Expose-Headers"]
            assert "Retry-After" in exposed
            assert "X-Correlation-ID" in exposed
        else:
            assert "Access-Control-Allow-Origin" not in response_headers


async def test_without_configured_origins_there_is_no_cors(
    gateway: RunningGateway, http: aiohttp.ClientSession
) -> None:
    status, headers = await preflight(http, gateway, PORTAL)
    assert status == 403
    assert "Access-Control-Allow-Origin" not in headers
    body = orjson.dumps({"query": "{ __typename }"})
    _, headers, _ = await post(
        http, gateway, body, {"Content-Type": "application/json", "Origin": PORTAL}
    )
    assert "Access-Control-Allow-Origin" not in headers


async def test_websocket_handshakes_follow_the_same_allow_list(
    cors_gateway: RunningGateway, http: aiohttp.ClientSession
) -> None:
    url = f"{cors_gateway.url}/graphql"
    protocols = ("graphql-transport-ws",)
    async with http.ws_connect(url, protocols=protocols, origin=PORTAL) as ws:
        await ws.send_json({"type": "connection_init", "payload": {}})
        assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        async with http.ws_connect(url, protocols=protocols, origin="https://evil.example.com"):
            pass
    assert refused.value.status == 403


async def test_a_429_carries_cors_headers_so_the_page_can_read_retry_after(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    settings = settings_for(
        sandbox, events=False, cors_origins=(PORTAL,), rate_limits={"web": (1, None)}
    )
    async with running_gateway(settings) as gateway:
        headers = {
            "Content-Type": "application/json",
            "Origin": PORTAL,
            **auth_headers(CUSTOMER, dev_idp_key),
        }
        body = orjson.dumps({"query": "{ __typename }"})
        assert (await post(http, gateway, body, headers))[0] == 200
        status, response_headers, result = await post(http, gateway, body, headers)
        assert status == 429
        assert response_headers["Access-Control-Allow-Origin"] == PORTAL
        assert "Retry-After" in response_headers["Access-Control-Expose-Headers"]
        assert result["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


def test_the_security_doc_states_the_limits() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text("utf-8")
    section = text.partition("## Guardrails")[2].partition("\n## ")[0]
    for stated in (
        f"| document size | {MAX_DOCUMENT_CHARS:,} characters",
        f"| aliases | {MAX_ALIASES} in the document",
        f"| selections in one selection set | {MAX_SELECTIONS} ",
        f"| field selections | {MAX_FIELDS} in the document",
        "| request body | 64 KiB (65,536 bytes)",
    ):
        assert stated in section, stated


def test_cors_origins_are_read_as_browsers_send_them() -> None:
    raw = "https://Portal.Example.com:443, http://localhost:3000,https://[::1]:8443/"
    assert Settings.from_env({"CSM_CORS_ORIGINS": raw}).cors_origins == (
        "https://portal.example.com",
        "http://localhost:3000",
        "https://[::1]:8443",
    )
    assert Settings.from_env({}).cors_origins == ()
    for bad in (
        "*",
        "https://*.example.com",
        "https://a.example.com/app",
        "ftp://a.example.com",
        "https://a.example.com:99999",
        "portal.example.com",
        "https://u@a.example.com",
    ):
        with pytest.raises(SettingsError):
            Settings.from_env({"CSM_CORS_ORIGINS": bad})
