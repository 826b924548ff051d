"""The gateway's own credentials towards its backends (never the end user's token).

One of, configured by environment (:func:`backend_auth_from_env`):

- nothing -- no ``Authorization`` header is sent (the embedded sandbox, development);
- ``CSM_BACKEND_AUTHORIZATION`` -- a static header value sent as it is (``Bearer …``,
  ``Basic …``): :class:`StaticCredentials`;
- OAuth 2.0 client credentials (RFC 6749 §4.4) -- ``CSM_BACKEND_TOKEN_URL``,
  ``CSM_BACKEND_CLIENT_ID``, ``CSM_BACKEND_CLIENT_SECRET`` (the three go together), optional
  ``CSM_BACKEND_SCOPE``: :class:`ClientCredentials`.

``CSM_FORWARD_USER_TOKEN=1`` additionally forwards the end user's token as
``X-End-User-Token`` (see :mod:`.identity`); it is read here so that all of "what backends
receive" is configured in one place.

:class:`ClientCredentials` asks the token endpoint with HTTP Basic client authentication
(``client_secret_basic``, id and secret form-url-encoded first, as §2.3.1 says), caches the
access token, and refreshes it ``refresh_margin`` seconds before it expires (at half its
lifetime for short-lived tokens; 300 s assumed when the answer has no ``expires_in``).
Concurrent callers that need a refresh share one request, a task joined through
``asyncio.shield`` (a cancelled backend call does not cancel the refresh others wait for).
When the endpoint fails, a token that has not yet expired is still used; with none, the
backend call fails with :class:`~.errors.BackendUnavailable` of the API being called, and
further attempts wait ``retry_after`` seconds (callers fail fast meanwhile) so that an outage
of the token endpoint is not hammered by every backend call.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Final, Protocol
from urllib.parse import quote_plus

import aiohttp
import orjson

from .errors import BackendUnavailable

__all__ = [
    "BackendAuthConfig",
    "ClientCredentials",
    "CredentialsConfigError",
    "NoCredentials",
    "ServiceCredentials",
    "StaticCredentials",
    "backend_auth_from_env",
    "open_service_credentials",
]

log = logging.getLogger(__name__)

MAX_TOKEN_RESPONSE_BYTES: Final = 64 * 1024
DEFAULT_LIFETIME_SECONDS: Final = 300.0
# RFC 6750 b64token: what may follow "Bearer " in an Authorization header.
_B64TOKEN: Final = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_HEADER_VALUE: Final = re.compile(r"[!-~]+ [ -~]*[!-~]")  # "<scheme> <credentials>", printable
_PRINTABLE: Final = re.compile(r"[ -~]+")
_OAUTH_ERROR: Final = re.compile(r"[a-z_]{1,40}")


class CredentialsConfigError(ValueError):
    """The backend credential settings are malformed or contradict each other."""


@dataclass(frozen=True, slots=True)
class BackendAuthConfig:
    """What the gateway sends to backends for itself, and whether it forwards the user's token."""

    authorization: str | None = field(default=None, repr=False)  # static header value
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    scope: str | None = None
    forward_user_token: bool = False

    @property
    def mode(self) -> str:
        """``none``, ``static`` or ``client_credentials``."""
        if self.authorization:
            return "static"
        return "client_credentials" if self.token_url else "none"


def _flag(name: str, value: str | None) -> bool:
    if not value:
        return False
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise CredentialsConfigError(f"{name} is not a boolean: {value!r}")


def backend_auth_from_env(env: Mapping[str, str]) -> BackendAuthConfig:
    """Read ``CSM_BACKEND_*`` and ``CSM_FORWARD_USER_TOKEN``; errors never quote a secret."""
    authorization = env.get("CSM_BACKEND_AUTHORIZATION", "").strip() or None
    token_url = env.get("CSM_BACKEND_TOKEN_URL", "").strip() or None
    client_id = env.get("CSM_BACKEND_CLIENT_ID", "").strip() or None
    client_secret = env.get("CSM_BACKEND_CLIENT_SECRET") or None
    scope = env.get("CSM_BACKEND_SCOPE", "").strip() or None
    oauth = (token_url, client_id, client_secret)
    if any(oauth) and not all(oauth):
        raise CredentialsConfigError(
            "CSM_BACKEND_TOKEN_URL, CSM_BACKEND_CLIENT_ID and CSM_BACKEND_CLIENT_SECRET go together"
        )
    if scope and not token_url:
        raise CredentialsConfigError("CSM_BACKEND_SCOPE needs CSM_BACKEND_TOKEN_URL")
    if authorization and token_url:
        raise CredentialsConfigError(
            "CSM_BACKEND_AUTHORIZATION and CSM_BACKEND_TOKEN_URL exclude each other"
        )
    if authorization and not _HEADER_VALUE.fullmatch(authorization):
        raise CredentialsConfigError(
            "CSM_BACKEND_AUTHORIZATION must be '<scheme> <credentials>' in printable ASCII"
        )
    if token_url and not token_url.startswith(("https://", "http://")):
        raise CredentialsConfigError("CSM_BACKEND_TOKEN_URL must be an http(s) URL")
    for name, value in (
        ("CSM_BACKEND_CLIENT_ID", client_id),
        ("CSM_BACKEND_CLIENT_SECRET", client_secret),
        ("CSM_BACKEND_SCOPE", scope),
    ):
        if value is not None and not _PRINTABLE.fullmatch(value):
            raise CredentialsConfigError(f"{name} must be printable ASCII")
    return BackendAuthConfig(
        authorization=authorization,
        token_url=token_url,
        client_id=client_id,
        client_secret=client_secret,
        scope=scope,
        forward_user_token=_flag("CSM_FORWARD_USER_TOKEN", env.get("CSM_FORWARD_USER_TOKEN")),
    )


class ServiceCredentials(Protocol):
    async def authorization(self, api: str) -> str | None:
        """The ``Authorization`` value for a call to ``api`` (None: send none); raises
        :class:`BackendUnavailable` for ``api`` when no credential can be had."""
        ...


class NoCredentials:
    async def authorization(self, api: str) -> str | None:
        return None


class StaticCredentials:
    def __init__(self, value: str) -> None:
        self._value = value

    def __repr__(self) -> str:
        return "StaticCredentials(…)"

    async def authorization(self, api: str) -> str | None:
        return self._value


class TokenEndpointError(Exception):
    """The token endpoint gave no usable token; ``reason`` has no secret and no URL."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _AccessToken:
    header: str = field(repr=False)
    refresh_at: float  # clock time after which callers refresh first
    expires_at: float  # clock time after which it is never sent


def _observe(task: asyncio.Task[_AccessToken]) -> None:
    """A background refresh nobody awaits must not log "exception was never retrieved"."""
    if not task.cancelled():
        task.exception()


class ClientCredentials:
    """OAuth 2.0 client credentials, cached and refreshed before expiry (see the module)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str | None = None,
        *,
        timeout_seconds: float = 5.0,
        refresh_margin_seconds: float = 60.0,
        retry_after_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session = session
        self._token_url = token_url
        pair = f"{quote_plus(client_id, safe='')}:{quote_plus(client_secret, safe='')}"
        self._basic = "Basic " + base64.b64encode(pair.encode()).decode()
        self._scope = scope
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._margin = refresh_margin_seconds
        self._retry_after = retry_after_seconds
        self._clock = clock
        self._token: _AccessToken | None = None
        self._fetching: asyncio.Task[_AccessToken] | None = None
        self._failure: tuple[float, str] | None = None  # (clock time, reason) of the last one
        self.fetches = 0  # token requests sent

    def __repr__(self) -> str:
        return f"ClientCredentials(token_url={self._token_url!r})"

    async def authorization(self, api: str) -> str | None:
        token = self._token
        now = self._clock()
        if token is not None and now < token.refresh_at:
            return token.header
        if token is not None and now < token.expires_at:
            # Due for refresh but still valid: refresh in the background, don't make this
            # request wait for the token endpoint.
            with contextlib.suppress(TokenEndpointError):
                self._start_refresh()
            return token.header
        try:
            token = await self._refreshed()
        except TokenEndpointError as exc:
            current = self._token
            if current is not None and self._clock() < current.expires_at:
                return current.header  # still valid: keep using it while the endpoint fails
            raise BackendUnavailable(api, f"service credentials: {exc.reason}") from None
        return token.header

    async def refreshed(self) -> None:
        """Wait for a refresh under way, if any (its failure is reported elsewhere)."""
        task = self._fetching
        if task is not None:
            await asyncio.gather(asyncio.shield(task), return_exceptions=True)

    async def close(self) -> None:
        task = self._fetching
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _start_refresh(self) -> asyncio.Task[_AccessToken]:
        """The refresh under way, or a new one (one at a time; not again within
        ``retry_after`` of a failure)."""
        if self._fetching is None:
            failure = self._failure
            if failure is not None and self._clock() - failure[0] < self._retry_after:
                raise TokenEndpointError(failure[1])
            self._fetching = asyncio.create_task(self._fetch())
            self._fetching.add_done_callback(_observe)
        return self._fetching

    async def _refreshed(self) -> _AccessToken:
        return await asyncio.shield(self._start_refresh())

    async def _fetch(self) -> _AccessToken:
        try:
            token = await self._request()
        except TokenEndpointError as exc:
            self._failure = (self._clock(), exc.reason)
            log.warning("backend service token: %s", exc.reason)
            raise
        finally:
            self._fetching = None
        self._token, self._failure = token, None
        return token

    async def _request(self) -> _AccessToken:
        form = {"grant_type": "client_credentials"}
        if self._scope:
            form["scope"] = self._scope
        started = self._clock()
        self.fetches += 1
        try:
            async with self._session.post(
                self._token_url,
                data=form,
                headers={"Accept": "application/json", "Authorization": self._basic},
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                status = response.status
                raw = await response.content.read(MAX_TOKEN_RESPONSE_BYTES + 1)
        except TimeoutError:
            raise TokenEndpointError("token endpoint timed out") from None
        except aiohttp.ClientError as exc:
            raise TokenEndpointError(f"token endpoint unreachable ({type(exc).__name__})") from None
        if len(raw) > MAX_TOKEN_RESPONSE_BYTES:
            raise TokenEndpointError("token response too large")
        try:
            body: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        if status != 200:
            error = body.get("error") if isinstance(body, dict) else None
            code = f" {error}" if isinstance(error, str) and _OAUTH_ERROR.fullmatch(error) else ""
            raise TokenEndpointError(f"token endpoint answered HTTP {status}{code}")
        return self._parse(body, started)

    def _parse(self, body: Any, started: float) -> _AccessToken:
        if not isinstance(body, dict):
            raise TokenEndpointError("token response is not a JSON object")
        access_token = body.get("access_token")
        if not isinstance(access_token, str) or not _B64TOKEN.fullmatch(access_token):
            raise TokenEndpointError("token response has no usable access_token")
        if str(body.get("token_type", "")).lower() != "bearer":
            raise TokenEndpointError("token response is not a Bearer token")
        expires_in = body.get("expires_in", DEFAULT_LIFETIME_SECONDS)
        try:
            lifetime = float(expires_in)
        except (TypeError, ValueError):
            raise TokenEndpointError("token response has a malformed expires_in") from None
        if isinstance(expires_in, bool) or not lifetime > 0:
            raise TokenEndpointError("token response has a malformed expires_in")
        return _AccessToken(
            header=f"Bearer {access_token}",
            refresh_at=started + max(lifetime - self._margin, lifetime / 2),
            expires_at=started + lifetime,
        )


@asynccontextmanager
async def open_service_credentials(
    config: BackendAuthConfig, timeout_seconds: float = 5.0
) -> AsyncIterator[ServiceCredentials]:
    """The provider ``config`` asks for, with its own ``ClientSession`` for the token endpoint
    (closed, with any refresh in flight, when the block exits)."""
    if config.authorization:
        yield StaticCredentials(config.authorization)
        return
    if not (config.token_url and config.client_id and config.client_secret):
        yield NoCredentials()
        return
    async with aiohttp.ClientSession() as session:
        provider = ClientCredentials(
            session,
            config.token_url,
            config.client_id,
            config.client_secret,
            config.scope,
            timeout_seconds=timeout_seconds,
        )
        try:
            yield provider
        finally:
            await provider.close()
