"""The development identity provider: its key file, its tokens, its refusals, its JWKS over HTTP.

Every key lives under pytest's tmp_path, named through an environment mapping -- never the real
home directory.
"""

from __future__ import annotations

import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec

from graph.auth import devidp
from graph.auth.devidp import (
    DEV_AUDIENCE,
    DEV_ISSUER,
    DEV_KID_PREFIX,
    DevIdpError,
    dev_key_path,
    discovery,
    key_id,
    load_or_create_key,
    mint,
    mint_for_environment,
    public_jwks,
)
from graph.auth.principal import CHANNELS as PRINCIPAL_CHANNELS
from graph.sandbox.idp import add_idp_routes

NOW = 1_790_000_000.0


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    return tmp_path / "config" / "csm-graph" / "dev-idp-key.pem"


@pytest.fixture
def key(key_path: Path) -> ec.EllipticCurvePrivateKey:
    return load_or_create_key(key_path)


def verify(token: str, key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    """Check ``token`` the way a gateway would: against the JWKS, ES256 only, issuer, audience."""
    [jwk] = public_jwks(key)["keys"]
    assert jwt.get_unverified_header(token)["kid"] == jwk["kid"]
    claims: dict[str, Any] = jwt.decode(
        token,
        jwt.PyJWK(jwk).key,
        algorithms=["ES256"],
        issuer=DEV_ISSUER,
        audience=DEV_AUDIENCE,
        options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub", "jti"]},
    )
    return claims


# --- where the key lives -----------------------------------------------------------------------


def test_key_path_from_the_environment(tmp_path: Path) -> None:
    explicit = tmp_path / "k.pem"
    assert dev_key_path({"CSM_DEV_IDP_KEY": str(explicit)}) == explicit
    assert dev_key_path({"XDG_CONFIG_HOME": str(tmp_path), "HOME": "/nowhere"}) == (
        tmp_path / "csm-graph" / "dev-idp-key.pem"
    )
    home = {"HOME": str(tmp_path)}
    assert dev_key_path(home) == tmp_path / ".config" / "csm-graph" / "dev-idp-key.pem"
    # A relative XDG_CONFIG_HOME is invalid (XDG spec) and ignored; an empty variable is unset.
    assert dev_key_path(home | {"XDG_CONFIG_HOME": "rel"}) == dev_key_path(home)
    assert dev_key_path(home | {"CSM_DEV_IDP_KEY": ""}) == dev_key_path(home)


# --- the key file ------------------------------------------------------------------------------


def test_key_is_created_private_and_reused(key_path: Path) -> None:
    first = load_or_create_key(key_path)
    assert isinstance(first.curve, ec.SECP256R1)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_path.parent.stat().st_mode) == 0o700
    assert key_path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    second = load_or_create_key(key_path)
    assert key_id(second) == key_id(first)
    assert sorted(p.name for p in key_path.parent.iterdir()) == [key_path.name]  # no temp left


def test_threads_racing_to_create_the_key_end_with_one_key(key_path: Path) -> None:
    racers = 8
    barrier = threading.Barrier(racers)
    kids: list[str] = []
    errors: list[BaseException] = []

    def race() -> None:
        try:
            barrier.wait()
            kids.append(key_id(load_or_create_key(key_path)))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=race) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert set(kids) == {key_id(load_or_create_key(key_path))}
    assert sorted(p.name for p in key_path.parent.iterdir()) == [key_path.name]


def test_processes_racing_to_create_the_key_end_with_one_key(key_path: Path) -> None:
    start = time.time() + 1.0  # every racer has imported everything by then
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from graph.auth.devidp import key_id, load_or_create_key\n"
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
        "print(key_id(load_or_create_key(Path(sys.argv[1]))))\n"
    )
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(key_path), repr(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [racer.communicate(timeout=30) for racer in racers]
    assert [racer.returncode for racer in racers] == [0] * len(racers), outputs
    kids = {out.strip() for out, _ in outputs}
    assert kids == {key_id(load_or_create_key(key_path))}


def test_losing_the_creation_race_uses_the_winners_key(
    key_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deterministically: another process publishes its key between our look and our write."""
    generate = ec.generate_private_key
    winner: list[ec.EllipticCurvePrivateKey] = []

    def generate_after_a_rival(
        curve: ec.EllipticCurve, backend: Any = None
    ) -> ec.EllipticCurvePrivateKey:
        if not winner:
            winner.append(generate(curve))  # placeholder, so the rival generates for real
            winner[0] = load_or_create_key(key_path)  # the rival wins the race
        return generate(curve)

    monkeypatch.setattr(ec, "generate_private_key", generate_after_a_rival)
    loser = load_or_create_key(key_path)
    assert key_id(loser) == key_id(winner[0]) == key_id(load_or_create_key(key_path))
    assert sorted(p.name for p in key_path.parent.iterdir()) == [key_path.name]


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o644])
def test_a_key_accessible_to_others_is_refused(key_path: Path, mode: int) -> None:
    load_or_create_key(key_path)
    key_path.chmod(mode)
    with pytest.raises(DevIdpError, match="chmod 600"):
        load_or_create_key(key_path)
    with pytest.raises(DevIdpError, match="accessible by group or others"):
        mint_for_environment(
            {"CSM_DEV_IDP_KEY": str(key_path)}, role="agent", channel="agent-desktop"
        )


def test_an_unusable_key_file_is_refused(key_path: Path) -> None:
    key_path.parent.mkdir(parents=True)
    key_path.write_bytes(b"not a key")
    key_path.chmod(0o600)
    with pytest.raises(DevIdpError, match="not a usable PEM key"):
        load_or_create_key(key_path)
    key_path.unlink()
    key_path.mkdir()
    with pytest.raises(DevIdpError, match="not a regular file"):
        load_or_create_key(key_path)


# --- the public half ---------------------------------------------------------------------------


def test_jwks_and_kid(key: ec.EllipticCurvePrivateKey) -> None:
    [jwk] = public_jwks(key)["keys"]
    assert set(jwk) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("EC", "P-256", "ES256", "sig")
    assert jwk["kid"] == key_id(key) == key_id(key.public_key())
    assert jwk["kid"].startswith(DEV_KID_PREFIX)
    assert len(jwk["kid"]) == len(DEV_KID_PREFIX) + 16
    assert jwt.PyJWK(jwk).key.public_numbers() == key.public_key().public_numbers()
    other = ec.generate_private_key(ec.SECP256R1())
    assert key_id(other) != key_id(key)


def test_discovery_is_marked_development() -> None:
    doc = discovery("http://127.0.0.1:8100/")
    assert doc["issuer"] == DEV_ISSUER
    assert not doc["issuer"].startswith(("http://", "https://"))
    assert doc["jwks_uri"] == "http://127.0.0.1:8100/.well-known/jwks.json"
    assert doc["id_token_signing_alg_values_supported"] == ["ES256"]
    assert doc["x_csm_development_only"] is True
    assert "NOT FOR PRODUCTION" in doc["service_documentation"]


def test_channels_are_the_principals_channels() -> None:
    assert set(devidp.CHANNELS) == PRINCIPAL_CHANNELS


# --- tokens ------------------------------------------------------------------------------------


def test_customer_token(key: ec.EllipticCurvePrivateKey) -> None:
    token = mint(
        key, role="customer", channel="app", customer_id="cus-000001",
        scopes=("bills:read", "orders:write", "bills:read"), now=time.time(),
    )  # fmt: skip
    claims = verify(token, key)
    assert claims["iss"] == DEV_ISSUER
    assert claims["aud"] == DEV_AUDIENCE
    assert claims["sub"] == claims["customer_id"] == "cus-000001"
    assert (claims["role"], claims["channel"], claims["acr"]) == ("customer", "app", "substantial")
    assert claims["scope"] == "bills:read orders:write"
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["nbf"] == claims["iat"]
    assert jwt.get_unverified_header(token)["alg"] == "ES256"


def test_staff_tokens_have_no_customer(key: ec.EllipticCurvePrivateKey) -> None:
    agent = verify(mint(key, role="agent", channel="agent-desktop"), key)
    assert (agent["sub"], agent["role"], agent["acr"]) == ("agent-dev", "agent", "substantial")
    assert "customer_id" not in agent
    assert "scope" not in agent
    analyst = verify(mint(key, role="analyst", channel="web", subject="ana-1", acr="high"), key)
    assert (analyst["sub"], analyst["role"], analyst["acr"]) == ("ana-1", "analyst", "high")
    assert "customer_id" not in analyst


def test_ivr_logins_are_low_assurance(key: ec.EllipticCurvePrivateKey) -> None:
    claims = verify(mint(key, role="customer", channel="ivr", customer_id="cus-000042"), key)
    assert claims["acr"] == "low"
    created = verify(
        mint(key, role="customer", channel="web", customer_id="cus-n0123456789abcdef"), key
    )
    assert created["customer_id"] == "cus-n0123456789abcdef"


def test_every_token_has_its_own_jti(key: ec.EllipticCurvePrivateKey) -> None:
    jtis = {verify(mint(key, role="agent", channel="web"), key)["jti"] for _ in range(5)}
    assert len(jtis) == 5


def test_ttl_and_time(key: ec.EllipticCurvePrivateKey) -> None:
    token = mint(key, role="agent", channel="web", ttl_seconds=60, now=NOW)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (NOW, NOW, NOW + 60)
    expired = mint(key, role="agent", channel="web", ttl_seconds=60, now=time.time() - 120)
    with pytest.raises(jwt.ExpiredSignatureError):
        verify(expired, key)


def test_a_token_from_another_key_does_not_verify(key: ec.EllipticCurvePrivateKey) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    [jwk] = public_jwks(key)["keys"]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            mint(other, role="agent", channel="web"), jwt.PyJWK(jwk).key,
            algorithms=["ES256"], issuer=DEV_ISSUER, audience=DEV_AUDIENCE,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"role": "admin", "channel": "web"}, "unknown role"),
        ({"role": "agent", "channel": "fax"}, "unknown channel"),
        ({"role": "customer", "channel": "web"}, "needs a customer id"),
        ({"role": "customer", "channel": "web", "customer_id": "42"}, "not a customer id"),
        ({"role": "customer", "channel": "web", "customer_id": "cus-1"}, "not a customer id"),
        ({"role": "customer", "channel": "web", "customer_id": "ba-000001-1"}, "not a customer"),
        ({"role": "agent", "channel": "web", "customer_id": "cus-000001"}, "only customer"),
        ({"role": "analyst", "channel": "web", "customer_id": "cus-000001"}, "only customer"),
        ({"role": "agent", "channel": "web", "ttl_seconds": 0}, "ttl"),
        ({"role": "agent", "channel": "web", "ttl_seconds": 86_401}, "ttl"),
        ({"role": "agent", "channel": "web", "ttl_seconds": -5}, "ttl"),
        ({"role": "agent", "channel": "web", "ttl_seconds": 1.5}, "ttl"),
        ({"role": "agent", "channel": "web", "ttl_seconds": True}, "ttl"),
        ({"role": "agent", "channel": "web", "subject": "a b"}, "subject"),
        ({"role": "agent", "channel": "web", "subject": "x" * 65}, "subject"),
        ({"role": "agent", "channel": "web", "acr": "medium"}, "unknown acr"),
        ({"role": "agent", "channel": "web", "scopes": ["a b"]}, "scope"),
        ({"role": "agent", "channel": "web", "scopes": [""]}, "scope"),
        ({"role": "agent", "channel": "web", "scopes": "bills:read"}, "scopes must be a list"),
    ],
)
def test_bad_arguments_are_refused(
    key: ec.EllipticCurvePrivateKey, arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(DevIdpError, match=message):
        mint(key, **arguments)


def test_ttl_bounds_are_accepted(key: ec.EllipticCurvePrivateKey) -> None:
    for ttl in (1, 86_400):
        claims = jwt.decode(
            mint(key, role="agent", channel="web", ttl_seconds=ttl, now=NOW),
            options={"verify_signature": False},
        )
        assert claims["exp"] - claims["iat"] == ttl


# --- minting next to a configuration -----------------------------------------------------------


def test_mint_for_a_development_environment(key_path: Path) -> None:
    for flag in ({}, {"CSM_DEV_IDP": "1"}, {"CSM_DEV_IDP": "on"}, {"CSM_DEV_IDP": ""}):
        env = {"CSM_DEV_IDP_KEY": str(key_path)} | flag
        token = mint_for_environment(env, role="customer", channel="web", customer_id="cus-000007")
        claims = verify(token, load_or_create_key(key_path))
        assert claims["customer_id"] == "cus-000007"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"CSM_JWKS_URL": "https://login.example.com/jwks"}, "real identity provider"),
        ({"CSM_JWKS_URL": ""}, "real identity provider"),
        ({"CSM_JWT_ISSUER": "https://login.example.com/"}, "real identity provider"),
        ({"CSM_JWT_ISSUER": DEV_ISSUER}, "real identity provider"),
        ({"CSM_JWT_AUDIENCE": DEV_AUDIENCE}, "real identity provider"),
        ({"CSM_DEV_IDP": "0"}, "is off"),
        ({"CSM_DEV_IDP": "false"}, "is off"),
        ({"CSM_DEV_IDP": "OFF"}, "is off"),
        ({"CSM_DEV_IDP": "maybe"}, "not a boolean"),
        ({"CSM_DEV_IDP": "1", "CSM_JWKS_URL": "https://idp/jwks"}, "real identity provider"),
    ],
)
def test_mint_refuses_next_to_a_real_identity_provider(
    key_path: Path, setting: dict[str, str], message: str
) -> None:
    env = {"CSM_DEV_IDP_KEY": str(key_path)} | setting
    with pytest.raises(DevIdpError, match=message):
        mint_for_environment(env, role="agent", channel="agent-desktop")
    assert not key_path.exists()  # refused before the key is even created


def test_mint_for_environment_validates_claims(key_path: Path) -> None:
    with pytest.raises(DevIdpError, match="needs a customer id"):
        mint_for_environment({"CSM_DEV_IDP_KEY": str(key_path)}, role="customer", channel="web")


# --- the sandbox's routes over HTTP ------------------------------------------------------------


@asynccontextmanager
async def serving(build: Callable[[web.Application, str], None]) -> AsyncIterator[str]:
    sock = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = web.Application()
    build(app, url)
    runner = web.AppRunner(app, access_log=None)
    try:
        await runner.setup()
        await web.SockSite(runner, sock).start()
        yield url
    finally:
        await runner.cleanup()
        sock.close()


async def test_sandbox_serves_discovery_and_jwks(
    key: ec.EllipticCurvePrivateKey, http: aiohttp.ClientSession
) -> None:
    async with serving(lambda app, url: add_idp_routes(app, key, url)) as url:
        async with http.get(f"{url}/.well-known/openid-configuration") as response:
            assert response.status == 200
            assert response.content_type == "application/json"
            assert response.headers["Cache-Control"] == "max-age=300"
            doc = await response.json()
        assert doc["issuer"] == DEV_ISSUER
        assert doc["jwks_uri"] == f"{url}/.well-known/jwks.json"
        async with http.get(doc["jwks_uri"]) as response:
            assert response.status == 200
            assert response.content_type == "application/json"
            assert response.headers["Cache-Control"] == "max-age=300"
            jwks = await response.json()
        async with http.post(doc["jwks_uri"]) as response:
            assert response.status == 405

    assert key_id(key) in {jwk["kid"] for jwk in jwks["keys"]}
    token = mint(key, role="customer", channel="kiosk", customer_id="cus-000003")
    signing = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(
        token, signing.key, algorithms=["ES256"], issuer=doc["issuer"], audience=DEV_AUDIENCE
    )
    assert (claims["sub"], claims["channel"]) == ("cus-000003", "kiosk")
    assert not any(k in jwk for jwk in jwks["keys"] for k in ("d", "p", "q"))  # public only
