"""All of csm-graph's settings, read once from the environment and immutable afterwards.

| variable | meaning | default |
|---|---|---|
| ``CSM_TMF_BASE_URL`` | server root all TMF APIs live under (standard base paths appended) | — |
| ``CSM_<API>_URL`` | one API's full base URL (e.g. ``CSM_TMF629_URL``), overrides the root | — |
| ``CSM_REDIS_URL`` | Redis for caches, idempotency, rate limits, pub/sub | in-memory |
| ``CSM_REDIS_PREFIX`` | prefix of every Redis key (several deployments on one Redis) | ``csm:`` |
| ``CSM_BACKEND_TIMEOUT`` | seconds per backend request | 5 |
| ``CSM_MAX_PAGE_SIZE`` | hard maximum of ``first`` on connections | 100 |
| ``CSM_JWKS_URL`` | the identity provider's JWKS (a real IdP; needs the two below) | — |
| ``CSM_JWT_ISSUER`` | the ``iss`` tokens must carry | — |
| ``CSM_JWT_AUDIENCE`` | the ``aud`` tokens must carry | — |
| ``CSM_CLIENT_CHANNELS`` | ``client=channel,…``: channel per token client (``azp``) | — |
| ``CSM_DEV_IDP`` | trust the development identity provider | on when embedded |
| ``CSM_DEV_IDP_URL`` | the dev IdP when not embedded (``csm-graph sandbox``) | the TMF root |
| ``CSM_DEV_IDP_KEY`` | the dev IdP's signing key file | ~/.config/csm-graph/… |
| ``CSM_BACKEND_AUTHORIZATION`` | the gateway's static ``Authorization`` to backends | — |
| ``CSM_BACKEND_TOKEN_URL`` | OAuth2 token endpoint for the gateway's client credentials | — |
| ``CSM_BACKEND_CLIENT_ID`` | its client id (the three OAuth2 variables go together) | — |
| ``CSM_BACKEND_CLIENT_SECRET`` | its client secret | — |
| ``CSM_BACKEND_SCOPE`` | scope asked for with the client credentials | — |
| ``CSM_FORWARD_USER_TOKEN`` | also send the user's token, as ``X-End-User-Token`` | off |
| ``CSM_SANDBOX_CUSTOMERS`` | customers seeded in the embedded sandbox | 1000 |
| ``CSM_INTROSPECTION`` | introspection for everyone (1) or only analysts (0) | on in development |
| ``CSM_OPERATIONS_MANIFEST`` | trusted operations of kiosk and IVR | the packaged one |
| ``CSM_AUDIT_SPILL`` | agent-access records TMF683 could not take (JSON lines) | temp dir |
| ``CSM_PUBLIC_URL`` | the gateway's URL as backends reach it (events' callback) | serve's |
| ``CSM_EVENTS`` | register with the backends' hubs for live updates (0 to turn off) | on |
| ``CSM_EVENT_SECRET`` | the secret in the event listener's URL | random |
| ``CSM_HUB_RENEW_SECONDS`` | how often hub subscriptions are renewed | 60 |
| ``CSM_EVENT_QUEUE_SIZE`` | events a subscription may fall behind before it is ended | 100 |

With no backend URL configured the gateway runs on its *embedded default*: the TMF sandbox
in-process, in-memory stores, the development identity provider trusted. A real identity
provider (``CSM_JWKS_URL``) and the development one exclude each other.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .auth.devidp import dev_key_path
from .sources.apis import APIS
from .sources.credentials import BackendAuthConfig, CredentialsConfigError, backend_auth_from_env

__all__ = ["Settings", "SettingsError"]


class SettingsError(ValueError):
    """A setting is malformed or settings contradict each other."""


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"not a boolean: {value!r}")


def _public_url(value: str | None) -> str | None:
    if not value:
        return None
    if not value.startswith(("http://", "https://")):
        raise SettingsError("CSM_PUBLIC_URL must be an http(s) URL")
    return value.rstrip("/")


def _secret(value: str | None) -> str | None:
    if not value:
        return None
    if (
        len(value) < 16
        or not value.isascii()
        or not value.replace("-", "").replace("_", "").isalnum()
    ):
        raise SettingsError("CSM_EVENT_SECRET must be 16 or more letters, digits, - or _")
    return value


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive")
    return value


def _pairs(raw: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in raw.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise SettingsError(f"expected client=channel, not {item!r}")
        pairs[key.strip()] = value.strip()
    return pairs


@dataclass(frozen=True, slots=True)
class Settings:
    backend_urls: Mapping[str, str] = field(default_factory=dict)  # API key -> base URL
    redis_url: str | None = None
    redis_prefix: str = "csm:"
    backend_timeout: float = 5.0
    max_page_size: int = 100
    jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    client_channels: Mapping[str, str] = field(default_factory=dict)
    dev_idp: bool = False  # from_env turns it on for the embedded default
    dev_idp_url: str | None = None  # None while embedded: the in-process sandbox serves it
    dev_idp_key: Path | None = None  # None: the default path (graph.auth.devidp)
    sandbox_customers: int = 1000
    # None: introspection on in development (dev IdP trusted), else only for the roles the
    # channel policy names (analysts); True / False: on / off for everyone else.
    introspection: bool | None = None
    operations_manifest: Path | None = None  # None: the packaged graph/operations/manifest.json
    audit_spill_path: Path | None = None  # None: graph.auth.audit.default_spill_path()
    public_url: str | None = None  # None: no hub registration (the CLI sets serve's URL)
    events: bool = True
    event_secret: str | None = None  # None: a random one per process
    hub_renew_seconds: float = 60.0
    event_queue_size: int = 100
    backend_auth: BackendAuthConfig = field(default_factory=BackendAuthConfig)

    @property
    def embedded(self) -> bool:
        """True when no backend is configured: the gateway brings its own sandbox."""
        return not self.backend_urls

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        root = env.get("CSM_TMF_BASE_URL", "").rstrip("/")
        urls: dict[str, str] = {}
        for api in APIS:
            url = env.get(api.env_var) or (root + api.base_path if root else "")
            if url:
                if not url.startswith(("http://", "https://")):
                    raise SettingsError(f"{api.env_var} must be an http(s) URL")
                urls[api.key] = url.rstrip("/")
        if urls and len(urls) != len(APIS):
            missing = sorted(a.env_var for a in APIS if a.key not in urls)
            raise SettingsError(f"backend URLs missing: {', '.join(missing)} (or CSM_TMF_BASE_URL)")
        embedded = not urls
        jwks_url = env.get("CSM_JWKS_URL") or None
        issuer = env.get("CSM_JWT_ISSUER") or None
        audience = env.get("CSM_JWT_AUDIENCE") or None
        if jwks_url or issuer or audience:
            if not (jwks_url and issuer and audience):
                raise SettingsError("CSM_JWKS_URL, CSM_JWT_ISSUER and CSM_JWT_AUDIENCE go together")
            if not jwks_url.startswith(("https://", "http://")):
                raise SettingsError("CSM_JWKS_URL must be an http(s) URL")
        dev_idp = _flag(env.get("CSM_DEV_IDP"), embedded and not jwks_url)
        if dev_idp and jwks_url:
            raise SettingsError("the development identity provider cannot be on with a real one")
        dev_idp_url = (env.get("CSM_DEV_IDP_URL") or root or "").rstrip("/") or None
        if dev_idp and not embedded and not dev_idp_url:
            raise SettingsError("CSM_DEV_IDP needs CSM_DEV_IDP_URL when backends are configured")
        try:
            backend_auth = backend_auth_from_env(env)
        except CredentialsConfigError as exc:
            raise SettingsError(str(exc)) from None
        return cls(
            backend_auth=backend_auth,
            backend_urls=urls,
            redis_url=env.get("CSM_REDIS_URL") or None,
            redis_prefix=env.get("CSM_REDIS_PREFIX") or "csm:",
            backend_timeout=_number(env, "CSM_BACKEND_TIMEOUT", 5.0),
            max_page_size=int(_number(env, "CSM_MAX_PAGE_SIZE", 100)),
            jwks_url=jwks_url,
            jwt_issuer=issuer,
            jwt_audience=audience,
            client_channels=_pairs(env.get("CSM_CLIENT_CHANNELS", "")),
            dev_idp=dev_idp,
            dev_idp_url=None if embedded else dev_idp_url,
            dev_idp_key=dev_key_path(env) if env.get("CSM_DEV_IDP_KEY") else None,
            sandbox_customers=int(_number(env, "CSM_SANDBOX_CUSTOMERS", 1000)),
            introspection=(
                _flag(env["CSM_INTROSPECTION"], False) if env.get("CSM_INTROSPECTION") else None
            ),
            operations_manifest=(
                Path(env["CSM_OPERATIONS_MANIFEST"]) if env.get("CSM_OPERATIONS_MANIFEST") else None
            ),
            audit_spill_path=Path(env["CSM_AUDIT_SPILL"]) if env.get("CSM_AUDIT_SPILL") else None,
            public_url=_public_url(env.get("CSM_PUBLIC_URL")),
            events=_flag(env.get("CSM_EVENTS"), True),
            event_secret=_secret(env.get("CSM_EVENT_SECRET")),
            hub_renew_seconds=_number(env, "CSM_HUB_RENEW_SECONDS", 60.0),
            event_queue_size=max(1, int(_number(env, "CSM_EVENT_QUEUE_SIZE", 100))),
        )
