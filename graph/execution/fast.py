"""An executor completing plain attribute fields inline, with graphql-core's exact answers.

graphql-core's ``execute_field`` costs a ``GraphQLResolveInfo``, a resolver call through
strawberry's wrapper and a recursive ``complete_value`` per field, for every object of every
list: a customer-360 runs ~270 fields per operation, ~230 of them plain attributes of the
objects resolvers built (:mod:`graph.execution.fields`). :class:`FastExecutor` overrides
``execute_fields`` to complete those inline -- ``get(source)``, then the scalar's or enum's
``coerce_output_value``, or straight into an object's sub-selection, or item by item for a
list of those -- and hands every other field to graphql-core unchanged.

Exactly equivalent by construction: the inline steps are graphql-core's own, in its order
(null checks, ``complete_leaf_value``, strawberry's ``is_type_of``, errors located by
``handle_field_error`` at the field's or the item's path, so null propagation is untouched);
anything out of the ordinary -- an awaitable or an exception as a value, an iterable that is
not a list, an abstract type -- builds the resolve info and goes on in graphql-core's
``complete_value``. Schema extensions hooking ``resolve`` become graphql-core middleware,
which must see every field: with any, the whole operation takes the stock path.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, cast

from graphql import GraphQLObjectType, GraphQLOutputType, GraphQLResolveInfo
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.execution.executor import (
    Executor,
    collect_iterator_awaitables,
    invalid_return_type_error,
    to_nodes,
)
from graphql.pyutils import AwaitableOrValue, Path, Undefined, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from graph.execution.fields import BasicField, Shape, TypeFields, basic_fields

__all__ = ["FastExecutor"]

# What the inline completion stands in for: a subclass overriding one of them (to see every
# field, or every value) gets the stock path instead.
BYPASSED = ("execute_field", "complete_value", "complete_object_value", "build_resolve_info")

# Lists completed inline: exactly these types (graphql-core takes any iterable, and async ones).
_LISTS = (list, tuple)

# "Not inline after all": the value goes on to graphql-core's complete_value.
_STOCK: Any = object()

# One entry per response key of a grouped field set: the field inline, or None (stock path).
Plan = list[tuple[str, FieldDetailsList, BasicField | None]]


class FastExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, completing basic fields inline."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        # Middleware (a schema extension's ``resolve``) must see every field.
        self._inline = (manager is None or not manager.middlewares) and _stock_completion(
            type(self)
        )
        self._fields: TypeFields = basic_fields(self.schema)
        # Plans per grouped field set of this operation, shared with the sub-executors and
        # per-event executors (shallow copies): graphql-core memoizes the grouped field set
        # of a selection per type, so every object of a list reuses one plan. The set is
        # kept alive with its plan, so that its id cannot be reused meanwhile.
        self._plans: dict[int, tuple[GroupedFieldSet, GraphQLObjectType, Plan]] = {}

    def build_per_event_executor(self, payload: Any) -> Any:
        """Each event of a subscription collects its fields afresh: its plans are its own,
        not kept for the subscription's lifetime."""
        executor = cast("FastExecutor", super().build_per_event_executor(payload))
        executor._plans = {}
        return executor

    def _plan(self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet) -> Plan:
        fields = self._fields.get(parent_type.name, {})
        plan: Plan = []
        for response_name, field_details_list in grouped_field_set.items():
            node = field_details_list[0].node
            # Arguments on a field that takes none, and @stream (not in our schema, so only
            # in documents that failed validation), are left to graphql-core.
            stock = node.arguments or any(d.name.value == "stream" for d in node.directives or ())
            basic = None if stock else fields.get(node.name.value)
            plan.append((response_name, field_details_list, basic))
        self._plans[id(grouped_field_set)] = (grouped_field_set, parent_type, plan)
        return plan

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        """graphql-core's ``execute_fields``, with basic fields completed inline."""
        if not self._inline:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        append_awaitable = awaitable_fields.append
        planned = self._plans.get(id(grouped_field_set))
        if planned is not None and planned[0] is grouped_field_set and planned[1] is parent_type:
            plan = planned[2]
        else:
            plan = self._plan(parent_type, grouped_field_set)
        try:
            for response_name, field_details_list, basic in plan:
                if basic is None:
                    result = self.execute_field(
                        parent_type,
                        source_value,
                        field_details_list,
                        Path(path, response_name, parent_type.name),
                        position_context,
                    )
                    if result is Undefined:
                        continue
                else:
                    result = self.execute_basic_field(
                        basic,
                        parent_type,
                        source_value,
                        field_details_list,
                        path,
                        response_name,
                        position_context,
                    )
                results[response_name] = result
                if is_awaitable(result):
                    append_awaitable(response_name)
        except Exception:
            if awaitable_fields:
                # As graphql-core: the other fields' awaitables are settled, as they may fail.
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise

        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                field = awaitable_fields[0]
                results[field] = await results[field]
            else:
                awaited_results = await gather_with_cancel(
                    *(results[field] for field in awaitable_fields)
                )
                results.update(zip(awaitable_fields, awaited_results, strict=True))
            return results

        return get_results()

    def execute_basic_field(
        self,
        basic: BasicField,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        parent_path: Path | None,
        response_name: str,
        position_context: Any,
    ) -> Any:
        """``execute_field`` of a basic field: its value and, for leaves, objects and lists of
        them, its completion inline; its path is made only when needed (errors, sub-fields)."""
        path: Path | None = None
        shape = basic.shape
        completed: Any
        try:
            value = basic.get(source)
            if value is None or value is Undefined:
                if shape.non_null:
                    raise TypeError(basic.null_message)
                return None
            if not self.is_awaitable(value) and not isinstance(value, Exception):
                if shape.leaf is not None:
                    return self.complete_leaf_value(shape.leaf, value)
                if shape.object_type is not None:
                    path = Path(parent_path, response_name, parent_type.name)
                    completed = self.complete_basic_object(
                        shape, field_details_list, path, value, position_context
                    )
                elif shape.item is not None and type(value) in _LISTS:
                    path = Path(parent_path, response_name, parent_type.name)
                    completed = self.complete_basic_list(
                        basic, shape.item, parent_type, field_details_list, path, value,
                        position_context,
                    )  # fmt: skip
                else:
                    completed = _STOCK
                if completed is not _STOCK:
                    if self.is_awaitable(completed):
                        return self.await_basic_field(
                            completed, shape.type, field_details_list, cast("Path", path)
                        )
                    return completed
        except Exception as raw_error:
            if path is None:
                path = Path(parent_path, response_name, parent_type.name)
            self.handle_field_error(raw_error, shape.type, field_details_list, path)
            return None
        # Outside the handler above: graphql-core locates this field's errors itself.
        return self.complete_basic_field(
            basic, parent_type, field_details_list, parent_path, response_name, value,
            position_context,
        )  # fmt: skip

    def complete_basic_object(
        self,
        shape: Shape,
        field_details_list: FieldDetailsList,
        path: Path,
        value: Any,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        """graphql-core's ``complete_object_value``, its type check without the info."""
        object_type = cast("GraphQLObjectType", shape.object_type)
        if shape.type_check is not None and not shape.type_check(value, None):
            raise invalid_return_type_error(object_type, value, field_details_list)
        return self.collect_and_execute_subfields(
            object_type, field_details_list, path, value, position_context
        )

    def complete_basic_list(
        self,
        basic: BasicField,
        item: Shape,
        parent_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        path: Path,
        items: list[Any] | tuple[Any, ...],
        position_context: Any,
    ) -> AwaitableOrValue[list[Any]]:
        """graphql-core's ``complete_iterable_value`` (no ``@stream`` in our schema) for a
        list of leaves or objects: each item completed inline, its errors located at its
        index; an awaitable item goes to graphql-core with the field's resolve info."""
        is_awaitable = self.is_awaitable
        completed_results: list[Any] = []
        append_completed = completed_results.append
        awaitable_indices: list[int] = []
        append_awaitable = awaitable_indices.append
        info: GraphQLResolveInfo[Any] | None = None
        iterator = iter(items)
        index = 0
        try:
            for value in iterator:
                item_path = path.add_key(index, None)
                if is_awaitable(value):
                    if info is None:
                        info = self.build_resolve_info(
                            basic.field_def, to_nodes(field_details_list), parent_type, path
                        )
                    append_completed(
                        self.complete_awaitable_list_item_value(
                            value, item.type, field_details_list, info, item_path,
                            position_context,
                        )
                    )  # fmt: skip
                    append_awaitable(index)
                else:
                    try:
                        completed = self.complete_basic_item(
                            basic, item, field_details_list, item_path, value, position_context
                        )
                        if is_awaitable(completed):
                            append_completed(
                                self.await_basic_field(
                                    completed, item.type, field_details_list, item_path
                                )
                            )
                            append_awaitable(index)
                        else:
                            append_completed(completed)
                    except Exception as raw_error:
                        self.handle_field_error(raw_error, item.type, field_details_list, item_path)
                        append_completed(None)
                index += 1
        except Exception:
            # As graphql-core: the rest of the items is drained, and the awaitables among
            # them and among the completed items settled in the background.
            maybe_awaitables = [completed_results[index] for index in awaitable_indices]
            maybe_awaitables.extend(collect_iterator_awaitables(iterator, is_awaitable))
            if maybe_awaitables:
                self.settle_in_background(maybe_awaitables)
            raise

        if not awaitable_indices:
            return completed_results

        async def get_completed_results() -> list[Any]:
            if len(awaitable_indices) == 1:
                index = awaitable_indices[0]
                completed_results[index] = await completed_results[index]
            else:
                awaited_results = await gather_with_cancel(
                    *(completed_results[index] for index in awaitable_indices)
                )
                for index, awaited in zip(awaitable_indices, awaited_results, strict=True):
                    completed_results[index] = awaited
            return completed_results

        return get_completed_results()

    def complete_basic_item(
        self,
        basic: BasicField,
        item: Shape,
        field_details_list: FieldDetailsList,
        item_path: Path,
        value: Any,
        position_context: Any,
    ) -> Any:
        """graphql-core's ``complete_value`` of a list item that is a leaf or an object."""
        if isinstance(value, Exception):
            raise value
        if value is None or value is Undefined:
            if item.non_null:
                raise TypeError(basic.null_message)
            return None
        if item.leaf is not None:
            return self.complete_leaf_value(item.leaf, value)
        return self.complete_basic_object(
            item, field_details_list, item_path, value, position_context
        )

    def complete_basic_field(
        self,
        basic: BasicField,
        parent_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        parent_path: Path | None,
        response_name: str,
        value: Any,
        position_context: Any,
    ) -> Any:
        """The rest of graphql-core's ``execute_field`` after the resolver returned ``value``."""
        path = Path(parent_path, response_name, parent_type.name)
        return_type = basic.shape.type
        info = self.build_resolve_info(
            basic.field_def, to_nodes(field_details_list), parent_type, path
        )
        try:
            if self.is_awaitable(value):
                return self.complete_awaitable_value(
                    return_type, field_details_list, info, path, value, position_context
                )
            completed = self.complete_value(
                return_type, field_details_list, info, path, value, position_context
            )
            if self.is_awaitable(completed):
                return self.await_basic_field(completed, return_type, field_details_list, path)
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
        return completed

    async def await_basic_field(
        self,
        completed: Awaitable[Any],
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        path: Path,
    ) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None


_STOCK_COMPLETION: dict[type[Executor[Any]], bool] = {}


def _stock_completion(executor: type[Executor[Any]]) -> bool:
    """Whether ``executor`` completes fields with graphql-core's own methods, which the
    inline completion reproduces; strawberry's ``build_resolve_info`` only adds to the info."""
    known = _STOCK_COMPLETION.get(executor)
    if known is None:
        known = _STOCK_COMPLETION[executor] = _overrides_none(executor)
    return known


def _overrides_none(executor: type[Executor[Any]]) -> bool:
    return all(
        getattr(executor, name) is getattr(StrawberryGraphQLCoreExecutionContext, name)
        for name in BYPASSED
    ) and all(
        getattr(StrawberryGraphQLCoreExecutionContext, name) is getattr(Executor, name)
        for name in BYPASSED
        if name != "build_resolve_info"
    )
