"""Which fields of a schema are plain attributes, and what completing them takes.

Most of our fields are attributes of the strawberry objects resolvers build (``Bill.bill_no``,
``Money.amount``): strawberry calls them "basic" -- no resolver, no permission classes, no
field extensions (masking), hence no arguments -- and resolves them with
``getattr(source, python_name)``, never looking at the resolve info. graphql-core still
builds a ``GraphQLResolveInfo`` for each and walks ``execute_field`` -> resolver ->
``complete_value``; :class:`~graph.execution.fast.FastExecutor` completes them inline
instead, from what this module works out once per schema.

A field is basic here only if strawberry itself wired it with its basic resolver
(``_get_basic_result``): then the resolver is known to ignore the info, and calling the
attribute getter is what strawberry would have done. Anything else -- resolvers, permission
classes, :class:`~graph.auth.masking.Masked`, exception handlers -- stays on the stock path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import Any
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.type import TypeNameMetaFieldDef
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

__all__ = ["BasicField", "Shape", "TypeFields", "basic_fields"]

# The name of strawberry's resolver for basic fields (schema_converter.from_resolver): the one
# resolver known to ignore its info. If strawberry renames it, no field is basic any more and
# tests/execution catch it (the real schema must have basic fields).
BASIC_RESOLVER = "_get_basic_result"


@dataclass(frozen=True, slots=True)
class Shape:
    """How a value of ``type`` completes inline: as a scalar or enum (``leaf``), or as an
    object type (``object_type``) whose ``is_type_of``, if any, is strawberry's own and
    ignores the info (``type_check``); a list of those (``item``). For any other type --
    interfaces, unions, lists of lists, user-defined ``is_type_of`` -- all three are None and
    completion is graphql-core's."""

    type: GraphQLOutputType
    non_null: bool
    leaf: GraphQLLeafType | None = None
    object_type: GraphQLObjectType | None = None
    type_check: Callable[..., Any] | None = None
    item: Shape | None = None


@dataclass(frozen=True, slots=True)
class BasicField:
    """A field completed inline: its value is ``get(source)``, completed as ``shape`` says."""

    name: str
    field_def: GraphQLField
    get: Callable[[Any], Any]
    shape: Shape
    # graphql-core's message for a null in a non-null field (or list item), made once
    null_message: str


# object type name -> field name -> the field, for the basic fields of that type
TypeFields = Mapping[str, Mapping[str, BasicField]]

_SCHEMAS: WeakKeyDictionary[GraphQLSchema, TypeFields] = WeakKeyDictionary()


def basic_fields(schema: GraphQLSchema) -> TypeFields:
    """The basic fields of every object type of ``schema`` (worked out on first use)."""
    found = _SCHEMAS.get(schema)
    if found is None:
        found = _SCHEMAS[schema] = {
            type_.name: _type_fields(type_)
            for type_ in schema.type_map.values()
            if isinstance(type_, GraphQLObjectType)
        }
    return found


def _type_fields(parent_type: GraphQLObjectType) -> dict[str, BasicField]:
    fields = {
        name: basic
        for name, field_def in parent_type.fields.items()
        if (basic := _basic_field(parent_type, name, field_def)) is not None
    }
    # graphql-core's own resolver of __typename answers info.parent_type.name.
    name = parent_type.name
    fields["__typename"] = _completion(
        parent_type, "__typename", TypeNameMetaFieldDef, lambda _source: name
    )
    return fields


def _basic_field(
    parent_type: GraphQLObjectType, name: str, field_def: GraphQLField
) -> BasicField | None:
    definition = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    resolve = field_def.resolve
    if (
        not isinstance(definition, StrawberryField)
        or not definition.is_basic_field
        or definition.is_subscription
        or field_def.args
        or resolve is None
        or getattr(resolve, "__name__", None) != BASIC_RESOLVER
    ):
        return None
    return _completion(parent_type, name, field_def, _getter(definition, resolve))


def _getter(definition: StrawberryField, resolve: Callable[..., Any]) -> Callable[[Any], Any]:
    """What strawberry's basic resolver computes: ``default_resolver(source, python_name)``,
    which is ``getattr`` unless the schema's config says otherwise."""
    if (
        getattr(definition, "default_resolver", None) is getattr
        and type(definition).get_result is StrawberryField.get_result
    ):
        return attrgetter(definition.python_name)
    return lambda source: resolve(source, None)  # the basic resolver ignores its info


def _completion(
    parent_type: GraphQLObjectType,
    name: str,
    field_def: GraphQLField,
    get: Callable[[Any], Any],
) -> BasicField:
    return BasicField(
        name=name,
        field_def=field_def,
        get=get,
        shape=_shape(field_def.type, items=True),
        null_message=f"Cannot return null for non-nullable field {parent_type}.{name}.",
    )


def _shape(type_: GraphQLOutputType, items: bool) -> Shape:
    non_null = is_non_null_type(type_)
    named = type_.of_type if non_null else type_  # type: ignore[union-attr]
    if is_leaf_type(named):
        return Shape(type_, non_null, leaf=named)
    if is_object_type(named):
        check = named.is_type_of
        if check is None:
            return Shape(type_, non_null, object_type=named)
        if _ignores_info(check):
            return Shape(type_, non_null, object_type=named, type_check=check)
    if items and is_list_type(named):
        item = _shape(named.of_type, items=False)
        if item.leaf is not None or item.object_type is not None:
            return Shape(type_, non_null, item=item)
    return Shape(type_, non_null)


# strawberry's is_type_of for object types implementing interfaces (schema_converter
# from_object): ``is_type_of(obj, _info)``, which never reads its info.
STRAWBERRY_IS_TYPE_OF = (
    "strawberry.schema.schema_converter",
    "GraphQLCoreConverter.from_object.<locals>._get_is_type_of.<locals>.is_type_of",
)


def _ignores_info(check: Callable[..., Any]) -> bool:
    return (getattr(check, "__module__", None), getattr(check, "__qualname__", None)) == (
        STRAWBERRY_IS_TYPE_OF
    )
