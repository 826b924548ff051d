"""What the gateway sends to backends besides the request: its own service credential (static,
or OAuth2 client credentials against a real token endpoint on a loopback port), the end user's
identity and the operation's correlation id -- seen arriving at the real sandbox."""

from __future__ import annotations

import asyncio
import base64
import re
import socket
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import aiohttp
import orjson
import pytest
from aiohttp import web

from graph.sandbox import RunningSandbox
from graph.sandbox.faults import RECENT_REQUESTS, fingerprint
from graph.sources import APIS, BackendUnavailable, Sources, TmfClient, open_clients
from graph.sources import client as client_module
from graph.sources.credentials import (
    BackendAuthConfig,
    ClientCredentials,
    CredentialsConfigError,
    NoCredentials,
    StaticCredentials,
    backend_auth_from_env,
    open_service_credentials,
)
from graph.sources.identity import (
    CallerIdentity,
    backend_headers,
    bound_identity,
    correlation_id_from,
    current_identity,
)

SERVICE = "Bearer svc-static-credential-0123456789"
USER_TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJjdXMtMDAwMDAxIn0.c2lnbmF0dXJl"
CUSTOMER = CallerIdentity(
    correlation_id="op-1",
    role="customer",
    subject="cus-000001",
    customer_id="cus-000001",
    channel="web",
    acr="substantial",
    user_token=USER_TOKEN,
)
SECRET = "s3cr3t:with/odd chars"


# --- a tiny OAuth2 token endpoint on a loopback port ------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class TokenEndpoint:
    url: str = ""
    seen: list[dict[str, str]] = field(default_factory=list)  # form + "authorization"
    answers: deque[tuple[int, Any]] = field(default_factory=deque)
    gate: asyncio.Event | None = None  # hold answers until set
    arrived: asyncio.Event = field(default_factory=asyncio.Event)  # a request came in
    issued: int = 0

    def answer(self, status: int, body: Any) -> None:
        self.answers.append((status, body))


@asynccontextmanager
async def token_endpoint() -> AsyncIterator[TokenEndpoint]:
    endpoint = TokenEndpoint()

    async def token(request: web.Request) -> web.Response:
        form = dict(await request.post())
        endpoint.seen.append(
            {
                **{k: str(v) for k, v in form.items()},
                "authorization": request.headers["Authorization"],
            }
        )
        endpoint.arrived.set()
        if endpoint.gate is not None:
            await endpoint.gate.wait()
        if endpoint.answers:
            status, body = endpoint.answers.popleft()
        else:
            endpoint.issued += 1
            status = 200
            body = {"access_token": f"tok-{endpoint.issued}", "token_type": "Bearer",
                    "expires_in": 120}  # fmt: skip
        return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")

    app = web.Application()
    app.router.add_post("/token", token)
    sock = socket.create_server(("127.0.0.1", 0))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    endpoint.url = f"http://127.0.0.1:{sock.getsockname()[1]}/token"
    try:
        yield endpoint
    finally:
        await runner.cleanup()
        sock.close()


@pytest.fixture
async def endpoint() -> AsyncIterator[TokenEndpoint]:
    async with token_endpoint() as running:
        yield running


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def provider(
    endpoint: TokenEndpoint, http: aiohttp.ClientSession, clock: Clock
) -> ClientCredentials:
    return ClientCredentials(
        http, endpoint.url, "csm-graph", SECRET, "tmf.read tmf.write", clock=clock,
        refresh_margin_seconds=60, retry_after_seconds=5,
    )  # fmt: skip


# --- the credential provider -------------------------------------------------------------------


async def test_client_credentials_token_is_requested_once_and_cached(
    provider: ClientCredentials, endpoint: TokenEndpoint
) -> None:
    assert await provider.authorization("TMF629") == "Bearer tok-1"
    assert await provider.authorization("TMF678") == "Bearer tok-1"
    assert len(endpoint.seen) == 1
    request = endpoint.seen[0]
    assert request["grant_type"] == "client_credentials"
    assert request["scope"] == "tmf.read tmf.write"
    scheme, _, encoded = request["authorization"].partition(" ")
    client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
    assert scheme == "Basic"
    assert (unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))) == (
        "csm-graph",
        SECRET,
    )
    assert SECRET not in repr(provider)


async def test_the_token_is_refreshed_before_it_expires(
    provider: ClientCredentials, endpoint: TokenEndpoint, clock: Clock
) -> None:
    assert await provider.authorization("TMF629") == "Bearer tok-1"  # expires_in 120, margin 60
    clock.now += 59
    assert await provider.authorization("TMF629") == "Bearer tok-1"
    clock.now += 2  # 61 s: inside the margin, the token has 59 s left
    # still valid: served at once while a refresh runs in the background
    assert await provider.authorization("TMF629") == "Bearer tok-1"
    await provider.refreshed()
    assert await provider.authorization("TMF629") == "Bearer tok-2"
    assert len(endpoint.seen) == 2
    clock.now += 59
    assert await provider.authorization("TMF629") == "Bearer tok-2"
    assert len(endpoint.seen) == 2


async def test_short_lived_tokens_are_refreshed_at_half_their_life(
    provider: ClientCredentials, endpoint: TokenEndpoint, clock: Clock
) -> None:
    endpoint.answer(200, {"access_token": "short", "token_type": "bearer", "expires_in": "20"})
    assert await provider.authorization("TMF629") == "Bearer short"
    clock.now += 9
    assert await provider.authorization("TMF629") == "Bearer short"
    clock.now += 2
    assert await provider.authorization("TMF629") == "Bearer short"  # refreshing behind it
    await provider.refreshed()
    assert await provider.authorization("TMF629") == "Bearer tok-1"


async def test_concurrent_callers_share_one_refresh(
    provider: ClientCredentials, endpoint: TokenEndpoint
) -> None:
    endpoint.gate = asyncio.Event()
    waiting = [asyncio.create_task(provider.authorization(api.key)) for api in APIS]
    await endpoint.arrived.wait()
    await asyncio.sleep(0.02)  # time for any other caller to send a request of its own
    assert len(endpoint.seen) == 1
    waiting[0].cancel()  # a cancelled caller does not cancel the refresh the others wait for
    endpoint.gate.set()
    results = await asyncio.gather(*waiting[1:])
    assert set(results) == {"Bearer tok-1"}
    assert len(endpoint.seen) == 1
    assert provider.fetches == 1


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (401, {"error": "invalid_client"}, "HTTP 401 invalid_client"),
        (503, "down", "HTTP 503"),
        (200, {"token_type": "Bearer", "expires_in": 60}, "no usable access_token"),
        (200, {"access_token": "a\r\nX-Evil: 1", "token_type": "Bearer"}, "no usable"),
        (200, {"access_token": "t", "token_type": "mac"}, "not a Bearer token"),
        (200, {"access_token": "t", "token_type": "Bearer", "expires_in": -5}, "expires_in"),
        (200, ["not", "an", "object"], "not a JSON object"),
    ],
)
async def test_token_endpoint_failures_are_the_called_apis_unavailability(
    provider: ClientCredentials, endpoint: TokenEndpoint, status: int, body: Any, reason: str
) -> None:
    endpoint.answer(status, body)
    with pytest.raises(BackendUnavailable) as caught:
        await provider.authorization("TMF678")
    assert caught.value.api == "TMF678"
    assert reason in caught.value.detail
    assert SECRET not in str(caught.value)
    assert endpoint.url not in str(caught.value)


async def test_an_unreachable_token_endpoint_is_unavailable(http: aiohttp.ClientSession) -> None:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
    provider = ClientCredentials(http, f"http://127.0.0.1:{port}/token", "id", "secret")
    with pytest.raises(BackendUnavailable, match="TMF621: service credentials: token endpoint"):
        await provider.authorization("TMF621")


async def test_a_valid_token_outlives_a_failing_endpoint_and_failures_are_not_hammered(
    provider: ClientCredentials, endpoint: TokenEndpoint, clock: Clock
) -> None:
    assert await provider.authorization("TMF629") == "Bearer tok-1"
    clock.now += 70  # refresh due, 50 s of validity left
    endpoint.answer(500, {})
    assert await provider.authorization("TMF629") == "Bearer tok-1"
    await provider.refreshed()
    assert await provider.authorization("TMF629") == "Bearer tok-1"
    assert len(endpoint.seen) == 2  # the second call waited out retry_after instead of asking
    clock.now += 51  # expired, and the endpoint still fails
    endpoint.answer(500, {})
    with pytest.raises(BackendUnavailable):
        await provider.authorization("TMF629")
    with pytest.raises(BackendUnavailable):  # within retry_after: fails fast, no new request
        await provider.authorization("TMF637")
    assert len(endpoint.seen) == 3
    clock.now += 6
    assert await provider.authorization("TMF629") == "Bearer tok-2"


async def test_open_service_credentials_picks_the_configured_kind(endpoint: TokenEndpoint) -> None:
    async with open_service_credentials(BackendAuthConfig()) as none:
        assert isinstance(none, NoCredentials)
        assert await none.authorization("TMF629") is None
    async with open_service_credentials(BackendAuthConfig(authorization=SERVICE)) as static:
        assert await static.authorization("TMF629") == SERVICE
    oauth = BackendAuthConfig(token_url=endpoint.url, client_id="c", client_secret="s")
    async with open_service_credentials(oauth, timeout_seconds=2) as provider:
        assert await provider.authorization("TMF629") == "Bearer tok-1"


# --- settings ----------------------------------------------------------------------------------

OAUTH = {
    "CSM_BACKEND_TOKEN_URL": "https://idp.example.com/token",
    "CSM_BACKEND_CLIENT_ID": "csm-graph",
    "CSM_BACKEND_CLIENT_SECRET": SECRET,
}


def test_backend_auth_settings_are_read_and_checked() -> None:
    assert backend_auth_from_env({}) == BackendAuthConfig()
    static = backend_auth_from_env({"CSM_BACKEND_AUTHORIZATION": SERVICE})
    assert (static.mode, static.authorization) == ("static", SERVICE)
    oauth = backend_auth_from_env(
        {**OAUTH, "CSM_BACKEND_SCOPE": "tmf", "CSM_FORWARD_USER_TOKEN": "1"}
    )
    assert (oauth.mode, oauth.client_secret, oauth.scope, oauth.forward_user_token) == (
        "client_credentials", SECRET, "tmf", True,
    )  # fmt: skip
    assert SECRET not in repr(oauth)
    assert "svc-static" not in repr(static)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CSM_BACKEND_TOKEN_URL": "https://idp/token"}, "go together"),
        ({**OAUTH, "CSM_BACKEND_CLIENT_SECRET": ""}, "go together"),
        ({"CSM_BACKEND_SCOPE": "x"}, "needs CSM_BACKEND_TOKEN_URL"),
        ({**OAUTH, "CSM_BACKEND_AUTHORIZATION": SERVICE}, "exclude each other"),
        ({"CSM_BACKEND_AUTHORIZATION": "just-a-token"}, "<scheme> <credentials>"),
        ({"CSM_BACKEND_AUTHORIZATION": "Bearer a\nX-Evil: 1"}, "<scheme> <credentials>"),
        ({**OAUTH, "CSM_BACKEND_TOKEN_URL": "ftp://idp/token"}, "http(s) URL"),
        ({**OAUTH, "CSM_BACKEND_CLIENT_SECRET": "se\ncret"}, "printable ASCII"),
        ({"CSM_FORWARD_USER_TOKEN": "maybe"}, "not a boolean"),
    ],
)
def test_contradictory_or_malformed_backend_auth_settings_are_refused(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(CredentialsConfigError, match=re.escape(message)) as caught:
        backend_auth_from_env(env)
    assert "se\ncret" not in str(caught.value)
    assert SECRET not in str(caught.value)


# --- the identity and the correlation id -------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-Correlation-ID": "abc-123_X.y"}, "abc-123_X.y"),
        ({"X-Request-ID": "req-9"}, "req-9"),
        ({"X-Correlation-ID": "bad id", "X-Request-ID": "req-9"}, "req-9"),
        ({"X-Correlation-ID": "a" * 64}, "a" * 64),
        ({"X-Correlation-ID": "a" * 65}, None),
        ({"X-Correlation-ID": "x\r\nX-Evil: 1"}, None),
        ({"X-Correlation-ID": ""}, None),
        ({"X-Correlation-ID": "ünïcode"}, None),
        ({}, None),
    ],
)
def test_a_clients_correlation_id_is_taken_only_when_sane(
    headers: dict[str, str], expected: str | None
) -> None:
    found = correlation_id_from(headers)
    if expected is not None:
        assert found == expected
    else:
        assert len(found) == 32
        assert found != correlation_id_from(headers)  # a fresh one each time


def test_identity_headers() -> None:
    assert backend_headers(CUSTOMER, forward_user_token=False) == {
        "X-Correlation-ID": "op-1",
        "X-End-User-Role": "customer",
        "X-End-User-Subject": "cus-000001",
        "X-End-User-Customer": "cus-000001",
        "X-End-User-Channel": "web",
        "X-End-User-Assurance": "substantial",
    }
    assert backend_headers(CUSTOMER, forward_user_token=True)["X-End-User-Token"] == USER_TOKEN
    assert USER_TOKEN not in repr(CUSTOMER)
    anonymous = CallerIdentity.of(CUSTOMER_LIKE_ANONYMOUS, "op-2", user_token="t")
    assert backend_headers(anonymous, forward_user_token=True) == {
        "X-Correlation-ID": "op-2",
        "X-End-User-Role": "anonymous",
    }
    with pytest.raises(ValueError, match="correlation id"):
        CallerIdentity(correlation_id="no spaces please")


@dataclass(frozen=True)
class _Principal:
    subject: str
    role: str
    customer_id: str | None
    channel: str
    acr: str | None


CUSTOMER_LIKE_ANONYMOUS = _Principal("anonymous", "anonymous", None, "web", None)


# --- what arrives at the sandbox ---------------------------------------------------------------

Recent = Callable[..., Awaitable[list[dict[str, str]]]]


@pytest.fixture
def recent(sandbox: RunningSandbox, http: aiohttp.ClientSession) -> Recent:
    """The headers the sandbox recorded for ``api``'s requests, oldest first."""

    async def read(api: str = "TMF629") -> list[dict[str, str]]:
        async with http.get(f"{sandbox.url}/admin/requests", params={"api": api}) as resp:
            assert resp.status == 200
            body: dict[str, list[dict[str, Any]]] = orjson.loads(await resp.read())
        return [entry["headers"] for entry in body.get(api, [])]

    return read


def client_for(sandbox: RunningSandbox, http: aiohttp.ClientSession, **options: Any) -> TmfClient:
    return TmfClient("TMF629", sandbox.url + "/tmf-api/customerManagement/v4", http, **options)


async def test_a_call_carries_the_service_credential_and_the_end_users_identity(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, recent: Recent
) -> None:
    client = client_for(sandbox, http, credentials=StaticCredentials(SERVICE))
    with bound_identity(CUSTOMER):
        assert await client.get("customer", "cus-000001") is not None
    [headers] = await recent()
    assert headers == {
        "Authorization": fingerprint(SERVICE),
        "X-Correlation-ID": "op-1",
        "X-End-User-Subject": "cus-000001",
        "X-End-User-Role": "customer",
        "X-End-User-Customer": "cus-000001",
        "X-End-User-Channel": "web",
        "X-End-User-Assurance": "substantial",
    }
    assert current_identity() is None  # unbound after the block


async def test_the_users_token_goes_only_where_configured_and_never_as_authorization(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, recent: Recent
) -> None:
    credentials = StaticCredentials(SERVICE)
    with bound_identity(CUSTOMER):
        await client_for(sandbox, http, credentials=credentials).get("customer", "cus-000001")
        forwarding = client_for(sandbox, http, credentials=credentials, forward_user_token=True)
        await forwarding.get("customer", "cus-000001")
        await client_for(sandbox, http, forward_user_token=True).get("customer", "cus-000001")
    default, forwarded, no_service = await recent()
    assert "X-End-User-Token" not in default
    assert forwarded["X-End-User-Token"] == fingerprint(USER_TOKEN)
    assert forwarded["Authorization"] == fingerprint(SERVICE)
    assert "Authorization" not in no_service  # no service credential configured: none at all
    assert no_service["X-End-User-Token"] == fingerprint(USER_TOKEN)


async def test_calls_outside_an_operation_get_a_fresh_correlation_id_and_no_user(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, recent: Recent
) -> None:
    client = client_for(sandbox, http)
    await client.get("customer", "cus-000001")
    await client.get("customer", "cus-000002")
    first, second = await recent()
    assert first.keys() == second.keys() == {"X-Correlation-ID"}
    assert first["X-Correlation-ID"] != second["X-Correlation-ID"]


async def test_one_correlation_id_across_an_operations_concurrent_and_chunked_calls(
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    recent: Recent,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(client_module, "MAX_URL_QUERY", 40)  # 20 ids -> 7 concurrent requests
    urls = {api.key: sandbox.url + api.base_path for api in APIS}
    ids = [f"cus-{i:06d}" for i in range(1, 21)]
    async with open_clients(urls, 2.0, lambda *_: None) as clients:
        sources = Sources.on(clients)

        async def operation(correlation_id: str) -> None:
            with bound_identity(CUSTOMER.with_correlation_id(correlation_id)):
                await asyncio.gather(
                    sources.customer.by_ids(ids), sources.customer.get("cus-000003")
                )

        await asyncio.gather(operation("op-a"), operation("op-b"))  # interleaved
    seen = [headers["X-Correlation-ID"] for headers in await recent()]
    assert sorted(seen) == ["op-a"] * 8 + ["op-b"] * 8


async def test_odd_characters_in_an_identity_are_percent_encoded(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, recent: Recent
) -> None:
    odd = CallerIdentity(
        correlation_id="op-odd", role="agent", subject="auth0|Zoë Smith\r\nX-Evil: 1%"
    )
    with bound_identity(odd):
        await client_for(sandbox, http).get("customer", "cus-000001")
    [headers] = await recent()
    assert headers["X-End-User-Subject"] == "auth0|Zo%C3%AB%20Smith%0D%0AX-Evil:%201%25"
    assert unquote(headers["X-End-User-Subject"]) == odd.subject
    assert "X-Evil" not in headers


async def test_a_failing_token_endpoint_stops_the_call_before_the_backend(
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    recent: Recent,
    endpoint: TokenEndpoint,
) -> None:
    endpoint.answer(401, {"error": "invalid_client"})
    outcomes: list[str] = []
    provider = ClientCredentials(http, endpoint.url, "id", "wrong")
    client = client_for(
        sandbox, http, credentials=provider, observer=lambda *a: outcomes.append(a[2])
    )
    with pytest.raises(BackendUnavailable) as caught:
        await client.get("customer", "cus-000001")
    assert caught.value.api == "TMF629"
    assert await recent() == []
    assert outcomes == []  # no backend request was sent


async def test_client_credentials_arrive_at_the_backend(
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    recent: Recent,
    endpoint: TokenEndpoint,
) -> None:
    provider = ClientCredentials(http, endpoint.url, "id", "secret")
    client = client_for(sandbox, http, credentials=provider)
    await asyncio.gather(*(client.get("customer", f"cus-00000{i}") for i in range(1, 4)))
    assert [h["Authorization"] for h in await recent()] == [fingerprint("Bearer tok-1")] * 3
    assert len(endpoint.seen) == 1


async def test_the_sandbox_keeps_a_bounded_record_without_credentials(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, recent: Recent
) -> None:
    client = client_for(sandbox, http, credentials=StaticCredentials(SERVICE))
    with bound_identity(CUSTOMER):
        forwarding = client_for(
            sandbox, http, credentials=StaticCredentials(SERVICE), forward_user_token=True
        )
        await forwarding.get("customer", "cus-000001")
    async with http.get(f"{sandbox.url}/admin/requests") as resp:
        text = await resp.text()
    assert "svc-static" not in text
    assert USER_TOKEN.split(".")[2] not in text
    for _ in range(RECENT_REQUESTS + 5):
        await client.get("customer", "cus-000002")
    kept = await recent()
    assert len(kept) == RECENT_REQUESTS
    async with http.delete(f"{sandbox.url}/admin/requests") as resp:
        assert resp.status == 204
    assert await recent() == []


async def test_a_slow_token_endpoint_never_delays_a_call_while_the_token_is_valid(
    provider: ClientCredentials, endpoint: TokenEndpoint, clock: Clock
) -> None:
    assert await provider.authorization("TMF629") == "Bearer tok-1"
    clock.now += 70  # refresh due, 50 s of validity left
    endpoint.gate = asyncio.Event()  # the endpoint hangs
    async with asyncio.timeout(0.5):
        assert await provider.authorization("TMF629") == "Bearer tok-1"
        assert await provider.authorization("TMF637") == "Bearer tok-1"
    endpoint.gate.set()
    await provider.refreshed()
    assert await provider.authorization("TMF629") == "Bearer tok-2"
