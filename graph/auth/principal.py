"""The principal of a request: who, in which role, bound to which customer, on which channel,
at which assurance level -- all taken from a verified token, never from a header the caller
can set."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

__all__ = ["ANONYMOUS", "CHANNELS", "Principal", "Role", "principal_from_claims"]

CHANNELS: Final = frozenset({"web", "app", "kiosk", "ivr", "chatbot", "agent-desktop"})
ASSURANCE_LEVELS: Final = ("low", "substantial", "high")
_CUSTOMER_ID: Final = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class Role(StrEnum):
    ANONYMOUS = "anonymous"
    CUSTOMER = "customer"
    AGENT = "agent"
    ANALYST = "analyst"


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    role: Role
    customer_id: str | None = None  # the TMF629 customer a customer principal is bound to
    channel: str = "web"
    acr: str | None = None  # assurance level: low (e.g. an IVR PIN), substantial, high
    scopes: frozenset[str] = field(default_factory=frozenset)
    expires_at: float | None = None  # epoch seconds (the token's exp)

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.AGENT, Role.ANALYST)


ANONYMOUS: Final = Principal(subject="anonymous", role=Role.ANONYMOUS)


class ClaimsError(ValueError):
    """Verified claims that do not describe a principal csm-graph can serve."""


def principal_from_claims(
    claims: Mapping[str, Any], client_channels: Mapping[str, str] | None = None
) -> Principal:
    """Build the principal from verified claims: ``role``, ``customer_id`` (customers only),
    ``channel`` (or the channel of the client ``azp`` it was issued to), ``acr``, ``scope``."""
    try:
        role = Role(str(claims.get("role", "")))
    except ValueError:
        raise ClaimsError("unknown role") from None
    if role is Role.ANONYMOUS:
        raise ClaimsError("unknown role")
    channel = claims.get("channel")
    mapped = client_channels.get(str(claims.get("azp", ""))) if client_channels else None
    if channel is None:
        channel = mapped
    elif mapped is not None and mapped != channel:
        raise ClaimsError("the token's channel contradicts its client")
    if channel not in CHANNELS:
        raise ClaimsError("unknown channel")
    customer_id = claims.get("customer_id")
    if role is Role.CUSTOMER:
        if not isinstance(customer_id, str) or not _CUSTOMER_ID.match(customer_id):
            raise ClaimsError("a customer token must name its customer")
    elif customer_id is not None:
        raise ClaimsError("only customer tokens name a customer")
    acr = claims.get("acr")
    if acr is not None and acr not in ASSURANCE_LEVELS:
        raise ClaimsError("unknown assurance level")
    scope = claims.get("scope", "")
    exp = claims.get("exp")
    return Principal(
        subject=str(claims["sub"]),
        role=role,
        customer_id=customer_id if role is Role.CUSTOMER else None,
        channel=str(channel),
        acr=acr,
        scopes=frozenset(str(scope).split()) if scope else frozenset(),
        expires_at=float(exp) if isinstance(exp, int | float) else None,
    )
