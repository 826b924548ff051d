"""The principal of a request: who, in which role, bound to which customer, on which channel.

Until token validation lands (the identity issue), a development principal can be given in the
``X-Dev-Principal`` header -- ``customer:cus-000001``, ``agent:agent-7``, ``analyst:ana-1``,
optionally ``@channel`` -- and only when ``CSM_DEV_PRINCIPALS`` is on (the embedded default).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

__all__ = ["ANONYMOUS", "CHANNELS", "Principal", "Role", "dev_principal"]

CHANNELS: Final = frozenset({"web", "app", "kiosk", "ivr", "chatbot", "agent-desktop"})


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

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.AGENT, Role.ANALYST)


ANONYMOUS: Final = Principal(subject="anonymous", role=Role.ANONYMOUS)

_DEV: Final = re.compile(r"^(customer|agent|analyst):([A-Za-z0-9._-]{1,64})(?:@([a-z-]+))?$")


def dev_principal(header: str | None) -> Principal | None:
    """Parse an ``X-Dev-Principal`` header; None when absent or malformed."""
    if not header:
        return None
    match = _DEV.match(header.strip())
    if match is None or (match.group(3) and match.group(3) not in CHANNELS):
        return None
    role, subject, channel = Role(match.group(1)), match.group(2), match.group(3)
    default_channel = "agent-desktop" if role is Role.AGENT else "web"
    return Principal(
        subject=subject,
        role=role,
        customer_id=subject if role is Role.CUSTOMER else None,
        channel=channel or default_channel,
    )
