"""Field permissions, declared on the schema's fields (``permission_classes=[...]``).

They state who may call a field at all; what a permitted caller then sees is scoped per object
at the sources (:mod:`graph.auth.scope`). A refusal says why with its code: UNAUTHENTICATED
for a caller without a token, FORBIDDEN for the wrong role.
"""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from graph.auth.principal import Principal, Role
from graph.errors import Code, GraphError

__all__ = ["CanAct", "CanRegister", "IsCustomer", "IsSignedIn", "IsStaff"]


def _principal(info: Any) -> Principal:
    principal: Principal = info.context.principal
    return principal


def _signed_in(principal: Principal, what: str) -> None:
    if principal.role is Role.ANONYMOUS:
        raise GraphError(f"Sign in to {what}.", Code.UNAUTHENTICATED)


class IsSignedIn(BasePermission):
    message = "Sign in first."

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        _signed_in(_principal(info), "see this")
        return True


class IsCustomer(BasePermission):
    message = "Only a signed-in customer has this."

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        principal = _principal(info)
        _signed_in(principal, "see your account")
        if principal.role is not Role.CUSTOMER or principal.customer_id is None:
            raise GraphError("This principal is not bound to a customer.", Code.FORBIDDEN)
        return True


class IsStaff(BasePermission):
    message = "Only agents and analysts may do this."

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        principal = _principal(info)
        _signed_in(principal, "look up customers")
        if not principal.is_staff:
            raise GraphError("Only agents and analysts may look up customers.", Code.FORBIDDEN)
        return True


class CanAct(BasePermission):
    """Self-service actions: the customer, or an agent assisting one. Analysts only read."""

    message = "Only customers and the agents assisting them act on accounts."

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        principal = _principal(info)
        _signed_in(principal, "act on your account")
        if principal.role is Role.AGENT:
            return True
        if principal.role is Role.CUSTOMER and principal.customer_id is not None:
            return True
        raise GraphError(self.message, Code.FORBIDDEN)


class CanRegister(BasePermission):
    """Registration: someone without an account (no token), or an agent registering them."""

    message = "Registration is for new customers and the agents assisting them."

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        principal = _principal(info)
        if principal.role in (Role.ANONYMOUS, Role.AGENT):
            return True
        raise GraphError(
            "You are signed in as an existing customer: there is nothing to register."
            if principal.role is Role.CUSTOMER
            else self.message,
            Code.FORBIDDEN,
        )
