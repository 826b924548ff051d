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

__all__ = ["IsCustomer", "IsSignedIn", "IsStaff"]


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
