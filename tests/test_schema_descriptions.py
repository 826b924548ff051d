"""Every type, field, argument and enum value of the schema says what it is."""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLUnionType,
)

from graph.schema import build_schema

BUILT_IN = {"Query", "Mutation", "Subscription"}


def test_every_type_field_argument_and_enum_value_has_a_description() -> None:
    schema = build_schema()._schema
    missing: list[str] = []
    for name, kind in schema.type_map.items():
        if name.startswith("__") or not isinstance(
            kind,
            GraphQLObjectType
            | GraphQLInterfaceType
            | GraphQLUnionType
            | GraphQLEnumType
            | GraphQLInputObjectType,
        ):
            continue
        if not kind.description and name not in BUILT_IN:
            missing.append(name)
        if isinstance(kind, GraphQLEnumType):
            continue
        if isinstance(kind, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in kind.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                for arg_name, arg in field.args.items():
                    if not arg.description:
                        missing.append(f"{name}.{field_name}({arg_name})")
    assert not missing, f"{len(missing)} undocumented: {missing[:40]}"
