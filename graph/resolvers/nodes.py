"""``node(id:)``: any object by its backend id, through the same loaders as everything else."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graph.context import Info
from graph.sources import ResourceSource

__all__ = ["node_record"]


async def node_record(
    info: Info, source: ResourceSource[Any], tmf_id: str
) -> Mapping[str, Any] | None:
    """The record, or None. The field's permission requires a signed-in principal, and the
    request's sources are scoped to it: a customer asking for another customer's object gets
    None, exactly as for an object that does not exist."""
    record: Mapping[str, Any] | None = await info.context.loaders.by_id(source).load(tmf_id)
    return record
