"""The development identity provider: one local signing key, its JWKS, and token minting.

Development only. The key is an ECDSA P-256 key in a file of its own (:func:`dev_key_path`:
``$CSM_DEV_IDP_KEY``, else ``$XDG_CONFIG_HOME/csm-graph/dev-idp-key.pem``, else
``~/.config/csm-graph/dev-idp-key.pem``), created on first use, readable by its owner only.
Everything on one machine that works with development tokens shares that file:

- the sandbox serves its public half (``/.well-known/jwks.json``, see ``graph.sandbox.idp``);
- ``csm-graph token`` signs with it (:func:`mint_for_environment`);
- a gateway in development mode trusts the issuer :data:`DEV_ISSUER` with that public key.

The issuer is a URN, never a URL: no real identity provider issues it, and no client that
discovers providers by URL can be talked into trusting it. :func:`mint_for_environment` refuses
to run in an environment that configures a real identity provider, so the command line cannot
mint tokens for a production configuration.

No aiohttp here: pure key handling and minting.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import errno
import hashlib
import os
import re
import secrets
import stat
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

if TYPE_CHECKING:  # graph.settings imports this module
    from graph.settings import Settings

__all__ = [
    "ACR_VALUES",
    "CHANNELS",
    "DEV_AUDIENCE",
    "DEV_ISSUER",
    "DEV_KID_PREFIX",
    "KEY_PATH_ENV",
    "MAX_TTL_SECONDS",
    "REAL_IDP_ENV",
    "ROLES",
    "DevIdpError",
    "default_acr",
    "dev_key_path",
    "discovery",
    "ensure_development",
    "key_id",
    "load_or_create_key",
    "mint",
    "mint_for_environment",
    "public_jwks",
    "sign_in_token",
]

DEV_ISSUER: Final = "urn:csm-graph:dev-idp"  # never a real IdP's issuer
DEV_AUDIENCE: Final = "csm-graph"
DEV_KID_PREFIX: Final = "csm-dev-"

ROLES: Final = ("customer", "agent", "analyst")
CHANNELS: Final = ("web", "app", "kiosk", "ivr", "chatbot", "agent-desktop")
ACR_VALUES: Final = ("low", "substantial", "high")  # eIDAS levels of assurance
MAX_TTL_SECONDS: Final = 86_400

KEY_PATH_ENV: Final = "CSM_DEV_IDP_KEY"
DEV_IDP_ENV: Final = "CSM_DEV_IDP"
# Any of these in the environment means a real identity provider is configured.
REAL_IDP_ENV: Final = ("CSM_JWKS_URL", "CSM_JWT_ISSUER", "CSM_JWT_AUDIENCE")

_KEY_FILE: Final = "dev-idp-key.pem"
_ALGORITHM: Final = "ES256"
# Seeded customers are cus-000042 (six digits or more); customers created through TMF629 POST
# get cus-n<16 hex>.
_CUSTOMER_ID: Final = re.compile(r"^cus-(?:[0-9]{6,12}|n[0-9a-f]{16})$")
_SUBJECT: Final = re.compile(r"^[A-Za-z0-9._:@-]{1,64}$")
# RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE: Final = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,128}$")
_CLAIMS: Final = (
    *("iss", "aud", "sub", "iat", "nbf", "exp", "jti"),
    *("role", "channel", "customer_id", "acr", "scope"),
)
_FALSE: Final = frozenset({"0", "false", "no", "off"})
_TRUE: Final = frozenset({"1", "true", "yes", "on"})


class DevIdpError(Exception):
    """A development-IdP operation was refused; the message is fit for a command line."""


# --- the key -----------------------------------------------------------------------------------


def dev_key_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the development key lives: ``$CSM_DEV_IDP_KEY``, else the user's config directory."""
    env = os.environ if env is None else env
    explicit = env.get(KEY_PATH_ENV)
    if explicit:
        return Path(explicit).expanduser()
    config = env.get("XDG_CONFIG_HOME")
    # The XDG spec: a relative XDG_CONFIG_HOME is invalid and must be ignored.
    if config and Path(config).is_absolute():
        base = Path(config)
    else:
        home = env.get("HOME")
        base = (Path(home) if home else Path.home()) / ".config"
    return base / "csm-graph" / _KEY_FILE


def load_or_create_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The P-256 key at ``path``; created (mode 0600, in a 0700 directory) when missing.

    Creation is atomic and safe against concurrent first use: the key is written to a private
    temporary file and published with a hard link, which fails when another process got there
    first -- that process's key is then read and used, so every racer ends with the same key.
    (``os.replace`` would let the last racer win and leave the earlier ones with a key that is
    no longer on disk.) A key file readable or writable by group or others is refused.
    """
    try:
        return _load(path)
    except FileNotFoundError:
        pass
    _make_private_dir(path.parent)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    if _publish(path, pem):
        return key
    return _load(path)  # another process created it first: use theirs


def _load(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise DevIdpError(f"cannot read the development key {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise DevIdpError(f"the development key {path} is not a regular file")
        if info.st_mode & 0o077:
            raise DevIdpError(
                f"the development key {path} is accessible by group or others "
                f"(mode {stat.S_IMODE(info.st_mode):04o}); run `chmod 600 {path}`"
            )
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            raise DevIdpError(f"the development key {path} belongs to another user")
        with os.fdopen(fd, "rb", closefd=False) as file:
            data = file.read()
    finally:
        os.close(fd)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise DevIdpError(f"the development key {path} is not a usable PEM key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise DevIdpError(f"the development key {path} is not an EC P-256 key")
    return key


def _make_private_dir(directory: Path) -> None:
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise DevIdpError(f"cannot create {directory}: {exc.strerror}") from None


def _publish(path: Path, pem: bytes) -> bool:
    """Write ``pem`` to ``path`` unless it exists; True when this call created the file."""
    try:
        # mkstemp creates the file with mode 0600, whatever the umask.
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise DevIdpError(f"cannot write the development key in {path.parent}: {exc}") from None
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(pem)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temp, path)  # atomic, and never replaces an existing key
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                raise DevIdpError(f"cannot write the development key {path}: {exc}") from None
            # A file system without hard links: the best it offers is replace-if-still-missing.
            if path.exists():
                return False
            os.replace(temp, path)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


# --- the public half ---------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def key_id(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> str:
    """``csm-dev-`` and the first 16 hex digits of the SHA-256 of the public key's DER."""
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return DEV_KID_PREFIX + hashlib.sha256(der).hexdigest()[:16]


def public_jwks(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> dict[str, Any]:
    """The JWK Set holding the key's public half (RFC 7517 / RFC 7518 section 6.2)."""
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    numbers = public.public_numbers()
    return {
        "keys": [
            {
                "kty": "EC",
                "crv": "P-256",
                "x": _b64url(numbers.x.to_bytes(32, "big")),
                "y": _b64url(numbers.y.to_bytes(32, "big")),
                "kid": key_id(public),
                "alg": _ALGORITHM,
                "use": "sig",
            }
        ]
    }


def discovery(issuer_base_url: str) -> dict[str, Any]:
    """An OpenID Connect discovery document for the development IdP, served by the sandbox.

    It describes keys, not a login: there is no authorization or token endpoint (tokens come
    from ``csm-graph token``). Its issuer is the URN :data:`DEV_ISSUER`, not the URL it is
    served from, so a standard OIDC client refuses it -- on purpose.
    """
    base = issuer_base_url.rstrip("/")
    return {
        "issuer": DEV_ISSUER,
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "id_token_signing_alg_values_supported": [_ALGORITHM],
        "token_endpoint_auth_methods_supported": ["none"],
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "grant_types_supported": [],
        "claims_supported": list(_CLAIMS),
        "acr_values_supported": list(ACR_VALUES),
        "x_csm_development_only": True,
        "service_documentation": (
            "csm-graph development identity provider: NOT FOR PRODUCTION. Tokens are minted "
            "locally by `csm-graph token` and trusted only by a gateway in development mode."
        ),
    }


# --- tokens ------------------------------------------------------------------------------------


def default_acr(channel: str) -> str:
    """The assurance level a channel's login gives: an IVR PIN is low, the rest substantial."""
    return "low" if channel == "ivr" else "substantial"


def mint(
    key: ec.EllipticCurvePrivateKey,
    *,
    role: str,
    channel: str,
    customer_id: str | None = None,
    subject: str | None = None,
    acr: str | None = None,
    scopes: Sequence[str] = (),
    ttl_seconds: int = 3600,
    now: float | None = None,
) -> str:
    """A development access token (ES256 JWT) signed with ``key``."""
    if role not in ROLES:
        raise DevIdpError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    if channel not in CHANNELS:
        raise DevIdpError(f"unknown channel {channel!r}: one of {', '.join(CHANNELS)}")
    if role == "customer":
        if not customer_id:
            raise DevIdpError("a customer token needs a customer id (e.g. cus-000001)")
        if not _CUSTOMER_ID.match(customer_id):
            raise DevIdpError(f"not a customer id: {customer_id!r} (e.g. cus-000001)")
    elif customer_id is not None:
        raise DevIdpError(f"only customer tokens carry a customer id, not {role} tokens")
    if subject is not None and not _SUBJECT.match(subject):
        raise DevIdpError(f"not a valid subject: {subject!r} (1-64 of A-Z a-z 0-9 . _ : @ -)")
    if acr is not None and acr not in ACR_VALUES:
        raise DevIdpError(f"unknown acr {acr!r}: one of {', '.join(ACR_VALUES)}")
    if isinstance(scopes, str):
        raise DevIdpError("scopes must be a list of scope names, not one string")
    for scope in scopes:
        if not isinstance(scope, str) or not _SCOPE.match(scope):
            raise DevIdpError(f"not a valid scope: {scope!r}")
    if (
        isinstance(ttl_seconds, bool)
        or not isinstance(ttl_seconds, int)
        or not 1 <= ttl_seconds <= MAX_TTL_SECONDS
    ):
        raise DevIdpError(f"ttl must be a whole number of seconds, 1 to {MAX_TTL_SECONDS}")

    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": DEV_ISSUER,
        "aud": DEV_AUDIENCE,
        "sub": subject or (customer_id if role == "customer" else f"{role}-dev"),
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_seconds,
        "jti": secrets.token_urlsafe(16),
        "role": role,
        "channel": channel,
        "acr": acr or default_acr(channel),
    }
    if customer_id is not None:
        claims["customer_id"] = customer_id
    if scopes:
        claims["scope"] = " ".join(dict.fromkeys(scopes))  # de-duplicated, order kept
    return jwt.encode(claims, key, algorithm=_ALGORITHM, headers={"kid": key_id(key), "typ": "JWT"})


def ensure_development(env: Mapping[str, str]) -> None:
    """Refuse (:class:`DevIdpError`) unless the environment is one the dev IdP may serve.

    Refused when a real identity provider is configured (any of :data:`REAL_IDP_ENV` --
    ``CSM_JWKS_URL``, ``CSM_JWT_ISSUER``, ``CSM_JWT_AUDIENCE`` -- present, whatever the value,
    even empty) or when ``CSM_DEV_IDP`` is off or not a boolean.
    """
    configured = [name for name in REAL_IDP_ENV if name in env]
    if configured:
        raise DevIdpError(
            f"a real identity provider is configured ({', '.join(configured)}): the development "
            "identity provider does not mint tokens next to one"
        )
    flag = env.get(DEV_IDP_ENV)
    if flag is None or flag == "":
        return
    if flag.lower() in _FALSE:
        raise DevIdpError(f"the development identity provider is off ({DEV_IDP_ENV}={flag})")
    if flag.lower() not in _TRUE:
        raise DevIdpError(f"{DEV_IDP_ENV} is not a boolean: {flag!r}")


def mint_for_environment(env: Mapping[str, str], **claims: Any) -> str:
    """Mint with the key of ``env`` (:func:`dev_key_path`), unless ``env`` is not development.

    ``claims`` are :func:`mint`'s keyword arguments. This is what ``csm-graph token`` calls.
    """
    ensure_development(env)
    return mint(load_or_create_key(dev_key_path(env)), **claims)


def sign_in_token(
    settings: Settings,
    customer_id: str,
    channel: str,
    *,
    ttl_seconds: int = 3600,
    now: float | None = None,
) -> tuple[str, datetime.datetime] | None:
    """A token and its expiry for a customer who has just registered on ``channel``, signed
    with the key the gateway's development IdP serves; None unless the gateway trusts that
    IdP (in production the real identity provider signs the new customer in).

    Reads (or creates) the key file: call it off the event loop."""
    if not settings.dev_idp:
        return None
    issued = int(time.time() if now is None else now)
    token = mint(
        load_or_create_key(settings.dev_idp_key or dev_key_path()),
        role="customer",
        channel=channel,
        customer_id=customer_id,
        ttl_seconds=ttl_seconds,
        now=issued,
    )
    return token, datetime.datetime.fromtimestamp(issued + ttl_seconds, datetime.UTC)
