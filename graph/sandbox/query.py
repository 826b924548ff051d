"""TMF630 list queries: attribute selection, filters on dotted paths, sorting and paging.

A filter ``relatedParty.id=a,b`` walks nested objects and arrays (any element may match) and
treats a comma list as OR; ``billDate.gte=2026-01-01`` compares with an operator suffix. Values
compare as strings, numbers and booleans by their JSON spelling, so filters behave the same on
every collection.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from .errors import TmfError

__all__ = ["Filter", "ListQuery", "parse_list_query", "project", "values_at"]

Record = dict[str, Any]

RESERVED: Final = frozenset({"fields", "offset", "limit", "sort", "depth", "expand"})
OPERATORS: Final = frozenset({"eq", "ne", "gt", "gte", "lt", "lte"})


@dataclass(frozen=True, slots=True)
class Filter:
    path: tuple[str, ...]
    op: str
    values: frozenset[str]

    @property
    def dotted(self) -> str:
        return ".".join(self.path)

    def matches(self, record: Record) -> bool:
        found = values_at(record, self.path)
        if self.op == "eq":
            return any(_spell(v) in self.values for v in found)
        if self.op == "ne":
            return all(_spell(v) not in self.values for v in found)
        (bound,) = self.values
        return any(_compare(v, bound, self.op) for v in found)


@dataclass(frozen=True, slots=True)
class ListQuery:
    fields: frozenset[str] | None
    filters: tuple[Filter, ...]
    sort: tuple[tuple[tuple[str, ...], bool], ...]  # (path, descending)
    offset: int
    limit: int


def values_at(node: Any, path: tuple[str, ...]) -> Iterator[Any]:
    """Leaf values at ``path``, descending through arrays at any level."""
    if isinstance(node, list):
        for item in node:
            yield from values_at(item, path)
        return
    if not path:
        yield node
        return
    if isinstance(node, dict) and path[0] in node:
        yield from values_at(node[path[0]], path[1:])


def _spell(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _compare(value: Any, bound: str, op: str) -> bool:
    left: Any
    right: Any
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            left, right = float(value), float(bound)
        except ValueError:
            return False
    elif isinstance(value, str):
        left, right = value, bound
    else:
        return False
    if op == "gt":
        return bool(left > right)
    if op == "gte":
        return bool(left >= right)
    if op == "lt":
        return bool(left < right)
    return bool(left <= right)


def _int_param(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise TmfError(400, "Invalid query parameter", f"{name} must be an integer") from None
    if value < 0:
        raise TmfError(400, "Invalid query parameter", f"{name} must not be negative")
    return value


def parse_list_query(
    params: Mapping[str, str],
    attributes: frozenset[str],
    default_limit: int,
    max_limit: int,
) -> ListQuery:
    """Parse a list request; unknown attributes in filters or sort are a 400, as a real server
    would refuse them, so a client bug shows instead of returning everything."""
    filters: list[Filter] = []
    for key, raw in params.items():
        if key in RESERVED:
            continue
        path = tuple(key.split("."))
        op = "eq"
        if len(path) > 1 and path[-1] in OPERATORS:
            path, op = path[:-1], path[-1]
        if not path[0] or path[0] not in attributes:
            raise TmfError(400, "Invalid filter", f"unknown attribute '{key}'")
        values = frozenset(raw.split(",")) if op in ("eq", "ne") else frozenset((raw,))
        filters.append(Filter(path, op, values))
    fields: frozenset[str] | None = None
    if params.get("fields"):
        fields = frozenset(f.split(".", 1)[0] for f in params["fields"].split(",") if f)
    sort: list[tuple[tuple[str, ...], bool]] = []
    for item in params.get("sort", "").split(","):
        if not item:
            continue
        descending = item.startswith("-")
        path = tuple(item.lstrip("+-").split("."))
        if path[0] not in attributes:
            raise TmfError(400, "Invalid sort", f"unknown attribute '{item}'")
        sort.append((path, descending))
    limit = min(_int_param(params, "limit", default_limit), max_limit)
    return ListQuery(
        fields=fields,
        filters=tuple(filters),
        sort=tuple(sort),
        offset=_int_param(params, "offset", 0),
        limit=limit,
    )


def project(record: Record, fields: frozenset[str] | None) -> Record:
    """Attribute selection: the requested first-level attributes, plus id and href always."""
    if fields is None:
        return record
    return {k: v for k, v in record.items() if k in fields or k == "id" or k == "href"}
