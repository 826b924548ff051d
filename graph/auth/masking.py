"""Masking of personal data for analysts, declared per field.

Analysts read across customers for analysis, not to serve one; they need shapes and counts,
not identities. A field that carries personal data declares how it is masked for them --
``strawberry.field(..., extensions=[Masked(INITIALS)])`` -- and says so in its description.
Customers and agents see the data unmasked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from strawberry.extensions import FieldExtension

from graph.auth.principal import Role

__all__ = ["HIDDEN", "INITIALS", "Masked", "initials"]

INITIALS: Final = "initials"  # "Agnieszka Lehmann" -> "A. L."
HIDDEN: Final = "hidden"  # null, or an empty list for list fields


def initials(value: Any) -> Any:
    if not isinstance(value, str) or not value.strip():
        return value
    return " ".join(f"{part[0]}." for part in value.split() if part)


class Masked(FieldExtension):
    def __init__(self, how: str) -> None:
        if how not in (INITIALS, HIDDEN):
            raise ValueError(f"unknown mask {how!r}")
        super().__init__()
        self.how = how

    def _apply(self, info: Any, value: Any) -> Any:
        if info.context.principal.role is not Role.ANALYST:
            return value
        if self.how == INITIALS:
            return initials(value)
        return [] if isinstance(value, list) else None

    def resolve(self, next_: Callable[..., Any], source: Any, info: Any, **kwargs: Any) -> Any:
        return self._apply(info, next_(source, info, **kwargs))

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: Any, **kwargs: Any
    ) -> Any:
        return self._apply(info, await next_(source, info, **kwargs))
