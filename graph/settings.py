"""All of csm-graph's settings, read once from the environment and immutable afterwards.

| variable | meaning | default |
|---|---|---|
| ``CSM_TMF_BASE_URL`` | server root all TMF APIs live under (standard base paths appended) | — |
| ``CSM_<API>_URL`` | one API's full base URL (e.g. ``CSM_TMF629_URL``), overrides the root | — |
| ``CSM_REDIS_URL`` | Redis for caches, idempotency, rate limits, pub/sub | in-memory |
| ``CSM_REDIS_PREFIX`` | prefix of every Redis key (several deployments on one Redis) | ``csm:`` |
| ``CSM_BACKEND_TIMEOUT`` | seconds per backend request | 5 |
| ``CSM_<API>_TIMEOUT`` | one API's seconds per request (e.g. ``CSM_TMF678_TIMEOUT``) | the above |
| ``CSM_REQUEST_DEADLINE`` | seconds an HTTP GraphQL operation's backend calls may take | 8 |
| ``CSM_BACKEND_RETRIES`` | further attempts of a failed backend GET (0-5) | 2 |
| ``CSM_RETRY_BACKOFF`` | seconds: the first retry waits up to this, doubling, at most 1 s | 0.05 |
| ``CSM_BREAKER_FAILURE_RATE`` | share of failed calls that opens an API's breaker | 0.5 |
| ``CSM_BREAKER_MIN_CALLS`` | calls the breaker's window needs before it may open | 10 |
| ``CSM_BREAKER_WINDOW`` | seconds of calls the breaker judges | 30 |
| ``CSM_BREAKER_OPEN_SECONDS`` | seconds an open breaker refuses calls before probing | 15 |
| ``CSM_BREAKER_PROBES`` | probe calls of a half-open breaker; that many successes close it | 2 |
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
| ``CSM_OPTIMIZATIONS`` | the speed work (0: the stock strawberry path, for comparison) | on |
| ``CSM_ENTITY_CACHE`` | cache backend lookups by id and reference (docs/caching.md) | off |
| ``CSM_CACHE_TTLS`` | ``resource=seconds,…`` (``*=`` for all): the entity cache's TTLs | see docs |
| ``CSM_CACHE_STALE_SECONDS`` | seconds past its TTL an entry may stand in for a down API | 900 |
| ``CSM_RESPONSE_CACHE_TTL`` | seconds public catalogue answers are reused (0: off) | 60 |
| ``CSM_LOG_FORMAT`` | ``json``, ``text`` or ``auto`` (text on a terminal, else JSON) | auto |
| ``CSM_LOG_LEVEL`` | ``DEBUG``, ``INFO``, ``WARNING``, ``ERROR`` or ``CRITICAL`` | INFO |
| ``CSM_OTEL`` | OpenTelemetry tracing, 1 or 0 (needs the ``otel`` extra) | with an OTLP endpoint |
| ``CSM_RATE_LIMITS`` | ``channel=N[/M],…``: operations per caller (per channel) | see docs |
| ``CSM_RATE_LIMIT_WINDOW`` | seconds the rate limits' N and M are counted over | 60 |
| ``CSM_TRUSTED_PROXIES`` | IPs/CIDRs whose ``X-Forwarded-For`` names the client | none |
| ``CSM_CORS_ORIGINS`` | browser origins allowed to call ``/graphql`` (``scheme://host``) | none |

With no backend URL configured the gateway runs on its *embedded default*: the TMF sandbox
in-process, in-memory stores, the development identity provider trusted. A real identity
provider (``CSM_JWKS_URL``) and the development one exclude each other.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from .auth.devidp import dev_key_path
from .auth.principal import CHANNELS
from .observability.logging import LogConfigError, log_format_from, log_level_from
from .sources.apis import APIS
from .sources.cached import DEFAULT_STALE_SECONDS, DEFAULT_TTLS, CachePolicy
from .sources.credentials import BackendAuthConfig, CredentialsConfigError, backend_auth_from_env
from .sources.resilience import ResilienceConfigError, ResiliencePolicy, resilience_from_env

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


def _seconds_or_off(env: Mapping[str, str], name: str, default: float) -> float:
    """A number of seconds where 0 turns the feature off."""
    try:
        if float(env.get(name) or "nan") == 0:
            return 0.0
    except ValueError:
        pass  # reported by _number
    value = _number(env, name, default)
    if not value < float("inf"):  # nor NaN
        raise SettingsError(f"{name} must be a finite number")
    return value


def _pairs(raw: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in raw.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise SettingsError(f"expected client=channel, not {item!r}")
        pairs[key.strip()] = value.strip()
    return pairs


def _entity_cache(env: Mapping[str, str]) -> CachePolicy | None:
    """``CSM_ENTITY_CACHE`` on: the TTLs of :data:`DEFAULT_TTLS` overridden by
    ``CSM_CACHE_TTLS`` (``resource=seconds,...``; ``*=seconds``: every resource not named),
    and ``CSM_CACHE_STALE_SECONDS`` of stale-if-error (0: never serve stale data)."""
    if not _flag(env.get("CSM_ENTITY_CACHE"), False):
        return None
    named: dict[str, float] = {}
    for item in filter(None, (p.strip() for p in env.get("CSM_CACHE_TTLS", "").split(","))):
        name, sep, raw = (part.strip() for part in item.partition("="))
        try:
            seconds = float(raw)
        except ValueError:
            seconds = -1.0
        if not sep or not name or not seconds >= 0:
            raise SettingsError(f"CSM_CACHE_TTLS: expected resource=seconds, not {item!r}")
        if name != "*" and name not in DEFAULT_TTLS:
            known = ", ".join(sorted(DEFAULT_TTLS))
            raise SettingsError(f"CSM_CACHE_TTLS: unknown resource {name!r} (known: {known})")
        named[name] = seconds
    every = named.pop("*", None)
    ttls = {r: (ttl if every is None else every) for r, ttl in DEFAULT_TTLS.items()} | named
    stale = _number(env, "CSM_CACHE_STALE_SECONDS", DEFAULT_STALE_SECONDS)
    if stale < 0:
        raise SettingsError("CSM_CACHE_STALE_SECONDS must be 0 or more")
    return CachePolicy(ttls=ttls, stale_seconds=stale)


_RATE_KEYS = frozenset(CHANNELS | {"anonymous"})


def _rate_limits(raw: str) -> dict[str, tuple[int, int | None]]:
    """``CSM_RATE_LIMITS``: ``channel=N`` or ``channel=N/M`` (per caller / per channel)."""
    limits: dict[str, tuple[int, int | None]] = {}
    for item in filter(None, (p.strip() for p in raw.split(","))):
        key, _, value = (part.strip() for part in item.partition("="))
        own, slash, total = value.partition("/")
        if key not in _RATE_KEYS:
            raise SettingsError(f"CSM_RATE_LIMITS: unknown channel {key!r}")
        numbers = [own, total] if slash else [own]
        if not all(n.isdigit() and int(n) >= 1 for n in numbers):
            raise SettingsError(f"CSM_RATE_LIMITS: expected {key}=N or {key}=N/M, not {value!r}")
        limits[key] = (int(own), int(total) if total else None)
    return limits


def _networks(raw: str) -> tuple[str, ...]:
    """``CSM_TRUSTED_PROXIES``: addresses or CIDR networks, normalized."""
    try:
        items = (p.strip() for p in raw.split(","))
        return tuple(str(ipaddress.ip_network(item, strict=False)) for item in items if item)
    except ValueError as exc:
        raise SettingsError(f"CSM_TRUSTED_PROXIES: {exc}") from None


def _origins(raw: str) -> tuple[str, ...]:
    """``CSM_CORS_ORIGINS``: exact origins, as browsers send them (no path, no wildcard)."""
    origins = []
    for item in filter(None, (p.strip() for p in raw.split(","))):
        parts = urlsplit(item)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or port == -1
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
            or parts.username is not None
            or "*" in item
        ):
            raise SettingsError(f"CSM_CORS_ORIGINS: not an origin: {item!r}")
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        default = {"http": 80, "https": 443}[parts.scheme]
        suffix = f":{port}" if port not in (None, default) else ""
        origins.append(f"{parts.scheme}://{host}{suffix}")
    return tuple(origins)


def _logging(env: Mapping[str, str]) -> tuple[str, str]:
    try:
        return log_format_from(env.get("CSM_LOG_FORMAT")), log_level_from(env.get("CSM_LOG_LEVEL"))
    except LogConfigError as exc:
        raise SettingsError(str(exc)) from None


def _tracing(env: Mapping[str, str]) -> bool:
    """``CSM_OTEL``; unset: on when an OTLP endpoint is configured."""
    endpoints = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    return _flag(env.get("CSM_OTEL"), any(env.get(name) for name in endpoints))


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
    # The speed work (document caching, ...); off: the stock strawberry path, which the
    # benchmark (bench/run.py) compares against. Later optimizations hang off this switch too.
    optimizations: bool = True
    # Observability (graph/observability): log format and level (configured by the CLI at
    # start), and OpenTelemetry tracing.
    log_format: str = "auto"
    log_level: str = "INFO"
    tracing: bool = False
    # Guardrails (graph/server/guardrails.py): overrides of the rate-limit table per channel
    # ("anonymous" too): (per caller, per channel or None for the table's) per window seconds.
    rate_limits: Mapping[str, tuple[int, int | None]] = field(default_factory=dict)
    rate_limit_window: float = 60.0
    trusted_proxies: tuple[str, ...] = ()  # networks whose X-Forwarded-For is believed
    cors_origins: tuple[str, ...] = ()  # browser origins allowed to call /graphql
    backend_auth: BackendAuthConfig = field(default_factory=BackendAuthConfig)
    request_deadline: float = 8.0  # seconds; HTTP operations (graph.sources.resilience)
    resilience: ResiliencePolicy = field(default_factory=ResiliencePolicy)
    # The response cache (graph/server/response_cache.py): seconds; 0 = off.
    response_cache_ttl: float = 60.0
    # The entity cache (graph/sources/cached.py): None = off (CSM_ENTITY_CACHE).
    entity_cache: CachePolicy | None = None

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
        try:
            resilience = resilience_from_env(env)
        except ResilienceConfigError as exc:
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
            optimizations=_flag(env.get("CSM_OPTIMIZATIONS"), True),
            log_format=_logging(env)[0],
            log_level=_logging(env)[1],
            tracing=_tracing(env),
            rate_limits=_rate_limits(env.get("CSM_RATE_LIMITS", "")),
            rate_limit_window=_number(env, "CSM_RATE_LIMIT_WINDOW", 60.0),
            trusted_proxies=_networks(env.get("CSM_TRUSTED_PROXIES", "")),
            cors_origins=_origins(env.get("CSM_CORS_ORIGINS", "")),
            request_deadline=_number(env, "CSM_REQUEST_DEADLINE", 8.0),
            resilience=resilience,
            response_cache_ttl=_seconds_or_off(env, "CSM_RESPONSE_CACHE_TTL", 60.0),
            entity_cache=_entity_cache(env),
        )
