"""Stale-if-error, in the response: which fields show data the cache served past its TTL.

When a backend is unavailable, the entity cache (:mod:`graph.sources.cached`) may answer
with its last known good records instead of failing the fields that need them. The client
must be told: the response's ``extensions.stale`` lists each field whose resolver got stale
data, with the resource and the data's age::

    "extensions": {"stale": [{"path": ["me", "billingAccounts", 0, "bills"],
                              "resource": "customerBill", "ageSeconds": 95}]}

How a path is known: :class:`StaleAwareExecution` gives each field with an async resolver
its own list in a context variable while the resolver runs (the resolver runs in the task
that completes the field); the loaders and the cache append to the list of the field that
loads (:func:`graph.sources.cached.note_stale`); the executor then files the field's path.
That costs a little per async field and per load, so the schema's executor tracks stale data
only where stale data can be served: :func:`tracking_stale` adds the tracking to an executor
class when the entity cache has a stale-if-error window.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLOutputType, GraphQLResolveInfo
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from graph.sources.cached import StaleRead, stale_reads

__all__ = ["StaleAwareExecution", "StaleDataNotice", "tracking_stale"]

_STALE = stale_reads()
_TRACKING: dict[type[Any], type[Any]] = {}


class StaleAwareExecution(StrawberryGraphQLCoreExecutionContext):
    """Files the path of every field whose resolver got stale data (see the module)."""

    async def complete_awaitable_value(
        self,
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        reads: list[StaleRead] = []
        token = _STALE.set(reads)
        try:
            resolved = await self.with_abort_signal(result)
        except Exception as raw_error:
            _STALE.reset(token)
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
        _STALE.reset(token)
        if reads:
            _file(self.context_value, path, reads)
        try:
            completed = self.complete_value(
                return_type, field_details_list, info, path, resolved, position_context
            )
            if self.is_awaitable(completed):
                completed = await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            completed = None
        return completed


def _file(context: Any, path: Path, reads: list[StaleRead]) -> None:
    notes = getattr(context, "stale", None)
    if notes is None:
        return
    by_resource: dict[str, float] = {}
    for read in reads:
        by_resource[read.resource] = max(read.age, by_resource.get(read.resource, 0.0))
    for resource, age in by_resource.items():
        notes.append({"path": path.as_list(), "resource": resource, "ageSeconds": round(age, 1)})


def tracking_stale(executor: type[Any]) -> type[Any]:
    """``executor`` with :class:`StaleAwareExecution` in front (one class per executor)."""
    made = _TRACKING.get(executor)
    if made is None:
        name = "StaleAware" + executor.__name__
        made = _TRACKING[executor] = type(name, (StaleAwareExecution, executor), {})
    return made


class StaleDataNotice(SchemaExtension):
    """Adds ``extensions.stale`` to a response that carries stale data."""

    def get_results(self) -> dict[str, Any]:
        context = self.execution_context.context
        notes = getattr(context, "stale", None)
        if not notes:
            return {}
        notes.sort(key=lambda n: [str(p) for p in n["path"]])
        return {"stale": list(notes)}
