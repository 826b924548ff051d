"""Bearer-token verification: OIDC JWTs checked against the identity provider's JWKS.

What is checked, in order:

1. the token is a string of at most ``MAX_TOKEN_BYTES`` (else "malformed token");
2. the *unverified* header is read for two things only, ``alg`` and ``kid``: ``alg`` must be one
   of the asymmetric algorithms configured (so ``none`` and every ``HS*`` are refused before any
   key is looked at), and ``kid`` must be present;
3. the key for ``kid`` comes from the JWKS (see below); it must fit ``alg`` -- an RSA key for
   ``RS*``/``PS*``, an EC key on the matching curve for ``ES*`` -- and when the JWK names an
   ``alg`` of its own, that must be the token's;
4. ``jwt.decode`` with that one key and that one algorithm, the configured issuer and audience,
   a leeway on the time claims and the required claims; each pyjwt error becomes a short reason.

Every refusal is an :class:`InvalidToken` whose ``reason`` is safe to show a client; details (URLs,
HTTP statuses, key parsing errors) only go to the log.

The JWKS is fetched with the caller's ``ClientSession`` (5 s timeout), each key parsed with
``jwt.PyJWK``; keys that do not parse, have ``use`` other than ``sig``, lack a ``kid``, are not
RSA/EC public keys or are RSA keys below 2048 bits are skipped (and logged). Keys are cached by kid.
A fetch happens

- on first use;
- for an unknown ``kid``, but at most once per ``jwks_refresh_min_seconds`` (every attempt counts,
  failed or not): a flood of random kids costs at most one fetch per interval;
- for a known ``kid`` once the cached set is older than ``jwks_max_age_seconds`` (so a key the
  provider withdrew stops working); if that refetch fails the cached keys are kept (stale-if-error).

A successful fetch replaces the whole cache. Concurrent verifications that need a fetch share
one, a task the waiters join through ``asyncio.shield`` (a cancelled request does not cancel the
fetch others wait for). A failed fetch with no key for the kid is "identity provider unavailable".
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.types import Options

__all__ = ["MAX_TOKEN_BYTES", "InvalidToken", "TokenConfig", "TokenVerifier"]

log = logging.getLogger(__name__)

MAX_TOKEN_BYTES: Final = 16 * 1024
JWKS_TIMEOUT_SECONDS: Final = 5.0
MAX_JWKS_BYTES: Final = 1024 * 1024
MIN_RSA_BITS: Final = 2048

# The algorithms a verifier may be configured with, and the key each needs.
_RSA_ALGORITHMS: Final = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_CURVES: Final[Mapping[str, str]] = {
    "ES256": "secp256r1",
    "ES384": "secp384r1",
    "ES512": "secp521r1",
}
SUPPORTED_ALGORITHMS: Final = _RSA_ALGORITHMS | frozenset(_EC_CURVES)

_PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


class InvalidToken(Exception):
    """The token is refused; ``reason`` is safe to show a client (no key material, no internals)."""

    reason: str

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TokenConfig:
    issuer: str
    audience: str
    jwks_url: str
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    leeway_seconds: float = 30.0
    jwks_refresh_min_seconds: float = 30.0  # unknown kid: refetch at most this often
    jwks_max_age_seconds: float = 3600.0  # refetch known keys after this long anyway
    required_claims: tuple[str, ...] = ("exp", "iat", "sub", "iss", "aud")

    def __post_init__(self) -> None:
        if not self.issuer or not self.audience or not self.jwks_url:
            raise ValueError("token verification needs an issuer, an audience and a JWKS URL")
        if not self.algorithms:
            raise ValueError("token verification needs at least one algorithm")
        unsupported = [alg for alg in self.algorithms if alg not in SUPPORTED_ALGORITHMS]
        if unsupported:
            raise ValueError(
                f"unsupported token algorithms {unsupported}: only asymmetric ones are allowed "
                f"({', '.join(sorted(SUPPORTED_ALGORITHMS))})"
            )
        if self.leeway_seconds < 0 or self.jwks_refresh_min_seconds < 0:
            raise ValueError("leeway and JWKS refresh interval must not be negative")
        if self.jwks_max_age_seconds <= 0:
            raise ValueError("the JWKS max age must be positive")


@dataclass(frozen=True, slots=True)
class _SigningKey:
    kid: str
    key: _PublicKey
    alg: str | None  # the alg the JWK itself names, if any

    def fits(self, alg: str) -> bool:
        if self.alg is not None and self.alg != alg:
            return False
        if alg in _RSA_ALGORITHMS:
            return isinstance(self.key, rsa.RSAPublicKey)
        curve = _EC_CURVES.get(alg)
        return (
            curve is not None
            and isinstance(self.key, ec.EllipticCurvePublicKey)
            and self.key.curve.name == curve
        )


class _JwksError(Exception):
    """The JWKS could not be fetched or read (detail for the log only)."""


class TokenVerifier:
    """Verifies bearer tokens of one identity provider; one per app, shared by all requests."""

    def __init__(
        self,
        config: TokenConfig,
        session: aiohttp.ClientSession,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._session = session
        self._clock = clock
        self._keys: dict[str, _SigningKey] = {}
        self._last_attempt: float | None = None  # the last fetch started, whatever its outcome
        self._last_success: float | None = None  # when the cached keys were fetched
        self._last_fetch_ok = True
        self._inflight: asyncio.Task[bool] | None = None
        self._options: Options = {
            "require": list(config.required_claims),
            "enforce_minimum_key_length": True,
        }

    async def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or :class:`InvalidToken`."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_BYTES:
            raise InvalidToken("malformed token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("malformed token") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._config.algorithms:
            raise InvalidToken("algorithm not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("missing key id")

        signing_key = await self._key_for(kid)
        if not signing_key.fits(alg):
            raise InvalidToken("signing key does not fit the algorithm")
        return self._decode(token, signing_key, alg)

    def _decode(self, token: str, signing_key: _SigningKey, alg: str) -> dict[str, Any]:
        config = self._config
        try:
            return jwt.decode(
                token,
                signing_key.key,
                algorithms=[alg],
                audience=config.audience,
                issuer=config.issuer,
                leeway=config.leeway_seconds,
                options=self._options,
            )
        except jwt.ExpiredSignatureError:
            reason = "token expired"
        except jwt.ImmatureSignatureError:
            reason = "token not yet valid"
        except jwt.InvalidIssuerError:
            reason = "wrong issuer"
        except jwt.InvalidAudienceError:
            reason = "wrong audience"
        except jwt.MissingRequiredClaimError as error:
            reason = f"missing claim {error.claim}"  # one of config.required_claims, or aud/iss
        except jwt.InvalidSignatureError:
            reason = "bad signature"
        except jwt.InvalidAlgorithmError:
            reason = "algorithm not allowed"
        except jwt.InvalidKeyError as error:
            log.warning("signing key %r refused by pyjwt: %s", signing_key.kid, error)
            reason = "unusable signing key"
        except jwt.PyJWTError:
            reason = "malformed token"
        except (ValueError, TypeError, OverflowError) as error:  # defensive: pyjwt should wrap
            log.warning("token decoding failed unexpectedly: %r", error)
            reason = "malformed token"
        raise InvalidToken(reason)

    # --- keys --------------------------------------------------------------------------------

    async def _key_for(self, kid: str) -> _SigningKey:
        now = self._clock()
        cached = self._keys.get(kid)
        if cached is not None and not self._too_old(now):
            return cached
        if self._inflight is None and not self._may_fetch(now):
            if cached is not None:  # too old, but the last refetch failed moments ago
                return cached
            raise InvalidToken(self._no_key_reason())
        await self._refresh()
        found = self._keys.get(kid)
        if found is None:
            raise InvalidToken(self._no_key_reason())
        return found

    def _too_old(self, now: float) -> bool:
        return (
            self._last_success is None
            or now - self._last_success >= self._config.jwks_max_age_seconds
        )

    def _may_fetch(self, now: float) -> bool:
        return (
            self._last_attempt is None
            or now - self._last_attempt >= self._config.jwks_refresh_min_seconds
        )

    def _no_key_reason(self) -> str:
        return "unknown signing key" if self._last_fetch_ok else "identity provider unavailable"

    async def _refresh(self) -> None:
        """Join the fetch in flight, or start one (callers have checked the rate bound)."""
        task = self._inflight
        if task is None:
            self._last_attempt = self._clock()
            task = asyncio.get_running_loop().create_task(self._fetch())
            self._inflight = task
            task.add_done_callback(self._fetch_done)
        await asyncio.shield(task)

    def _fetch_done(self, task: asyncio.Task[bool]) -> None:
        if self._inflight is task:
            self._inflight = None

    async def _fetch(self) -> bool:
        """Fetch and install the JWKS; never raises (failures are logged, the cache kept)."""
        url = self._config.jwks_url
        try:
            document = await self._get_jwks(url)
            keys = self._parse(document)
        except _JwksError as error:
            log.warning("JWKS %s unusable: %s", url, error)
            self._last_fetch_ok = False
            return False
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("JWKS %s unreachable: %r", url, error)
            self._last_fetch_ok = False
            return False
        except Exception:
            log.exception("JWKS %s: unexpected failure", url)
            self._last_fetch_ok = False
            return False
        self._keys = keys
        self._last_success = self._clock()
        self._last_fetch_ok = True
        log.info("JWKS %s: %d signing keys (%s)", url, len(keys), ", ".join(sorted(keys)))
        return True

    async def _get_jwks(self, url: str) -> Any:
        timeout = aiohttp.ClientTimeout(total=JWKS_TIMEOUT_SECONDS)
        headers = {"Accept": "application/json"}
        async with self._session.get(url, timeout=timeout, headers=headers) as response:
            if response.status != 200:
                raise _JwksError(f"HTTP {response.status}")
            body = bytearray()
            async for chunk in response.content.iter_chunked(64 * 1024):
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise _JwksError(f"larger than {MAX_JWKS_BYTES} bytes")
        try:
            return json.loads(body)
        except ValueError as error:
            raise _JwksError(f"not JSON: {error}") from None

    @staticmethod
    def _parse(document: Any) -> dict[str, _SigningKey]:
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise _JwksError('not a JWK Set (no "keys" list)')
        keys: dict[str, _SigningKey] = {}
        for entry in document["keys"]:
            parsed = _parse_key(entry)
            if parsed is None:
                continue
            if parsed.kid in keys:
                log.warning("JWKS: duplicate kid %r, keeping the first", parsed.kid)
                continue
            keys[parsed.kid] = parsed
        return keys


def _parse_key(entry: Any) -> _SigningKey | None:
    """One JWK as a verification key, or None (logged) when it cannot or must not be used."""
    if not isinstance(entry, dict):
        log.warning("JWKS: skipped a member that is not a JSON object")
        return None
    kid = entry.get("kid")
    if not isinstance(kid, str) or not kid:
        log.warning("JWKS: skipped a key without kid")
        return None
    use = entry.get("use")
    if use is not None and use != "sig":
        log.info("JWKS: skipped key %r with use %r", kid, use)
        return None
    key_ops = entry.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        log.info("JWKS: skipped key %r whose key_ops exclude verify", kid)
        return None
    alg = entry.get("alg")
    if alg is not None and not isinstance(alg, str):
        log.warning("JWKS: skipped key %r with a non-string alg", kid)
        return None
    try:
        jwk = jwt.PyJWK(entry)
    except (jwt.PyJWTError, ValueError, TypeError) as error:
        log.warning("JWKS: skipped key %r that does not parse: %s", kid, error)
        return None
    key: Any = jwk.key
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        log.error("JWKS: key %r publishes private key material; using its public half", kid)
        key = key.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            log.warning("JWKS: skipped RSA key %r of %d bits", kid, key.key_size)
            return None
        return _SigningKey(kid=kid, key=key, alg=alg)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return _SigningKey(kid=kid, key=key, alg=alg)
    log.warning("JWKS: skipped key %r of type %r: not an RSA or EC public key", kid, jwk.key_type)
    return None
