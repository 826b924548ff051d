"""Who a backend call is made for: the end user's identity and the operation's correlation id.

The gateway's server layer binds one :class:`CallerIdentity` per GraphQL operation to the
context variable :data:`CALLER` (:func:`bound_identity`); every backend call made while the
operation runs -- from resolvers, loaders' batch tasks, ``asyncio.gather`` fan-outs -- reads
it through :func:`current_identity`, since tasks and ``call_soon`` callbacks copy the context
they are started from. So no loader, resolver or source signature carries it.

:func:`backend_headers` turns it into the headers a backend receives (see docs/security.md,
"What backends receive"): ``X-Correlation-ID`` always (a fresh id per call when no operation
is bound, e.g. readiness probes), the ``X-End-User-*`` headers for a signed-in user, and
``X-End-User-Token`` only when the gateway is configured to forward the user's token.
Nothing here knows GraphQL: the identity is plain data, built from any principal-like object.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Final, Protocol
from urllib.parse import quote

__all__ = [
    "CALLER",
    "CORRELATION_ID",
    "END_USER_ASSURANCE",
    "END_USER_CHANNEL",
    "END_USER_CUSTOMER",
    "END_USER_ROLE",
    "END_USER_SUBJECT",
    "END_USER_TOKEN",
    "REQUEST_ID",
    "CallerIdentity",
    "backend_headers",
    "bound_identity",
    "correlation_id_from",
    "current_identity",
    "is_sane_correlation_id",
    "new_correlation_id",
]

CORRELATION_ID: Final = "X-Correlation-ID"
REQUEST_ID: Final = "X-Request-ID"
END_USER_SUBJECT: Final = "X-End-User-Subject"
END_USER_ROLE: Final = "X-End-User-Role"
END_USER_CUSTOMER: Final = "X-End-User-Customer"
END_USER_CHANNEL: Final = "X-End-User-Channel"
END_USER_ASSURANCE: Final = "X-End-User-Assurance"
END_USER_TOKEN: Final = "X-End-User-Token"

_SANE_ID: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Printable ASCII stays as it is, except "%" (the escape) and '"' / "\\" (quoting trouble in
# logs and structured headers); everything else (controls, spaces, non-ASCII) is %-encoded.
_SAFE: Final = "!#$&'()*+,/:;<=>?@[]^`{|}~"
ANONYMOUS_ROLE: Final = "anonymous"


class PrincipalLike(Protocol):
    """What :meth:`CallerIdentity.of` reads (``graph.auth.Principal`` fits)."""

    @property
    def subject(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def customer_id(self) -> str | None: ...
    @property
    def channel(self) -> str: ...
    @property
    def acr(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class CallerIdentity:
    """The end user one GraphQL operation runs for, and that operation's correlation id."""

    correlation_id: str
    role: str = ANONYMOUS_ROLE
    subject: str | None = None
    customer_id: str | None = None
    channel: str | None = None
    acr: str | None = None
    # The caller's verified bearer token, as received; sent only where forwarding is
    # configured (``TmfClient(forward_user_token=True)``). Never shown by repr().
    user_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not is_sane_correlation_id(self.correlation_id):
            raise ValueError("a correlation id is 1-64 characters of A-Za-z0-9._-")

    @classmethod
    def of(
        cls, principal: PrincipalLike, correlation_id: str, user_token: str | None = None
    ) -> CallerIdentity:
        """The identity of ``principal``; an anonymous caller is only its role."""
        role = str(principal.role)
        if role == ANONYMOUS_ROLE:
            return cls(correlation_id=correlation_id)
        return cls(
            correlation_id=correlation_id,
            role=role,
            subject=principal.subject,
            customer_id=principal.customer_id,
            channel=principal.channel,
            acr=principal.acr,
            user_token=user_token or None,
        )

    def with_correlation_id(self, correlation_id: str) -> CallerIdentity:
        return replace(self, correlation_id=correlation_id)


CALLER: Final[ContextVar[CallerIdentity | None]] = ContextVar("csm_caller", default=None)


def current_identity() -> CallerIdentity | None:
    return CALLER.get()


@contextmanager
def bound_identity(identity: CallerIdentity) -> Iterator[CallerIdentity]:
    """Run the block (and every task it starts) on behalf of ``identity``."""
    token = CALLER.set(identity)
    try:
        yield identity
    finally:
        CALLER.reset(token)


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def is_sane_correlation_id(value: str | None) -> bool:
    return value is not None and _SANE_ID.fullmatch(value) is not None


def correlation_id_from(headers: Mapping[str, str]) -> str:
    """The client's ``X-Correlation-ID`` or ``X-Request-ID`` when it is a sane token (at most
    64 characters of ``A-Za-z0-9._-``), else a new id."""
    for name in (CORRELATION_ID, REQUEST_ID):
        value = headers.get(name)
        if value is not None and is_sane_correlation_id(value.strip()):
            return value.strip()
    return new_correlation_id()


def _encoded(value: str) -> str:
    return quote(value, safe=_SAFE)


def backend_headers(identity: CallerIdentity | None, forward_user_token: bool) -> dict[str, str]:
    """The identity headers of one backend call (never ``Authorization``: that is the
    gateway's own credential, added by the client)."""
    if identity is None:
        return {CORRELATION_ID: new_correlation_id()}
    headers = {CORRELATION_ID: identity.correlation_id, END_USER_ROLE: _encoded(identity.role)}
    optional = (
        (END_USER_SUBJECT, identity.subject),
        (END_USER_CUSTOMER, identity.customer_id),
        (END_USER_CHANNEL, identity.channel),
        (END_USER_ASSURANCE, identity.acr),
    )
    for name, value in optional:
        if value:
            headers[name] = _encoded(value)
    if forward_user_token and identity.user_token:
        headers[END_USER_TOKEN] = _encoded(identity.user_token)
    return headers
