"""The response cache's rules, without a server: which fields are public catalogue data,
which documents are cacheable, how entries and keys are written."""

from __future__ import annotations

import dataclasses

import pytest
from graphql import GraphQLObjectType, GraphQLSchema, get_named_type, is_leaf_type, parse

from graph.auth.policy import PUBLIC_FIELDS
from graph.observability import Metrics
from graph.schema import build_schema
from graph.server.response_cache import (
    CACHEABLE_ROOTS,
    Entry,
    Operation,
    ResponseCache,
    cacheable,
    catalogue_fields,
)
from graph.settings import Settings, SettingsError

# What a cacheable document may select. A field added to a catalogue type lands here only once
# someone has decided that its answer is the same for every caller: update this set then.
CATALOGUE_FIELDS = frozenset({
    "Query.productOfferings",
    "ProductOfferingConnection.edges", "ProductOfferingConnection.pageInfo",
    "ProductOfferingConnection.totalCount",
    "ProductOfferingEdge.cursor", "ProductOfferingEdge.node",
    "PageInfo.endCursor", "PageInfo.hasNextPage", "PageInfo.hasPreviousPage",
    "PageInfo.startCursor",
    "ProductOffering.categories", "ProductOffering.description", "ProductOffering.id",
    "ProductOffering.isBundle", "ProductOffering.isSellable", "ProductOffering.lifecycleStatus",
    "ProductOffering.name", "ProductOffering.prices", "ProductOffering.reference",
    "ProductOffering.validFrom", "ProductOffering.validUntil",
    "Category.description", "Category.id", "Category.name", "Category.reference",
    "OfferingPrice.description", "OfferingPrice.id", "OfferingPrice.name", "OfferingPrice.price",
    "OfferingPrice.priceType", "OfferingPrice.recurringChargePeriod", "OfferingPrice.reference",
    "Money.amount", "Money.currency",
})  # fmt: skip


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema()._schema


def test_the_catalogue_fields_are_the_reviewed_ones(schema: GraphQLSchema) -> None:
    assert catalogue_fields(schema) == CATALOGUE_FIELDS
    assert CACHEABLE_ROOTS <= PUBLIC_FIELDS


def test_caller_dependent_fields_are_left_out(schema: GraphQLSchema) -> None:
    """Were a customer's fields made roots, the walk would still leave out what can differ
    between callers: permission classes, masking, assurance above the lowest, abstract types."""
    customer = schema.get_type("Customer")
    assert isinstance(customer, GraphQLObjectType)
    fields = catalogue_fields(schema, frozenset(f"Customer.{n}" for n in customer.fields))
    assert "Customer.reference" in fields
    assert "Person.birthDate" not in fields  # "substantial" (FIELD_ASSURANCE)
    assert "Customer.usage" not in fields
    definitions = {
        f"{t.name}.{n}": f.extensions.get("strawberry-definition")
        for t in schema.type_map.values()
        if isinstance(t, GraphQLObjectType)
        for n, f in t.fields.items()
    }
    masked = {c for c, d in definitions.items() if getattr(d, "extensions", None)}
    guarded = {c for c, d in definitions.items() if getattr(d, "permission_classes", None)}
    assert masked & {c for c in definitions if c.startswith(("Customer.", "Person."))}
    assert guarded
    assert not (masked | guarded) & fields
    for coordinate in fields:
        type_name, _, name = coordinate.partition(".")
        parent = schema.get_type(type_name)
        assert isinstance(parent, GraphQLObjectType)
        named = get_named_type(parent.fields[name].type)
        assert isinstance(named, GraphQLObjectType) or is_leaf_type(named), coordinate


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("{ productOfferings { totalCount } }", True),
        ("query Q($n: Int) { a: productOfferings(first: $n) { edges { node { name prices {"
         " price { amount } } categories { name } } } pageInfo { endCursor } } __typename }", True),
        ("fragment F on ProductOffering { name } { productOfferings { edges { node { ...F"
         " ... on ProductOffering { id } } } } }", True),
        ("{ productOfferings { totalCount } me { name } }", False),
        ("query($x: Boolean = false) { productOfferings { totalCount } me @include(if: $x)"
         " { name } }", False),
        ("query($x: Boolean = true) { productOfferings { totalCount } me @skip(if: $x)"
         " { name } }", False),
        # a fragment that no operation spreads still counts: every field in the document does
        ("fragment Mine on Query { me { name } } { productOfferings { totalCount } }", False),
        ("{ productOfferings { edges { node { ... on Node { id } } } } }", False),
        ("{ productOfferings { totalCount } __schema { queryType { name } } }", False),
        ("{ productOfferings { totalCount } __type(name: \"Query\") { name } }", False),
        ("{ quoteProductOrder(input: {items: []}) { errors { code } } }", False),
        ("{ __typename }", True),
        ("mutation { __typename }", False),
        ("subscription { __typename }", False),
        ("{ productOfferings { totalCount } } mutation M { __typename }", False),
    ],
)  # fmt: skip
def test_cacheable_documents(schema: GraphQLSchema, document: str, expected: bool) -> None:
    assert cacheable(schema, parse(document), CATALOGUE_FIELDS) is expected


def test_an_entry_reads_back_as_written() -> None:
    entry = Entry(1_700_000_000_123, 7, 4242, b'{"data":{"x":"a\\nb"}}\n')
    assert Entry.decode(entry.encode()) == entry
    for raw in (b"", b"{}", b"1 2\n{}", b"1 2 x\n{}", b"1 2 3 4\n{}", b"-1 2 3\n{}"):
        assert Entry.decode(raw) is None, raw


def cache(**overrides: object) -> ResponseCache:
    settings = dataclasses.replace(Settings(), **overrides)  # type: ignore[arg-type]
    return ResponseCache(build_schema()._schema, settings, Metrics())


def test_keys_follow_the_operation_and_canonical_variables() -> None:
    one = cache()
    base = Operation("ab" * 32, None, "Q", {"b": 1, "a": [1, {"y": 2, "x": 1}]}, False)
    same = dataclasses.replace(base, variables={"a": [1, {"x": 1, "y": 2}], "b": 1})
    assert one.key(base) == one.key(same)
    others = [
        dataclasses.replace(base, variables={"b": 2, "a": [1, {"y": 2, "x": 1}]}),
        dataclasses.replace(base, variables={}),
        dataclasses.replace(base, operation_name=None),
        dataclasses.replace(base, operation_name=""),
        dataclasses.replace(base, document_id="cd" * 32),
    ]
    keys = {one.key(o) for o in others}
    assert len(keys) == len(others)
    assert one.key(base) not in keys
    # Another page size is another version: no answer is shared across it.
    assert cache(max_page_size=50).key(base) != one.key(base)
    # A number orjson cannot write is never cached rather than cached wrongly.
    assert one.key(dataclasses.replace(base, variables={"n": 2**70})) == ""


@pytest.mark.parametrize(
    ("value", "seconds"), [(None, 60.0), ("", 60.0), ("30", 30.0), ("0.5", 0.5), ("0", 0.0)]
)
def test_the_ttl_setting(value: str | None, seconds: float) -> None:
    env = {} if value is None else {"CSM_RESPONSE_CACHE_TTL": value}
    assert Settings.from_env(env).response_cache_ttl == seconds


@pytest.mark.parametrize("value", ["-1", "soon", "nan", "inf"])
def test_a_bad_ttl_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match="CSM_RESPONSE_CACHE_TTL"):
        Settings.from_env({"CSM_RESPONSE_CACHE_TTL": value})
