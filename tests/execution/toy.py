"""A small strawberry schema exercising every way a field completes, twice: on the stock
executor and on :class:`~graph.execution.fast.FastExecutor`.

Its objects are built afresh per request by the root resolvers. Besides well-formed ones, the
roots return duck-typed sources (``Odd``) whose attributes are what no resolver of ours should
return -- nulls in non-null fields, values a scalar or an enum cannot represent, exceptions,
awaitables, getters that raise -- so that errors, their paths and null propagation are
compared too.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any

import strawberry
from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.permission import BasePermission
from strawberry.types import ExecutionResult

from graph.auth.masking import HIDDEN, INITIALS, Masked
from graph.auth.principal import Role


@strawberry.enum
class Colour(Enum):
    RED = "red"
    DEEP_BLUE = "deep-blue"


@strawberry.type
class Price:
    amount: Decimal
    currency: str


@strawberry.interface
class Thing:
    id: strawberry.ID
    label: str | None


class Deny(BasePermission):
    message = "Not for you."

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


@strawberry.type
class Gadget(Thing):
    name: str
    colour: Colour
    maybe_colour: Colour | None
    colours: list[Colour]
    price: Price | None
    made: datetime.date
    updated: datetime.datetime | None
    weight: float
    count: int
    active: bool
    tags: list[str]
    twin: Gadget | None = None  # an object type with is_type_of (it implements Thing)
    friend: Thing | None = None  # an interface
    pick: Annotated[Gadget | Widget, strawberry.union("Pick")] | None = None
    nick: str = strawberry.field(default="", extensions=[Masked(INITIALS)])
    contact: str | None = strawberry.field(default=None, extensions=[Masked(HIDDEN)])
    secret: str = strawberry.field(default="s3cret", permission_classes=[Deny])
    hidden: str | None = strawberry.field(default="h", permission_classes=[Deny])

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()

    @strawberry.field
    async def later(self, suffix: str = "!") -> str:
        return self.name + suffix


@strawberry.type
class Widget(Thing):
    size: int
    parts: list[Price]


@strawberry.type
class Plain:
    """No interface: no is_type_of, so duck-typed sources complete (``Odd``)."""

    text: str
    maybe_text: str | None
    number: int
    maybe_number: int | None
    colour: Colour
    maybe_colour: Colour | None
    price: Price
    maybe_price: Price | None
    tags: list[str]
    maybe_tags: list[str | None] | None
    stamp: datetime.datetime | None
    amount: Decimal | None
    identity: strawberry.ID | None
    inner: Plain | None = None
    strict_inner: Plain | None = None
    gadgets: list[Gadget | None] | None = None  # objects with is_type_of
    prices: list[Price] = strawberry.field(default_factory=list)
    loose_prices: list[Price | None] | None = None


@dataclass(frozen=True)
class Later:
    """An attribute value made when read: an awaitable only exists once a field asks for it
    (an awaitable never awaited would be a warning, hence an error, in the tests)."""

    make: Callable[[], Any]


@dataclass
class Odd:
    """A duck-typed Plain: any attribute may be anything, or a getter that raises."""

    values: dict[str, Any] = field(default_factory=dict)
    raising: frozenset[str] = frozenset()

    def __getattr__(self, name: str) -> Any:
        if name in ("values", "raising") or name.startswith("__"):
            raise AttributeError(name)
        if name in self.raising:
            raise ValueError(f"getter of {name} failed")
        value = self.values.get(name)
        return value.make() if isinstance(value, Later) else value


def plain(n: int, **changes: Any) -> Plain:
    values: dict[str, Any] = {
        "text": f"text {n}",
        "maybe_text": None if n % 2 else f"maybe {n}",
        "number": n,
        "maybe_number": None,
        "colour": Colour.DEEP_BLUE,
        "maybe_colour": Colour.RED if n % 2 else None,
        "price": Price(amount=Decimal("9.90"), currency="EUR"),
        "maybe_price": None,
        "tags": ["a", f"t{n}"],
        "maybe_tags": [None, "x"],
        "stamp": datetime.datetime(2026, 11, 26, 12, n, tzinfo=datetime.UTC),
        "amount": Decimal("1.10"),
        "identity": strawberry.ID(f"id-{n}"),
    }
    values.update(changes)
    return Plain(**values)


def gadget(n: int, **changes: Any) -> Gadget:
    values: dict[str, Any] = {
        "id": strawberry.ID(f"g{n}"),
        "label": None if n % 2 else f"gadget {n}",
        "name": f"Ada Lovelace {n}",
        "colour": Colour.RED,
        "maybe_colour": None,
        "colours": [Colour.RED, Colour.DEEP_BLUE],
        "price": Price(amount=Decimal("2.5"), currency="USD"),
        "made": datetime.date(2026, 1, n + 1),
        "updated": None,
        "weight": 1.5 * n,
        "count": n,
        "active": n % 2 == 0,
        "tags": [],
        "nick": "Grace Hopper",
        "contact": "grace@example.org",
    }
    values.update(changes)
    return Gadget(**values)


def widget(n: int) -> Widget:
    return Widget(
        id=strawberry.ID(f"w{n}"),
        label=f"widget {n}",
        size=n,
        parts=[Price(amount=Decimal(n), currency="EUR")],
    )


async def _value(value: Any) -> Any:
    return value


async def _fails() -> Any:
    raise RuntimeError("awaited value failed")


PRICE = Price(amount=Decimal("4.20"), currency="EUR")


def odd_plains() -> list[Any]:
    """Plains with every kind of trouble, one per item (the list's items are nullable)."""
    return [
        plain(1),
        Odd({**vars_of(plain(2)), "text": None}),  # null in a non-null leaf
        Odd(vars_of(plain(3)), raising=frozenset({"maybe_text"})),
        Odd(vars_of(plain(4)), raising=frozenset({"number"})),
        Odd({**vars_of(plain(5)), "maybe_number": "five"}),  # Int cannot represent
        Odd({**vars_of(plain(6)), "number": 2**40}),  # non-null, out of range
        Odd({**vars_of(plain(7)), "colour": "purple"}),  # not an enum member
        Odd({**vars_of(plain(8)), "maybe_colour": "RED"}),  # a name, not a member
        Odd({**vars_of(plain(9)), "price": None}),  # null in a non-null object
        Odd({**vars_of(plain(10)), "tags": ["a", None]}),  # null in a non-null item
        Odd({**vars_of(plain(11)), "maybe_tags": 5}),  # not a list
        Odd({**vars_of(plain(12)), "maybe_text": ValueError("an exception as value")}),
        Odd({**vars_of(plain(13)), "maybe_text": Later(lambda: _value("awaited"))}),
        Odd({**vars_of(plain(14)), "text": Later(_fails)}),
        Odd({**vars_of(plain(15)), "stamp": "not a datetime"}),
        Odd({**vars_of(plain(16)), "amount": "12.5"}),
        Odd({**vars_of(plain(17)), "maybe_price": Odd({"amount": None, "currency": "EUR"})}),
        Odd({**vars_of(plain(18)), "inner": Odd({**vars_of(plain(19)), "number": None})}),
        Odd(
            {
                **vars_of(plain(20)),
                "price": Later(lambda: _value(Price(amount=Decimal(3), currency="GBP"))),
            }
        ),
        Odd({**vars_of(plain(21)), "identity": 21, "maybe_number": True}),
        Odd({**vars_of(plain(22)), "maybe_tags": ("t", None, "u")}),
        Odd({**vars_of(plain(23)), "maybe_tags": Later(lambda: ["a", _value("b"), _fails()])}),
        Odd({**vars_of(plain(24)), "maybe_tags": ["a", ValueError("item"), 5, True, object]}),
        Odd({**vars_of(plain(25)), "gadgets": [gadget(1), Odd(vars_of(plain(1))), None]}),
        Odd({**vars_of(plain(26)), "prices": [PRICE, Odd({"amount": None, "currency": "X"})]}),
        Odd({**vars_of(plain(27)), "loose_prices": [PRICE, Odd(), None]}),
        Odd({**vars_of(plain(28)), "gadgets": Later(lambda: [_value(gadget(2)), gadget(3)])}),
        Odd({**vars_of(plain(29)), "gadgets": [gadget(4, colour="mauve")]}),
        plain(30, gadgets=[gadget(5), None], prices=[PRICE], loose_prices=[None, PRICE]),
        # an item nulls its non-null list while a later item is still an awaitable
        Odd(
            {
                **vars_of(plain(31)),
                "prices": Later(lambda: [Odd({"amount": None}), _value(PRICE), _fails()]),
            }
        ),
        None,
    ]


def vars_of(obj: Plain) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in Plain.__annotations__}


@dataclass
class Principal:
    role: Role


@dataclass
class Context:
    principal: Principal


@strawberry.type
class Query:
    @strawberry.field
    def gadgets(self) -> list[Gadget]:
        first = gadget(0)
        first.twin = gadget(1)
        first.friend = widget(2)
        first.pick = gadget(3)
        second = gadget(4, tags=["x", "y"], updated=datetime.datetime(2026, 2, 1, 8, 30))
        second.friend = gadget(5)
        second.pick = widget(6)
        return [first, second]

    @strawberry.field
    def things(self) -> list[Thing]:
        return [gadget(7), widget(8)]

    @strawberry.field
    def plains(self) -> list[Plain | None]:
        return odd_plains()

    @strawberry.field
    def strict_plains(self) -> list[Plain]:
        return odd_plains()[:3]

    @strawberry.field
    def plain(self) -> Plain:
        return plain(30, inner=plain(31), strict_inner=plain(32))


@strawberry.type
class Mutation:
    @strawberry.mutation
    def touch(self, n: int) -> Plain | None:
        return plain(n)

    @strawberry.mutation
    def spoil(self) -> Plain | None:
        return Odd({**vars_of(plain(40)), "text": None})  # type: ignore[return-value]


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def plains(self) -> AsyncGenerator[Plain | None, None]:
        for item in odd_plains():
            yield item


def build(executor: type[Any] | None, extensions: list[Any] | None = None) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Gadget, Widget],
        execution_context_class=executor,
        extensions=extensions or [],
    )


def answer(result: ExecutionResult | GraphQLExecutionResult) -> dict[str, Any]:
    """All a client gets: data, errors (message, locations, path, extensions), in order."""
    return {
        "data": result.data,
        "errors": [error.formatted for error in result.errors or ()],
    }


Execute = Callable[[strawberry.Schema], Awaitable[dict[str, Any]]]


class CountingResolves(SchemaExtension):
    """A schema extension with a ``resolve`` hook: graphql-core middleware on every field."""

    seen: list[str] = []  # the test reads it

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        CountingResolves.seen.append(info.field_name)
        return _next(root, info, *args, **kwargs)
