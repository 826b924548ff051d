"""Identity end to end: real tokens from the development IdP, refused tokens, channels from
the token, WebSocket authentication and expiry, and the `csm-graph token` command."""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path

import aiohttp
import jwt
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from graph.auth.devidp import DEV_AUDIENCE, DEV_ISSUER, load_or_create_key
from graph.cli import main
from tests.gateway.conftest import RunningGateway, token_for

ME = "{ me { reference } }"


async def ask(
    http: aiohttp.ClientSession, gateway: RunningGateway, authorization: str | None, query: str = ME
) -> tuple[int, dict[str, str], dict[str, object]]:
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    async with http.post(
        f"{gateway.url}/graphql", data=orjson.dumps({"query": query}), headers=headers
    ) as resp:
        return resp.status, dict(resp.headers), orjson.loads(await resp.read())


async def test_a_dev_idp_token_signs_in_its_customer(
    gateway: RunningGateway, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    status, _, body = await ask(
        http, gateway, f"Bearer {token_for('customer:cus-000007', dev_idp_key)}"
    )
    assert status == 200
    assert body == {"data": {"me": {"reference": "cus-000007"}}}


def _unsigned(claims: dict[str, object]) -> str:
    """alg=none, crafted by hand: a header, the claims, an empty signature."""
    header = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT"}').decode()
    body = jwt.utils.base64url_encode(orjson.dumps(claims)).decode()
    return f"{header}.{body}."


def _hmac_with_public_key(
    claims: dict[str, object], key: ec.EllipticCurvePrivateKey, kid: str
) -> str:
    """The key-confusion attack: an HS256 token whose secret is the published public key."""
    public_pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    header = jwt.utils.base64url_encode(orjson.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}))
    body = jwt.utils.base64url_encode(orjson.dumps(claims))
    signed = header + b"." + body
    mac = hmac.new(public_pem, signed, hashlib.sha256).digest()
    return (signed + b"." + jwt.utils.base64url_encode(mac)).decode()


def forged_tokens(dev_idp_key: Path) -> dict[str, str]:
    key = load_or_create_key(dev_idp_key)
    now = int(time.time())
    claims = {
        "iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "sub": "cus-000001", "iat": now, "exp": now + 600,
        "role": "customer", "channel": "web", "customer_id": "cus-000001",
    }  # fmt: skip
    good = token_for("customer:cus-000001", dev_idp_key)
    header = jwt.get_unverified_header(good)
    other = ec.generate_private_key(ec.SECP256R1())
    head, _, signature = good.split(".")
    tampered_payload = jwt.utils.base64url_encode(
        orjson.dumps(
            {**jwt.decode(good, options={"verify_signature": False}), "customer_id": "cus-000002"}
        )
    ).decode()
    return {
        "garbage": "not-a-token",
        "other key, same kid": jwt.encode(
            claims, other, algorithm="ES256", headers={"kid": header["kid"]}
        ),
        "tampered payload": f"{head}.{tampered_payload}.{signature}",
        "expired": jwt.encode(
            {**claims, "exp": now - 120, "iat": now - 900},
            key,
            "ES256",
            headers={"kid": header["kid"]},
        ),
        "wrong issuer": jwt.encode(
            {**claims, "iss": "https://evil.example"}, key, "ES256", headers={"kid": header["kid"]}
        ),
        "wrong audience": jwt.encode(
            {**claims, "aud": "someone-else"}, key, "ES256", headers={"kid": header["kid"]}
        ),
        "alg none": _unsigned(claims),
        "HS256 keyed with the public key": _hmac_with_public_key(claims, key, header["kid"]),
        "not yet valid": jwt.encode(
            {**claims, "nbf": now + 600}, key, "ES256", headers={"kid": header["kid"]}
        ),
        "unknown role": jwt.encode(
            {**claims, "role": "admin"}, key, "ES256", headers={"kid": header["kid"]}
        ),
    }


@pytest.mark.parametrize(
    "case",
    ["garbage", "other key, same kid", "tampered payload", "expired", "wrong issuer",
     "wrong audience", "alg none", "HS256 keyed with the public key", "not yet valid",
     "unknown role"],
)  # fmt: skip
async def test_bad_tokens_are_401_unauthenticated(
    gateway: RunningGateway, http: aiohttp.ClientSession, dev_idp_key: Path, case: str
) -> None:
    token = forged_tokens(dev_idp_key)[case]
    status, headers, body = await ask(http, gateway, f"Bearer {token}")
    assert status == 401, (case, body)
    assert headers["WWW-Authenticate"].startswith("Bearer")
    errors = body["errors"]
    assert isinstance(errors, list)
    assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "data" not in body


async def test_no_token_is_anonymous_and_the_catalogue_is_public(
    gateway: RunningGateway, http: aiohttp.ClientSession
) -> None:
    status, _, body = await ask(http, gateway, None)
    assert status == 200
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"  # type: ignore[index]
    status, _, body = await ask(
        http, gateway, None, "{ productOfferings(first: 1) { totalCount } }"
    )
    assert status == 200
    assert "errors" not in body
    status, _, _ = await ask(http, gateway, "Basic dXNlcjpwdw==")
    assert status == 401


async def test_the_channel_comes_from_the_token_not_from_headers(
    gateway: RunningGateway, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    token = token_for("customer:cus-000001@app", dev_idp_key)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}",
               "X-Channel": "agent-desktop", "X-Dev-Principal": "agent:a1"}  # fmt: skip
    async with http.post(
        f"{gateway.url}/graphql", data=orjson.dumps({"query": ME}), headers=headers
    ) as r:
        assert r.status == 200
    async with http.get(f"{gateway.url}/metrics") as r:
        metrics = await r.text()
    assert 'csm_graphql_requests_total{channel="app",outcome="ok"}' in metrics
    # a header claiming to be an agent changes nothing: still the customer
    async with http.post(
        f"{gateway.url}/graphql",
        data=orjson.dumps({"query": '{ customer(id: "cus-000002") { name } }'}),
        headers=headers,
    ) as r:
        body = orjson.loads(await r.read())
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_websocket_takes_the_token_in_connection_init(
    gateway: RunningGateway, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    token = token_for("customer:cus-000003", dev_idp_key)
    async with http.ws_connect(f"{gateway.url}/graphql", protocols=("graphql-transport-ws",)) as ws:
        await ws.send_json(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        )
        assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": ME}})
        message = await ws.receive_json(timeout=5)
        assert message["payload"]["data"] == {"me": {"reference": "cus-000003"}}
    async with http.ws_connect(f"{gateway.url}/graphql", protocols=("graphql-transport-ws",)) as ws:
        await ws.send_json(
            {"type": "connection_init", "payload": {"Authorization": "Bearer forged"}}
        )
        closing = await ws.receive(timeout=5)
        assert closing.type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 4403


async def test_an_expired_token_ends_the_websocket(
    gateway: RunningGateway, http: aiohttp.ClientSession, dev_idp_key: Path
) -> None:
    token = token_for("customer:cus-000003", dev_idp_key, ttl=2)
    async with http.ws_connect(f"{gateway.url}/graphql", protocols=("graphql-transport-ws",)) as ws:
        await ws.send_json(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        )
        assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
        started = time.monotonic()
        while True:
            message = await ws.receive(timeout=5)
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                break
        assert ws.close_code == 4401
        assert time.monotonic() - started < 4


def test_token_command_mints_for_development_and_refuses_next_to_a_real_idp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CSM_DEV_IDP_KEY", str(tmp_path / "key.pem"))
    for name in ("CSM_JWKS_URL", "CSM_JWT_ISSUER", "CSM_JWT_AUDIENCE", "CSM_DEV_IDP"):
        monkeypatch.delenv(name, raising=False)
    args = [
        "token",
        "--role",
        "customer",
        "--channel",
        "ivr",
        "--customer",
        "cus-000004",
        "--ttl",
        "60",
    ]
    assert main(args) == 0
    token = capsys.readouterr().out.strip()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["customer_id"] == "cus-000004"
    assert claims["channel"] == "ivr"
    assert claims["acr"] == "low"
    assert claims["exp"] - claims["iat"] == 60
    monkeypatch.setenv("CSM_JWKS_URL", "https://idp.example/jwks")
    assert main(args) == 2
    assert "token" in capsys.readouterr().err


async def test_an_unreachable_identity_provider_is_503_not_a_bad_token(
    http: aiohttp.ClientSession, sandbox: object, dev_idp_key: Path
) -> None:
    from graph.sandbox import RunningSandbox
    from tests.gateway.conftest import running_gateway, settings_for

    assert isinstance(sandbox, RunningSandbox)
    settings = settings_for(sandbox)
    settings = type(settings)(**{
        **{f: getattr(settings, f) for f in settings.__dataclass_fields__},
        "dev_idp_url": "http://127.0.0.1:9",  # nothing listens: the JWKS cannot be fetched
    })  # fmt: skip
    async with running_gateway(settings) as gateway:
        status, headers, body = await ask(
            http, gateway, f"Bearer {token_for('customer:cus-000001', dev_idp_key)}"
        )
    assert status == 503
    assert headers["Retry-After"] == "5"
    assert body["errors"][0]["extensions"]["code"] == "BACKEND_UNAVAILABLE"  # type: ignore[index]


async def test_a_channel_claim_contradicting_the_client_is_refused() -> None:
    from graph.auth.principal import ClaimsError, principal_from_claims

    claims = {
        "sub": "c",
        "role": "customer",
        "customer_id": "cus-000001",
        "channel": "web",
        "azp": "shop-kiosk",
    }
    with pytest.raises(ClaimsError):
        principal_from_claims(claims, {"shop-kiosk": "kiosk"})
    assert (
        principal_from_claims({**claims, "channel": "kiosk"}, {"shop-kiosk": "kiosk"}).channel
        == "kiosk"
    )
