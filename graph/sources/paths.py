"""Dotted paths into TMF records (``relatedParty.id``), descending through arrays."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["ids_at", "values_at"]


def values_at(node: Any, path: tuple[str, ...]) -> Iterator[Any]:
    """Leaf values at ``path``; an array at any level contributes each of its elements."""
    if isinstance(node, list):
        for item in node:
            yield from values_at(item, path)
    elif not path:
        yield node
    elif isinstance(node, Mapping) and path[0] in node:
        yield from values_at(node[path[0]], path[1:])


def ids_at(record: Mapping[str, Any], dotted: str) -> set[str]:
    """The non-empty string ids at a dotted path, e.g. ``ids_at(bill, "billingAccount.id")``."""
    return {v for v in values_at(record, tuple(dotted.split("."))) if isinstance(v, str) and v}
