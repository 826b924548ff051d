"""Bearer-token verification against a real JWKS server on a loopback port, with real keys.

Every refusal is asserted by its exact reason, so a token refused for the wrong cause (say, a
confusion attack that only fails because of a missing claim) fails the test.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from graph.auth.tokens import InvalidToken, TokenConfig, TokenVerifier

ISSUER = "https://idp.example.test/realms/csm"
AUDIENCE = "csm-graph"


# --- keys, once per module ---------------------------------------------------------------------


@dataclass(frozen=True)
class Keys:
    rsa: RSAPrivateKey
    rsa_other: RSAPrivateKey  # a different key, never published
    rsa_weak: RSAPrivateKey  # 1024 bits
    ec: EllipticCurvePrivateKey  # P-256
    ec_p384: EllipticCurvePrivateKey


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys(
        rsa=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        rsa_other=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        rsa_weak=rsa.generate_private_key(public_exponent=65537, key_size=1024),
        ec=ec.generate_private_key(ec.SECP256R1()),
        ec_p384=ec.generate_private_key(ec.SECP384R1()),
    )


def rsa_jwk(key: RSAPrivateKey, kid: str | None, **extra: Any) -> dict[str, Any]:
    jwk = dict(RSAAlgorithm.to_jwk(key.public_key(), as_dict=True))
    jwk.update({"kid": kid, "use": "sig", "alg": "RS256"})
    jwk.update(extra)
    return {k: v for k, v in jwk.items() if v is not None}


def ec_jwk(key: EllipticCurvePrivateKey, kid: str, **extra: Any) -> dict[str, Any]:
    jwk = dict(ECAlgorithm.to_jwk(key.public_key(), as_dict=True))
    jwk.update({"kid": kid, "use": "sig", "alg": "ES256"})
    jwk.update(extra)
    return {k: v for k, v in jwk.items() if v is not None}


def standard_jwks(keys: Keys) -> list[dict[str, Any]]:
    return [rsa_jwk(keys.rsa, "rsa-1"), ec_jwk(keys.ec, "ec-1")]


# --- tokens ------------------------------------------------------------------------------------


def claims(**overrides: Any) -> dict[str, Any]:
    """Valid claims; an override of None removes the claim."""
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-42",
        "iat": now,
        "exp": now + 300,
        "customer_id": "cus-000001",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: Any, kid: str, payload: dict[str, Any], alg: str = "RS256") -> str:
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64json(obj: Any) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def segments(token: str) -> tuple[str, str, str]:
    header, payload, signature = token.split(".")
    return header, payload, signature


# --- a JWKS server you control -----------------------------------------------------------------


@dataclass
class JwksServer:
    url: str
    keys: list[Any] = field(default_factory=list)  # the JWKS "keys" member, as served
    status: int = 200
    body: bytes | None = None  # served instead of the JWKS when set
    gate: asyncio.Event | None = None  # when set, fetches wait for it
    fetches: int = 0
    fetched: asyncio.Event = field(default_factory=asyncio.Event)  # a fetch has arrived

    async def handle(self, request: web.Request) -> web.Response:
        self.fetches += 1
        self.fetched.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.status != 200:  # an error status, even with a JWKS-looking body, is a failure
            return web.json_response({"keys": self.keys}, status=self.status)
        if self.body is not None:
            return web.Response(body=self.body, content_type="application/json")
        return web.json_response({"keys": self.keys})


@pytest.fixture
async def jwks(keys: Keys) -> AsyncIterator[JwksServer]:
    sock = socket.create_server(("127.0.0.1", 0))
    server = JwksServer(
        url=f"http://127.0.0.1:{sock.getsockname()[1]}/.well-known/jwks.json",
        keys=standard_jwks(keys),
    )
    app = web.Application()
    app.router.add_get("/.well-known/jwks.json", server.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        yield server
    finally:
        if server.gate is not None:
            server.gate.set()
        await runner.cleanup()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_verifier(
    url: str, http: aiohttp.ClientSession, clock: FakeClock, **config: Any
) -> TokenVerifier:
    return TokenVerifier(
        TokenConfig(issuer=ISSUER, audience=AUDIENCE, jwks_url=url, **config), http, clock
    )


@pytest.fixture
def verifier(jwks: JwksServer, http: aiohttp.ClientSession, clock: FakeClock) -> TokenVerifier:
    return make_verifier(jwks.url, http, clock)


async def refused(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    return caught.value.reason


# --- valid tokens ------------------------------------------------------------------------------


async def test_valid_rs256_token_returns_its_claims(
    verifier: TokenVerifier, keys: Keys, jwks: JwksServer
) -> None:
    payload = claims()
    assert await verifier.verify(sign(keys.rsa, "rsa-1", payload)) == payload
    assert jwks.fetches == 1


async def test_valid_es256_token_returns_its_claims(
    verifier: TokenVerifier, keys: Keys, jwks: JwksServer
) -> None:
    payload = claims(sub="user-7")
    assert await verifier.verify(sign(keys.ec, "ec-1", payload, "ES256")) == payload
    assert jwks.fetches == 1


async def test_keys_are_cached_between_verifications(
    verifier: TokenVerifier, keys: Keys, jwks: JwksServer, clock: FakeClock
) -> None:
    for _ in range(5):
        await verifier.verify(sign(keys.rsa, "rsa-1", claims()))
        await verifier.verify(sign(keys.ec, "ec-1", claims(), "ES256"))
        clock.advance(100)
    assert jwks.fetches == 1


async def test_the_jwks_is_parsed_without_alg_or_use(
    jwks: JwksServer, http: aiohttp.ClientSession, clock: FakeClock, keys: Keys
) -> None:
    jwks.keys = [
        rsa_jwk(keys.rsa, "rsa-1", alg=None, use=None),
        ec_jwk(keys.ec, "ec-1", alg=None, use=None),
    ]
    verifier = make_verifier(jwks.url, http, clock)
    await verifier.verify(sign(keys.rsa, "rsa-1", claims()))
    await verifier.verify(sign(keys.ec, "ec-1", claims(), "ES256"))


# --- algorithm attacks -------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", ""])
@pytest.mark.parametrize("kid", ["rsa-1", None])
async def test_alg_none_is_refused_before_any_key_is_looked_at(
    verifier: TokenVerifier, jwks: JwksServer, alg: str, kid: str | None
) -> None:
    header = {"alg": alg, "typ": "JWT"} | ({"kid": kid} if kid else {})
    token = f"{b64json(header)}.{b64json(claims())}."
    assert await refused(verifier, token) == "algorithm not allowed"
    assert jwks.fetches == 0


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
async def test_hmac_signed_with_the_public_key_is_refused(
    verifier: TokenVerifier, jwks: JwksServer, keys: Keys, alg: str
) -> None:
    """The classic confusion: the attacker HMACs with the published RSA key as the secret."""
    pem = keys.rsa.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    signing_input = f"{b64json({'alg': alg, 'typ': 'JWT', 'kid': 'rsa-1'})}.{b64json(claims())}"
    signature = hmac.new(pem, signing_input.encode(), digest).digest()
    token = f"{signing_input}.{b64url(signature)}"
    assert await refused(verifier, token) == "algorithm not allowed"
    assert jwks.fetches == 0


@pytest.mark.parametrize("algorithms", [("HS256",), ("RS256", "none"), ("RS256", "HS256"), ()])
def test_a_symmetric_or_empty_algorithm_list_is_a_configuration_error(
    algorithms: tuple[str, ...],
) -> None:
    with pytest.raises(ValueError, match="algorithm"):
        TokenConfig(issuer=ISSUER, audience=AUDIENCE, jwks_url="http://x", algorithms=algorithms)


async def test_an_algorithm_not_configured_is_refused(
    jwks: JwksServer, http: aiohttp.ClientSession, clock: FakeClock, keys: Keys
) -> None:
    verifier = make_verifier(jwks.url, http, clock, algorithms=("ES256",))
    assert await refused(verifier, sign(keys.rsa, "rsa-1", claims())) == "algorithm not allowed"
    assert jwks.fetches == 0


async def test_es256_token_with_an_rsa_key_under_its_kid_is_refused(
    jwks: JwksServer, verifier: TokenVerifier, keys: Keys
) -> None:
    jwks.keys = [rsa_jwk(keys.rsa, "shared", alg=None)]
    token = sign(keys.ec, "shared", claims(), "ES256")
    assert await refused(verifier, token) == "signing key does not fit the algorithm"
    assert jwks.fetches == 1


async def test_es256_token_with_a_p384_key_under_its_kid_is_refused(
    jwks: JwksServer, verifier: TokenVerifier, keys: Keys
) -> None:
    jwks.keys = [ec_jwk(keys.ec_p384, "p384", alg=None)]
    token = sign(keys.ec, "p384", claims(), "ES256")
    assert await refused(verifier, token) == "signing key does not fit the algorithm"


async def test_rs256_token_with_an_ec_key_under_its_kid_is_refused(
    jwks: JwksServer, verifier: TokenVerifier, keys: Keys
) -> None:
    jwks.keys = [ec_jwk(keys.ec, "shared", alg=None)]
    token = sign(keys.rsa, "shared", claims())
    assert await refused(verifier, token) == "signing key does not fit the algorithm"


@pytest.mark.parametrize(("jwk_alg", "accepted"), [("RS256", False), (None, True)])
async def test_a_jwk_that_names_another_alg_is_not_used_for_it(
    jwks: JwksServer,
    http: aiohttp.ClientSession,
    clock: FakeClock,
    keys: Keys,
    jwk_alg: str | None,
    accepted: bool,
) -> None:
    jwks.keys = [rsa_jwk(keys.rsa, "rsa-1", alg=jwk_alg)]
    verifier = make_verifier(jwks.url, http, clock, algorithms=("RS256", "RS384"))
    token = sign(keys.rsa, "rsa-1", claims(), "RS384")
    if accepted:
        assert (await verifier.verify(token))["sub"] == "user-42"
    else:
        assert await refused(verifier, token) == "signing key does not fit the algorithm"


# --- signatures --------------------------------------------------------------------------------


async def test_a_token_signed_by_another_key_with_the_same_kid_is_refused(
    verifier: TokenVerifier, keys: Keys
) -> None:
    token = sign(keys.rsa_other, "rsa-1", claims())
    assert await refused(verifier, token) == "bad signature"


@pytest.mark.parametrize(("kid", "alg"), [("rsa-1", "RS256"), ("ec-1", "ES256")])
async def test_a_tampered_payload_is_refused(
    verifier: TokenVerifier, keys: Keys, kid: str, alg: str
) -> None:
    key = keys.rsa if alg == "RS256" else keys.ec
    header, _, signature = segments(sign(key, kid, claims(sub="user-42"), alg))
    assert await verifier.verify(f"{header}.{b64json(claims(sub='user-42'))}.{signature}")
    forged = f"{header}.{b64json(claims(sub='admin'))}.{signature}"
    assert await refused(verifier, forged) == "bad signature"


async def test_a_stripped_signature_is_refused(verifier: TokenVerifier, keys: Keys) -> None:
    header, payload, _ = segments(sign(keys.rsa, "rsa-1", claims()))
    assert await refused(verifier, f"{header}.{payload}.") == "bad signature"


# --- claims ------------------------------------------------------------------------------------


async def test_an_expired_token_is_refused_beyond_the_leeway(
    verifier: TokenVerifier, keys: Keys
) -> None:
    now = int(time.time())
    token = sign(keys.rsa, "rsa-1", claims(iat=now - 600, exp=now - 60))
    assert await refused(verifier, token) == "token expired"


async def test_an_expired_token_is_accepted_within_the_leeway(
    verifier: TokenVerifier, keys: Keys
) -> None:
    now = int(time.time())
    token = sign(keys.rsa, "rsa-1", claims(iat=now - 600, exp=now - 10))
    assert (await verifier.verify(token))["exp"] == now - 10


@pytest.mark.parametrize("claim", ["nbf", "iat"])
async def test_a_token_not_yet_valid_is_refused(
    verifier: TokenVerifier, keys: Keys, claim: str
) -> None:
    now = int(time.time())
    token = sign(keys.rsa, "rsa-1", claims(**{claim: now + 120}, exp=now + 600))
    assert await refused(verifier, token) == "token not yet valid"


async def test_a_wrong_issuer_is_refused(verifier: TokenVerifier, keys: Keys) -> None:
    token = sign(keys.rsa, "rsa-1", claims(iss="https://evil.example.test"))
    assert await refused(verifier, token) == "wrong issuer"


@pytest.mark.parametrize("aud", ["another-api", ["another-api", "yet-another"]])
async def test_a_wrong_audience_is_refused(
    verifier: TokenVerifier, keys: Keys, aud: str | list[str]
) -> None:
    token = sign(keys.rsa, "rsa-1", claims(aud=aud))
    assert await refused(verifier, token) == "wrong audience"


async def test_an_audience_list_naming_us_is_accepted(verifier: TokenVerifier, keys: Keys) -> None:
    token = sign(keys.rsa, "rsa-1", claims(aud=["account", AUDIENCE]))
    assert (await verifier.verify(token))["aud"] == ["account", AUDIENCE]


@pytest.mark.parametrize("claim", ["exp", "sub", "iat", "iss", "aud"])
async def test_a_missing_required_claim_is_refused(
    verifier: TokenVerifier, keys: Keys, claim: str
) -> None:
    token = sign(keys.rsa, "rsa-1", claims(**{claim: None}))
    assert await refused(verifier, token) == f"missing claim {claim}"


# --- garbage -----------------------------------------------------------------------------------

_GOOD_HEADER = b64json({"alg": "RS256", "kid": "rsa-1"})


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("", "malformed token"),
        ("not a token", "malformed token"),
        ("a.b", "malformed token"),
        ("a.b.c", "malformed token"),
        ("..", "malformed token"),
        ("é.é.é", "malformed token"),
        ("!!!!.!!!!.!!!!", "malformed token"),
        (f"{b64json([1, 2])}.{b64json({})}.", "malformed token"),
        (f"{b64url(b'{not json')}.{b64json({})}.", "malformed token"),
        (f"{b64json({'alg': 'RS256', 'kid': 7})}.{b64json({})}.", "malformed token"),
        (f"{b64json({'alg': 'RS256'})}.{b64json({})}.", "missing key id"),
        (f"{b64json({'alg': ['RS256'], 'kid': 'rsa-1'})}.{b64json({})}.", "algorithm not allowed"),
        (f"{_GOOD_HEADER}.{b64url(b'not json')}.{b64url(b'x' * 256)}", "bad signature"),
        (f"{_GOOD_HEADER}.{b64json({})}.{b64url(b'x' * 256)}", "bad signature"),
        (f"{_GOOD_HEADER}.{'A' * 20_000}.", "malformed token"),
    ],
)
async def test_garbage_is_refused_with_a_reason(
    verifier: TokenVerifier, token: str, reason: str
) -> None:
    assert await refused(verifier, token) == reason


@pytest.mark.parametrize("payload", [b"not json", b"[1, 2]", b'"a string"', b"[" * 5000])
async def test_a_signed_payload_that_is_not_a_claims_object_is_refused(
    verifier: TokenVerifier, keys: Keys, payload: bytes
) -> None:
    token = jwt.api_jws.encode(payload, keys.rsa, "RS256", headers={"kid": "rsa-1"})
    assert await refused(verifier, token) == "malformed token"


@pytest.mark.parametrize(
    ("claim", "value"), [("exp", "tomorrow"), ("iat", None), ("sub", 42), ("nbf", [1])]
)
async def test_a_signed_claim_of_the_wrong_type_is_refused(
    verifier: TokenVerifier, keys: Keys, claim: str, value: Any
) -> None:
    payload = claims() | {claim: value}
    token = sign(keys.rsa, "rsa-1", payload)
    assert await refused(verifier, token) == (
        "missing claim iat" if value is None else "malformed token"
    )


# --- the JWKS: which keys, when fetched ---------------------------------------------------------


async def test_unusable_keys_are_skipped_and_the_rest_used(
    jwks: JwksServer, verifier: TokenVerifier, keys: Keys
) -> None:
    jwks.keys = [
        rsa_jwk(keys.rsa_other, "enc", use="enc"),
        rsa_jwk(keys.rsa_other, "no-verify", key_ops=["encrypt"]),
        rsa_jwk(keys.rsa_weak, "weak"),
        {"kty": "oct", "kid": "oct", "k": b64url(b"s" * 32), "alg": "HS256"},
        {"kty": "XYZ", "kid": "junk"},
        {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
        ["not", "an", "object"],
        rsa_jwk(keys.rsa_other, None),  # no kid
        rsa_jwk(keys.rsa, "rsa-1"),
    ]
    assert await verifier.verify(sign(keys.rsa, "rsa-1", claims()))
    for kid in ("enc", "no-verify", "oct", "junk", "broken"):
        token = sign(keys.rsa_other, kid, claims())
        assert await refused(verifier, token) == "unknown signing key", kid
    with pytest.warns(jwt.InsecureKeyLengthWarning):
        weak = sign(keys.rsa_weak, "weak", claims())
    assert await refused(verifier, weak) == "unknown signing key"
    assert jwks.fetches == 1


async def test_an_unknown_kid_does_not_refetch_within_the_interval(
    verifier: TokenVerifier, jwks: JwksServer, keys: Keys, clock: FakeClock
) -> None:
    await verifier.verify(sign(keys.rsa, "rsa-1", claims()))
    clock.advance(29)
    assert await refused(verifier, sign(keys.rsa, "rsa-9", claims())) == "unknown signing key"
    assert jwks.fetches == 1


async def test_key_rotation_is_picked_up_once_the_interval_allows(
    verifier: TokenVerifier, jwks: JwksServer, keys: Keys, clock: FakeClock
) -> None:
    await verifier.verify(sign(keys.rsa, "rsa-1", claims()))
    jwks.keys = [rsa_jwk(keys.rsa_other, "rsa-2")]  # the provider rotated
    rotated = sign(keys.rsa_other, "rsa-2", claims())

    clock.advance(10)
    assert await refused(verifier, rotated) == "unknown signing key"
    assert jwks.fetches == 1

    clock.advance(21)  # 31 s after the first fetch
    assert (await verifier.verify(rotated))["sub"] == "user-42"
    assert jwks.fetches == 2
    # the withdrawn key went with the refetch
    assert await refused(verifier, sign(keys.rsa, "rsa-1", claims())) == "unknown signing key"


@pytest.mark.parametrize("advance", [0, 31])
async def test_a_flood_of_unknown_kids_costs_at_most_one_fetch(
    verifier: TokenVerifier, jwks: JwksServer, keys: Keys, clock: FakeClock, advance: float
) -> None:
    await verifier.verify(sign(keys.rsa, "rsa-1", claims()))
    clock.advance(advance)
    payload = claims()
    tokens = [sign(keys.rsa, secrets.token_hex(8), payload) for _ in range(100)]
    results = await asyncio.gather(*(verifier.verify(t) for t in tokens), return_exceptions=True)
    assert all(isinstance(r, InvalidToken) for r in results)
    assert {r.reason for r in results if isinstance(r, InvalidToken)} == {"unknown signing key"}
    assert jwks.fetches == (2 if advance else 1)


async def test_concurrent_first_verifications_share_one_fetch(
    verifier: TokenVerifier, jwks: JwksServer, keys: Keys
) -> None:
    tokens = [sign(keys.rsa, "rsa-1", claims(sub=f"user-{i}")) for i in range(20)]
    tokens += [sign(keys.ec, "ec-1", claims(sub=f"user-ec-{i}"), "ES256") for i in range(20)]
    results = await asyncio.gather(*(verifier.verify(t) for t in tokens))
    assert len({r["sub"] for r in results}) == 40
    assert jwks.fetches == 1


async def test_a_cancelled_request_does_not_cancel_the_shared_fetch(
    verifier: TokenVerifier, jwks: JwksServer, keys: Keys
) -> None:
    jwks.gate = asyncio.Event()
    token = sign(keys.rsa, "rsa-1", claims())
    first = asyncio.create_task(verifier.verify(token))
    await asyncio.wait_for(jwks.fetched.wait(), 2)
    second = asyncio.create_task(verifier.verify(token))
    await asyncio.sleep(0)
    first.cancel()
    jwks.gate.set()
    assert (await second)["sub"] == "user-42"
    with pytest.raises(asyncio.CancelledError):
        await first
    assert jwks.fetches == 1


async def test_known_keys_are_refetched_after_the_max_age(
    verifier: TokenVerifier, jwks: JwksServer, keys: Keys, clock: FakeClock
) -> None:
    token = sign(keys.rsa, "rsa-1", claims())
    await verifier.verify(token)
    clock.advance(3599)
    await verifier.verify(token)
    assert jwks.fetches == 1

    jwks.keys = [ec_jwk(keys.ec, "ec-1")]  # rsa-1 withdrawn
    clock.advance(1)
    assert await refused(verifier, token) == "unknown signing key"
    assert jwks.fetches == 2


async def test_stale_keys_are_kept_while_the_provider_is_down(
    verifier: TokenVerifier, jwks: JwksServer, keys: Keys, clock: FakeClock
) -> None:
    token = sign(keys.rsa, "rsa-1", claims())
    await verifier.verify(token)
    jwks.status = 503
    clock.advance(3600)
    assert await verifier.verify(token)  # refetch failed: the cached key still serves
    clock.advance(1)
    assert await verifier.verify(token)  # and the failed attempt is not retried at once
    assert jwks.fetches == 2
    assert await refused(verifier, sign(keys.rsa, "new", claims())) == (
        "identity provider unavailable"
    )


@pytest.fixture
def closed_port_url() -> str:
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/.well-known/jwks.json"


@pytest.mark.parametrize(
    "failure",
    ["503", "404", "not json", "not a jwk set", "keys not a list", "too large", "refused"],
)
async def test_jwks_down_without_cache_refuses_and_recovers(
    jwks: JwksServer,
    http: aiohttp.ClientSession,
    clock: FakeClock,
    keys: Keys,
    closed_port_url: str,
    failure: str,
) -> None:
    url = jwks.url
    match failure:
        case "503" | "404":
            jwks.status = int(failure)
        case "not json":
            jwks.body = b"<html>sign in</html>"
        case "not a jwk set":
            jwks.body = b'["a", "b"]'
        case "keys not a list":
            jwks.body = b'{"keys": {"kid": "rsa-1"}}'
        case "too large":
            jwks.body = json.dumps({"keys": [], "pad": "x" * 1_100_000}).encode()
        case "refused":
            url = closed_port_url
    verifier = make_verifier(url, http, clock)
    token = sign(keys.rsa, "rsa-1", claims())

    assert await refused(verifier, token) == "identity provider unavailable"
    clock.advance(5)  # within the interval: no new attempt, same answer
    assert await refused(verifier, token) == "identity provider unavailable"
    assert jwks.fetches == (0 if failure == "refused" else 1)

    if failure != "refused":
        jwks.status, jwks.body = 200, None
        clock.advance(30)
        assert (await verifier.verify(token))["sub"] == "user-42"
        assert jwks.fetches == 2


async def test_a_closed_session_is_an_unavailable_provider_not_a_crash(
    jwks: JwksServer, clock: FakeClock, keys: Keys
) -> None:
    session = aiohttp.ClientSession()
    await session.close()
    verifier = make_verifier(jwks.url, session, clock)
    token = sign(keys.rsa, "rsa-1", claims())
    assert await refused(verifier, token) == "identity provider unavailable"


def test_invalid_token_carries_its_reason() -> None:
    error = InvalidToken("token expired")
    assert error.reason == "token expired"
    assert str(error) == "token expired"
