"""Types every domain uses: Node and global ids, Money, connections, date parsing."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar

import orjson
import strawberry

from graph.errors import Code, GraphError
from graph.ids import BACKEND_ID as BACKEND_ID
from graph.ids import decode_global_id, encode_global_id
from graph.timestamps import parse_date as parse_date
from graph.timestamps import parse_datetime as parse_datetime

if TYPE_CHECKING:
    from graph.sources import ResourceSource, Sources

__all__ = [
    "NODE_KINDS",
    "After",
    "Characteristic",
    "Connection",
    "Edge",
    "First",
    "Money",
    "Node",
    "NodeKind",
    "PageInfo",
    "as_text",
    "build_node",
    "connection_from_page",
    "decode_global_id",
    "encode_global_id",
    "enum_member",
    "money",
    "page_window",
    "paginate",
    "parse_date",
    "parse_datetime",
    "ref_id",
    "register_node",
]

T = TypeVar("T")
E = TypeVar("E", bound=Enum)


@strawberry.interface(description="An object with an opaque, globally unique id.")
class Node:
    id: strawberry.ID = strawberry.field(
        description="Opaque global id of the object; `node(id:)` fetches it again."
    )


@dataclass(frozen=True, slots=True)
class NodeKind:
    """How ``node(id:)`` finds an object of one type."""

    source: Callable[[Sources], ResourceSource[Any]]
    build: Callable[[Any], Node]


NODE_KINDS: dict[str, NodeKind] = {}


def register_node(type_name: str, kind: NodeKind) -> None:
    NODE_KINDS[type_name] = kind


def build_node(type_name: str, record: Any) -> Any:
    """Build a Node type from its record by name: how one domain's fields return another
    domain's types without importing its module (which would be an import cycle)."""
    return NODE_KINDS[type_name].build(record)


@strawberry.type(description="An amount of money, exact to the cent.")
class Money:
    amount: Decimal = strawberry.field(description="The amount, as an exact decimal.")
    currency: str = strawberry.field(description="ISO 4217 currency code, e.g. EUR.")


def money(value: Mapping[str, Any] | None) -> Money | None:
    """TMF Money ``{unit, value}`` (value a JSON number) to an exact Money."""
    if not value or value.get("value") is None:
        return None
    return Money(
        amount=Decimal(str(value["value"])).quantize(Decimal("0.01")),
        currency=str(value.get("unit") or ""),
    )


def enum_member(kind: type[E], value: object) -> E | None:
    """The member whose TMF value is ``value`` (exact, else ignoring case and surrounding
    spaces); None otherwise, so that an unexpected backend value never breaks a query."""
    if not isinstance(value, str):
        return None
    try:
        return kind(value)
    except ValueError:
        wanted = value.strip().lower()
        return next((m for m in kind if str(m.value).strip().lower() == wanted), None)


def as_text(value: Any) -> str | None:
    """A free-form TMF value as text: strings as they are, anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def ref_id(ref: object) -> str | None:
    """The id of a TMF reference object, or None."""
    if isinstance(ref, Mapping):
        value = ref.get("id")
        if isinstance(value, str) and value:
            return value
    return None


@strawberry.type(
    description=(
        "A named property of a product, service or resource, e.g. dataAllowanceGB = 20. "
        "The one GraphQL type for every TMF characteristic."
    )
)
class Characteristic:
    name: str = strawberry.field(description="Name of the characteristic.")
    value: str | None = strawberry.field(
        description=(
            "The value as text: strings as they are; numbers, booleans and structured values "
            "as JSON (e.g. 20, true)."
        )
    )

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Characteristic:
        return cls(name=str(record.get("name") or ""), value=as_text(record.get("value")))


First = Annotated[
    int | None,
    strawberry.argument(description="How many items to return, at most the maximum page size."),
]
After = Annotated[
    str | None,
    strawberry.argument(description="Return the items after this cursor (`pageInfo.endCursor`)."),
]


@strawberry.type(description="Where a page of a connection sits in the whole list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    has_previous_page: bool = strawberry.field(description="Items precede this page.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first edge.")
    end_cursor: str | None = strawberry.field(
        description="Cursor of the last edge; pass as `after`."
    )


@strawberry.type(description="One item of a connection, with its cursor.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque position of this item.")
    node: T = strawberry.field(description="The item.")


@strawberry.type(description="A page of a list that can grow (Relay connection).")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The items of this page.")
    page_info: PageInfo = strawberry.field(description="Paging state.")
    total_count: int = strawberry.field(description="Number of items in the whole list.")


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _offset(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        kind, _, number = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
        offset = int(number)
        if kind != "offset" or offset < 0:
            raise ValueError(kind)
        return offset
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise GraphError("Malformed cursor.", Code.BAD_USER_INPUT) from None


def check_first(first: int | None, maximum: int) -> int:
    if first is None:
        return maximum
    if first < 0 or first > maximum:
        raise GraphError(f"`first` must be between 0 and {maximum}.", Code.BAD_USER_INPUT)
    return first


def page_window(first: int | None, after: str | None, maximum: int) -> tuple[int, int]:
    """(offset, limit) of the page a connection's arguments ask for."""
    size = check_first(first, maximum)
    return (_offset(after) + 1 if after else 0), size


def connection_from_page(
    records: Sequence[Any], offset: int, total: int, build: Callable[[Any], T]
) -> Connection[T]:
    """A connection over one page fetched at the backend (``offset`` into ``total``)."""
    edges = [Edge(cursor=_cursor(offset + i), node=build(r)) for i, r in enumerate(records)]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=offset + len(records) < total,
            has_previous_page=offset > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=total,
    )


def paginate(
    items: Sequence[Any],
    first: int | None,
    after: str | None,
    maximum: int,
    build: Callable[[Any], T],
) -> Connection[T]:
    """A page of ``items`` (already in order) as a connection; only the page is built."""
    size = check_first(first, maximum)
    start = _offset(after) + 1 if after else 0
    page = items[start : start + size]
    edges = [Edge(cursor=_cursor(start + i), node=build(item)) for i, item in enumerate(page)]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=start + len(page) < len(items),
            has_previous_page=start > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=len(items),
    )
