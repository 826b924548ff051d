"""TMF ``fields=`` projection: ask the backends only for the attributes an operation needs.

A bills payload shrinks to about a third when the backend sends only what the query shows
(``../shared/design.md``); decoding, caching and scoping shrink with it. This module decides,
once per validated document, which TMF attributes of each resource a query operation can
read, and hands that to the request's loaders (:meth:`graph.loaders.Loaders.project`), which
pass it as ``fields=`` on every batched request.

**What a field reads** is declared next to each schema type, with :func:`reads`: the TMF
resource a GraphQL type is built from (``Bill`` from ``customerBill``), the attributes
``from_record`` needs for every instance (``always``: the ``id`` it indexes), and per field
the attributes it is made of -- by default the attribute named like the GraphQL field
(``Bill.billNo`` -> ``billNo``). Value types nested in a record (Money, periods, contact
media) are covered by their parent field's attribute. A field with a resolver declares what
its resolver reads: attributes of its own record (the join key: ``Product.services`` ->
``realizingService``) and ``joins``, attributes of other resources it loads beyond what its
own selection needs (sort keys, filters, the accounts ``Customer.bills`` goes through), or
:data:`WHOLE` records where the resolver reads too much to list.

**The plan** walks the operation's selection set over the schema: fragments and inline
fragments are followed for every object type they can apply to, so a field of an interface
or a union (``node(id:)``, ``TicketSubject``) is planned for each of its possible types;
aliases and repeated fields add up; ``@skip``/``@include`` are ignored (a plan that holds for
every variable value is a superset of what one request needs). The result maps a resource to
the attributes to ask for; a resource it does not name is fetched whole.

**Fallbacks** (whole records, as without projection): mutations and subscriptions (actions
read records through the same loaders to check and write them); an operation name the
document does not have; any field with a resolver that declares nothing -- that resolver
might read anything of anything, so the whole operation is left unprojected. Correct beats
small.

**Keys**: the attribute a by-reference load filters on (``billingAccount`` for bills by
account) is added by the loader itself; the scope's ownership keys by
:mod:`graph.auth.scope`. Both hold whatever the plan says.

**Once per document**: strawberry's parser cache returns the same ``DocumentNode`` for the
same text, so plans are cached by that object's identity (bounded LRU; an entry keeps its
document, so an id is never reused while cached). Without the parser cache (optimizations
off) the extension is not installed at all: the stock path fetches whole records.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
)
from strawberry.extensions import SchemaExtension
from strawberry.types.base import get_object_definition

from graph.loaders import Loaders, Projection
from graph.schema.memo import DocumentMemo

__all__ = [
    "WHOLE",
    "Projection",
    "ProjectionPlanner",
    "Reads",
    "TypeReads",
    "declared",
    "plan",
    "plan_for",
    "reads",
]

WHOLE: Final = None  # in ``joins``: the resolver reads whole records of that resource
_DEFINITION: Final = "strawberry-definition"
MAX_PLANS: Final = 256  # documents whose plans are kept (the parser cache keeps 256 too)


@dataclass(frozen=True, slots=True)
class Reads:
    """What one field reads: ``attrs`` of the record its type is built from, and ``joins``:
    per other resource its resolver loads, the attributes it reads of those records beyond
    what their own selection needs (:data:`WHOLE`: everything)."""

    attrs: tuple[str, ...] = ()
    joins: Mapping[str, tuple[str, ...] | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TypeReads:
    """A schema type's declaration: the resource it is built from (None: no record of its
    own, e.g. the root Query or a value type with resolver fields), what every instance
    needs, and what its fields read, by Python field name."""

    resource: str | None
    always: frozenset[str]
    fields: Mapping[str, Reads]


_DECLARED: dict[type, TypeReads] = {}


def reads(
    cls: type,
    resource: str | None,
    /,
    *,
    always: Iterable[str] = ("id",),
    **fields: str | tuple[str, ...] | Reads,
) -> None:
    """Declare what the fields of ``cls`` read (see the module). A field given as a string or
    a tuple reads those attributes of the type's own record; undeclared plain fields read the
    attribute named like their GraphQL name. Unknown field names are refused here, at import."""
    definition = get_object_definition(cls, strict=True)
    known = {f.python_name for f in definition.fields}
    unknown = set(fields) - known
    if unknown:
        raise ValueError(f"{cls.__name__}: no field {sorted(unknown)} to declare reads of")
    normalized: dict[str, Reads] = {}
    for name, given in fields.items():
        if isinstance(given, str):
            given = Reads((given,))
        elif isinstance(given, tuple):
            given = Reads(given)
        if given.attrs and resource is None:
            raise ValueError(f"{cls.__name__}.{name}: attributes of a type with no resource")
        normalized[name] = given
    _DECLARED[cls] = TypeReads(
        resource, frozenset(always) if resource is not None else frozenset(), normalized
    )


def declared(graphql_type: GraphQLNamedType) -> TypeReads | None:
    """The declaration of the strawberry type behind ``graphql_type``, if any."""
    definition = (graphql_type.extensions or {}).get(_DEFINITION)
    origin = getattr(definition, "origin", None)
    return _DECLARED.get(origin) if isinstance(origin, type) else None


class _Unplannable(Exception):
    """A field whose reads are unknown: the operation fetches whole records."""


class _Planner:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode) -> None:
        self.schema = schema
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.needs: dict[str, set[str] | None] = {}

    def need(self, resource: str, attrs: Iterable[str] | None) -> None:
        if attrs is None:
            self.needs[resource] = None
            return
        current = self.needs.setdefault(resource, set())
        if current is not None:
            current.update(attrs)

    def visit(self, graphql_type: GraphQLNamedType, selection_set: SelectionSetNode) -> None:
        if isinstance(graphql_type, GraphQLInterfaceType | GraphQLUnionType):
            for possible in self.schema.get_possible_types(graphql_type):
                self.visit_object(possible, selection_set)
        elif isinstance(graphql_type, GraphQLObjectType):
            self.visit_object(graphql_type, selection_set)

    def visit_object(
        self, graphql_type: GraphQLObjectType, selection_set: SelectionSetNode
    ) -> None:
        declaration = declared(graphql_type)
        resource = declaration.resource if declaration is not None else None
        if resource is not None and declaration is not None:
            self.need(resource, declaration.always)
        for node in self.fields_of(graphql_type, selection_set):
            name = node.name.value
            if name.startswith("__"):
                continue  # __typename; introspection reads no backend
            graphql_field = graphql_type.fields[name]
            self.field(name, graphql_field, declaration)
            if node.selection_set is not None:
                self.visit(get_named_type(graphql_field.type), node.selection_set)

    def field(self, name: str, graphql_field: GraphQLField, declaration: TypeReads | None) -> None:
        definition: Any = (graphql_field.extensions or {}).get(_DEFINITION)
        if definition is None:
            raise _Unplannable(name)
        found = declaration.fields.get(definition.python_name) if declaration else None
        resource = declaration.resource if declaration is not None else None
        if found is not None:
            if found.attrs and resource is not None:
                self.need(resource, found.attrs)
            for other, attrs in found.joins.items():
                self.need(other, attrs)
        elif definition.base_resolver is not None:
            raise _Unplannable(name)  # a resolver that says nothing of what it reads
        elif resource is not None:
            self.need(resource, (name,))

    def fields_of(
        self, graphql_type: GraphQLObjectType, selection_set: SelectionSetNode
    ) -> Iterator[FieldNode]:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is None or self.applies(condition.name.value, graphql_type):
                    yield from self.fields_of(graphql_type, selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is None:
                    raise _Unplannable(selection.name.value)
                if self.applies(fragment.type_condition.name.value, graphql_type):
                    yield from self.fields_of(graphql_type, fragment.selection_set)

    def applies(self, condition: str, graphql_type: GraphQLObjectType) -> bool:
        if condition == graphql_type.name:
            return True
        named = self.schema.get_type(condition)
        if isinstance(named, GraphQLInterfaceType | GraphQLUnionType):
            return self.schema.is_sub_type(named, graphql_type)
        return False


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name is not None and o.name.value == name), None)


def plan(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
) -> Projection | None:
    """What the operation reads, per resource; None: whole records of everything."""
    operation = _operation(document, operation_name)
    root = schema.query_type
    if operation is None or operation.operation is not OperationType.QUERY or root is None:
        return None
    planner = _Planner(schema, document)
    try:
        planner.visit_object(root, operation.selection_set)
    except _Unplannable:
        return None
    # Every record is keyed by its id (loaders, caches, from_record): always asked for.
    return {r: None if a is None else frozenset(a) | {"id"} for r, a in planner.needs.items()}


_PLANS: DocumentMemo[str | None, Projection | None] = DocumentMemo(documents=MAX_PLANS)


def plan_for(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
) -> Projection | None:
    """:func:`plan`, computed once per (schema, document object, operation name)."""
    return _PLANS.get(
        schema, document, operation_name, lambda: plan(schema, document, operation_name)
    )


class ProjectionPlanner(SchemaExtension):
    """Gives the request's loaders the operation's projection before it executes."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        loaders = getattr(context.context, "loaders", None)
        if document is not None and isinstance(loaders, Loaders):
            loaders.project(plan_for(context.schema._schema, document, context.operation_name))
        yield
