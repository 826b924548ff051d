"""The declarations the plan rests on: complete for every query, and naming real TMF
attributes -- a misspelt attribute would be asked for, never sent, and its field come back
null."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterator
from typing import cast

import pytest
from graphql import (
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
)

from graph.sandbox.tmf_model import MODEL
from graph.schema import build_schema
from graph.schema.projection import TypeReads, declared
from graph.sources import Sources, TmfClient


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema()._schema


def reachable_from_queries(schema: GraphQLSchema) -> Iterator[GraphQLObjectType]:
    """Every object type a query can reach (not mutations' or subscriptions' own)."""
    assert schema.query_type is not None
    seen: set[str] = set()
    pending: list[GraphQLObjectType] = [schema.query_type]
    while pending:
        current = pending.pop()
        if current.name in seen or current.name.startswith("__"):
            continue
        seen.add(current.name)
        yield current
        for graphql_field in current.fields.values():
            named = get_named_type(graphql_field.type)
            if isinstance(named, GraphQLObjectType):
                pending.append(named)
            elif isinstance(named, GraphQLInterfaceType | GraphQLUnionType):
                pending.extend(schema.get_possible_types(named))


def attributes_of(resource: str) -> frozenset[str]:
    """What the TMF specification lets a record of ``resource`` hold (subtypes included)."""
    model = MODEL[resource]
    return frozenset(model["properties"]) | {
        attribute for subtype in model["subtypes"].values() for attribute in subtype
    }


def test_every_resolver_a_query_reaches_says_what_it_reads(schema: GraphQLSchema) -> None:
    undeclared: list[str] = []
    for graphql_type in reachable_from_queries(schema):
        declaration = declared(graphql_type)
        for name, graphql_field in graphql_type.fields.items():
            definition = graphql_field.extensions["strawberry-definition"]
            if definition.base_resolver is None:
                continue
            if declaration is None or definition.python_name not in declaration.fields:
                undeclared.append(f"{graphql_type.name}.{name}")
    assert undeclared == []


def declarations(schema: GraphQLSchema) -> Iterator[tuple[GraphQLObjectType, TypeReads]]:
    for graphql_type in reachable_from_queries(schema):
        declaration = declared(graphql_type)
        if declaration is not None:
            yield graphql_type, declaration


def test_declared_resources_are_the_gateways_resources(schema: GraphQLSchema) -> None:
    read = {
        resource
        for _, declaration in declarations(schema)
        for resource in (
            declaration.resource,
            *(j for r in declaration.fields.values() for j in r.joins),
        )
        if resource is not None
    }
    clients: defaultdict[str, TmfClient] = defaultdict(lambda: cast(TmfClient, None))
    sources = Sources.on(clients)
    names = {getattr(sources, f.name).resource for f in dataclasses.fields(Sources)}
    assert read <= names, read - names


def test_every_attribute_asked_for_is_a_tmf_attribute(schema: GraphQLSchema) -> None:
    wrong: list[str] = []
    for graphql_type, declaration in declarations(schema):
        resource = declaration.resource
        for name, graphql_field in graphql_type.fields.items():
            definition = graphql_field.extensions["strawberry-definition"]
            found = declaration.fields.get(definition.python_name)
            asked = found.attrs if found is not None else ()
            if found is None and definition.base_resolver is None and resource is not None:
                asked = (name,)  # the default: the attribute named like the field
            if resource is not None:
                wrong += [f"{graphql_type.name}.{name}: {a}" for a in asked
                          if a not in attributes_of(resource)]  # fmt: skip
            for other, attributes in found.joins.items() if found is not None else ():
                wrong += [f"{graphql_type.name}.{name}: {other}.{a}" for a in attributes or ()
                          if a not in attributes_of(other)]  # fmt: skip
        if resource is not None:
            wrong += [f"{graphql_type.name}: {a}" for a in declaration.always
                      if a not in attributes_of(resource)]  # fmt: skip
    assert wrong == []


def test_every_type_built_from_a_resource_is_declared(schema: GraphQLSchema) -> None:
    """A Node type is built from a record: without a declaration its fields would read
    nothing and its resource would go unprojected -- or worse, under-projected."""
    missing = [
        t.name
        for t in reachable_from_queries(schema)
        if "Node" in {i.name for i in t.interfaces} and declared(t) is None
    ]
    assert missing == []
