"""Dotted paths into TMF records (``relatedParty.id``), descending through arrays."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar

R = TypeVar("R", bound=Mapping[str, Any])

__all__ = ["group_by", "ids_at", "values_at"]


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


def group_by(records: Iterable[R], path: str, keys: Iterable[str]) -> dict[str, list[R]]:
    """The records whose value at ``path`` is each key, in the records' order (an empty list
    for a key no record has); a record with several values joins each of their groups once."""
    groups: dict[str, list[R]] = {key: [] for key in keys}
    segments = tuple(path.split("."))
    for record in records:
        for value in dict.fromkeys(values_at(record, segments)):
            group = groups.get(value) if isinstance(value, str) else None
            if group is not None:
                group.append(record)
    return groups
