"""``node(id:)``: any object by its backend id, through the same loaders as everything else."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graph.auth import Role
from graph.context import Info
from graph.errors import Code, GraphError
from graph.sources import ResourceSource

__all__ = ["node_record"]


async def node_record(
    info: Info, source: ResourceSource[Any], tmf_id: str
) -> Mapping[str, Any] | None:
    principal = info.context.principal
    if principal.role is Role.ANONYMOUS:
        raise GraphError("Sign in to fetch objects by id.", Code.UNAUTHENTICATED)
    if not principal.is_staff:
        # Object-level scoping for customers arrives with the identity work; until then a
        # customer reaches objects only through `me`.
        raise GraphError("`node` is open to agents and analysts only.", Code.FORBIDDEN)
    record: Mapping[str, Any] | None = await info.context.loaders.by_id(source).load(tmf_id)
    return record
