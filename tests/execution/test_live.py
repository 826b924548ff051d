"""With the optimizations on, subscription events still run in their own delivery's context
(LiveExecutor), on the fast path, each with plans of its own."""

from __future__ import annotations

from typing import Any

from graphql import parse
from strawberry.extensions import SchemaExtension

from graph.execution.live import FastLiveExecutor
from graph.resolvers.live import Delivery
from graph.schema import build_schema


def test_an_event_runs_in_its_delivery_context_with_its_own_plans() -> None:
    schema = build_schema(optimizations=True)
    document = parse("subscription { billIssued { id billNo } }")
    connection: Any = object()
    executor = FastLiveExecutor.build(schema._schema, document, context_value=connection)
    assert isinstance(executor, FastLiveExecutor)
    assert executor._inline

    value, context = object(), object()
    event = executor.build_per_event_executor(Delivery(value, context))  # type: ignore[arg-type]
    assert isinstance(event, FastLiveExecutor)
    assert event.root_value is value
    assert event.context_value is context
    assert event._plans is not executor._plans
    assert event._inline

    plain = executor.build_per_event_executor(value)
    assert plain.root_value is value
    assert plain.context_value is connection


def test_no_schema_extension_of_ours_hooks_resolve() -> None:
    """A ``resolve`` hook becomes graphql-core middleware, which must see every field: the
    fast path would then be off for every operation (FastExecutor checks at run time). Give
    such a hook to the fields it needs, or make it an executor concern."""
    hooking = [
        type(extension).__name__
        for extension in build_schema(optimizations=True).get_extensions()
        if type(extension).resolve is not SchemaExtension.resolve
    ]
    assert hooking == []
