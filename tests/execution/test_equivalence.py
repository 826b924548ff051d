"""The fast executor answers exactly as the stock one: data and errors (messages, locations,
paths, extensions, order), on a schema exercising every way a field completes (tests/execution
/toy.py); and it does take its fast path where it may, and only there."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLObjectType, parse
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import ExecutionResult

from graph.auth.principal import Role
from graph.execution.fast import FastExecutor
from graph.execution.fields import BasicField
from tests.execution import toy
from tests.execution.toy import Context, CountingResolves, Principal, answer

PLAIN_FIELDS = """
    __typename text maybeText number maybeNumber colour maybeColour
    price { amount currency } maybePrice { amount currency __typename }
    tags maybeTags stamp amount identity
    inner { text number } strictInner { text }
    gadgets { __typename id name colour } prices { amount } loosePrices { amount currency }
"""

GADGET_FIELDS = """
    id label name colour maybeColour colours price { amount currency }
    made updated weight count active tags shout later
    twin { id name twin { id } }
    friend { __typename id label ... on Widget { size parts { amount } } ... on Gadget { name } }
    pick { __typename ... on Gadget { id colour } ... on Widget { size } }
"""

DOCUMENTS: dict[str, tuple[str, dict[str, Any]]] = {
    "leaves, objects, lists, abstract types": (f"{{ gadgets {{ {GADGET_FIELDS} }} }}", {}),
    "trouble in every field": (f"{{ plains {{ {PLAIN_FIELDS} }} }}", {}),
    "trouble under non-null items": (f"{{ strictPlains {{ {PLAIN_FIELDS} }} }}", {}),
    "aliases and repeated fields": (
        """{ plains { a: text b: text text t: __typename n: number number
                      p: price { c: currency } price { amount } } }""",
        {},
    ),
    "fragments": (
        """query Q { plain { ...P inner { ...P } } things { ...T } gadgets { ...G } }
           fragment P on Plain { text colour tags ... on Plain { number price { amount } } }
           fragment T on Thing { __typename id ... on Gadget { name colours } ...W }
           fragment W on Widget { size parts { currency } }
           fragment G on Gadget { ...T twin { ...T } }""",
        {},
    ),
    "skip and include": (
        """query Q($yes: Boolean!, $no: Boolean!) { plain {
             text @include(if: $yes) number @include(if: $no) colour @skip(if: $yes)
             tags @skip(if: $no) price @include(if: $yes) { amount @skip(if: $yes) currency }
             ... on Plain @include(if: $no) { maybeText }
             inner @skip(if: $no) { text @include(if: $yes) } } }""",
        {"yes": True, "no": False},
    ),
    "permissions, masking, resolvers with arguments": (
        """{ gadgets { name nick contact hidden later(suffix: "?") }
           more: gadgets { name secret } }""",
        {},
    ),
    "masking a second time without the permission error": (
        "{ gadgets { nick contact twin { nick contact } } }",
        {},
    ),
    "typename alone": ("{ __typename plain { __typename } things { __typename } }", {}),
}


async def both(
    query: str,
    variables: dict[str, Any],
    role: Role = Role.ANALYST,
    operation: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    answers = []
    for executor in (StrawberryGraphQLCoreExecutionContext, FastExecutor):
        result = await toy.build(executor).execute(
            query,
            variable_values=variables,
            context_value=Context(Principal(role)),
            operation_name=operation,
        )
        answers.append(answer(result))
        await settled()
    return answers[0], answers[1]


async def settled() -> None:
    """Let the loop run what graphql-core settles in the background: the pending siblings
    of a field whose error nulled their parent (a server's loop would go on running)."""
    for _ in range(10):
        await asyncio.sleep(0)


@pytest.mark.parametrize("name", list(DOCUMENTS))
@pytest.mark.parametrize("role", [Role.ANALYST, Role.CUSTOMER])
async def test_the_same_answer_as_stock(name: str, role: Role) -> None:
    query, variables = DOCUMENTS[name]
    stock, fast = await both(query, variables, role)
    assert fast == stock
    assert stock["data"] is not None or stock["errors"], stock


async def test_the_troubled_document_does_exercise_errors_and_propagation() -> None:
    """The comparison above is only worth its cases: check the troubled one has them."""
    stock, fast = await both(*DOCUMENTS["trouble in every field"])
    assert fast == stock
    paths = {tuple(e["path"]) for e in stock["errors"]}
    assert ("plains", 1, "text") in paths  # null in a non-null leaf...
    assert stock["data"]["plains"][1] is None  # ... nulls the object
    assert ("plains", 2, "maybeText") in paths  # a raising getter
    assert stock["data"]["plains"][2]["maybeText"] is None
    assert ("plains", 9, "tags", 1) in paths  # null in a non-null list item
    assert ("plains", 13, "text") in paths  # a failing awaitable
    assert stock["data"]["plains"][12]["maybeText"] == "awaited"
    assert stock["data"]["plains"][18]["price"] == {"amount": "3", "currency": "GBP"}
    assert stock["data"]["plains"][20]["maybeTags"] == ["t", None, "u"]
    assert stock["data"]["plains"][0]["maybeColour"] == "RED"
    # lists: items awaited, raising, of the wrong type, nulled, or nulling their list
    assert ("plains", 21, "maybeTags", 2) in paths
    assert stock["data"]["plains"][21]["maybeTags"] == ["a", "b", None]
    assert ("plains", 22, "maybeTags", 1) in paths
    assert ("plains", 22, "maybeTags", 4) in paths
    assert stock["data"]["plains"][22]["maybeTags"] == ["a", None, "5", "true", None]
    assert ("plains", 23, "gadgets", 1) in paths
    assert ("plains", 24, "prices", 1, "amount") in paths
    assert stock["data"]["plains"][24] is None
    euro = {"amount": "4.20", "currency": "EUR"}
    assert stock["data"]["plains"][25]["loosePrices"] == [euro, None, None]
    assert stock["data"]["plains"][26]["gadgets"][0]["name"] == "Ada Lovelace 2"
    assert stock["data"]["plains"][27]["gadgets"] == [None]
    assert stock["data"]["plains"][28]["loosePrices"] == [None, euro]
    assert ("plains", 29, "prices", 0, "amount") in paths
    assert stock["data"]["plains"][29] is None
    messages = " ".join(e["message"] for e in stock["errors"])
    for expected in (
        "Int cannot represent",
        "Enum 'Colour' cannot represent",
        "Cannot return null",
        "Expected value of type 'Gadget'",
        "String cannot represent",
    ):
        assert expected in messages
    assert all(e["locations"] for e in stock["errors"])


async def test_an_error_under_a_non_null_root_nulls_the_data() -> None:
    stock, fast = await both("{ strictPlains { text number } plain { text } }", {})
    assert fast == stock
    assert stock["data"] is None
    assert [e["path"] for e in stock["errors"]] == [["strictPlains", 1, "text"]]


async def test_mutations_run_serially_alike() -> None:
    query = """mutation { a: touch(n: 1) { text colour tags } b: spoil { text }
                          c: touch(n: 2) { number } }"""
    stock, fast = await both(query, {})
    assert fast == stock
    assert stock["data"]["b"] is None
    assert stock["data"]["c"] == {"number": 2}


async def test_subscription_events_alike() -> None:
    query = f"subscription {{ plains {{ {PLAIN_FIELDS} }} }}"
    answers = []
    for executor in (StrawberryGraphQLCoreExecutionContext, FastExecutor):
        stream = await toy.build(executor).subscribe(
            query, context_value=Context(Principal(Role.CUSTOMER))
        )
        assert not isinstance(stream, GraphQLExecutionResult | ExecutionResult)
        answers.append([answer(event) async for event in stream])
    assert answers[0] == answers[1]
    assert len(answers[0]) == len(toy.odd_plains())
    assert any(event["errors"] for event in answers[0])


class Counting(FastExecutor):
    """Counts the fields completed inline (not a method the inline path stands in for)."""

    inline: list[str] = []  # the tests read them
    stock: list[str] = []  # basic fields whose value graphql-core completes

    def execute_basic_field(
        self, basic: BasicField, parent_type: GraphQLObjectType, *args: Any
    ) -> Any:
        Counting.inline.append(f"{parent_type.name}.{basic.name}")
        return super().execute_basic_field(basic, parent_type, *args)

    def complete_basic_field(
        self, basic: BasicField, parent_type: GraphQLObjectType, *args: Any
    ) -> Any:
        Counting.stock.append(f"{parent_type.name}.{basic.name}")
        return super().complete_basic_field(basic, parent_type, *args)


async def test_plain_fields_take_the_fast_path_and_the_others_do_not() -> None:
    Counting.inline, Counting.stock = [], []
    query = """{ gadgets { name colour colours price { amount } nick hidden shout later
                           twin { id } friend { id } } }"""
    result = await toy.build(Counting).execute(query, context_value=Context(Principal(Role.AGENT)))
    await settled()
    assert result.data is not None
    assert [error.path for error in result.errors or ()] == [
        ["gadgets", 0, "hidden"],
        ["gadgets", 1, "hidden"],
    ]
    # Not the root's resolver, the masked nick, the permission-checked hidden, nor the
    # fields with resolvers (shout, later).
    assert sorted(Counting.inline) == [
        "Gadget.colour",
        "Gadget.colour",
        "Gadget.colours",  # lists of leaves
        "Gadget.colours",
        "Gadget.friend",  # an interface: its value inline, its completion graphql-core's
        "Gadget.friend",
        "Gadget.id",  # the first gadget's twin's (an object with is_type_of)
        "Gadget.id",  # the second gadget's friend's
        "Gadget.name",
        "Gadget.name",
        "Gadget.price",
        "Gadget.price",
        "Gadget.twin",
        "Gadget.twin",
        "Price.amount",
        "Price.amount",
        "Widget.id",  # the first gadget's friend's
    ]
    assert Counting.stock == ["Gadget.friend", "Gadget.friend"]


async def test_a_schema_extension_hooking_resolve_sees_every_field() -> None:
    """With a ``resolve`` hook (graphql-core middleware) nothing is completed inline."""
    query = "{ plain { text number price { amount } inner { text } } }"
    seen = []
    for executor in (StrawberryGraphQLCoreExecutionContext, Counting):
        CountingResolves.seen = []
        Counting.inline = []
        schema = toy.build(executor, extensions=[CountingResolves])
        result = await schema.execute(query, context_value=Context(Principal(Role.AGENT)))
        await settled()
        seen.append((answer(result), list(CountingResolves.seen)))
        assert not Counting.inline
    assert seen[0] == seen[1]
    assert "amount" in seen[0][1]


def test_the_executor_knows_what_it_bypasses() -> None:
    """A subclass overriding a method the inline completion stands in for gets the stock
    path, so that its override sees every field."""

    class Overriding(FastExecutor):
        def complete_value(self, *args: Any, **kwargs: Any) -> Any:
            return super().complete_value(*args, **kwargs)

    schema = toy.build(FastExecutor)._schema
    document = parse("{ plain { text } }")
    fast = FastExecutor.build(schema, document)
    overriding = Overriding.build(schema, document)
    assert isinstance(fast, FastExecutor)
    assert isinstance(overriding, Overriding)
    assert fast._inline
    assert not overriding._inline
