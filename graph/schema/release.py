"""Release what an operation loaded as soon as it ends, not when the collector next runs.

graphql-core's executor holds bound methods of itself (a reference cycle) and the request's
context, so everything reachable from the context -- the loaders' caches, hence every backend
record the operation loaded (megabytes for an agent's customer list) -- would otherwise wait
for the cyclic garbage collector. Clearing the loaders when the operation ends frees the records
by reference counting, and keeps the collector's work per request small.
"""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

__all__ = ["ReleaseLoadedRecords"]


class ReleaseLoadedRecords(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        loaders = getattr(self.execution_context.context, "loaders", None)
        if loaders is not None:
            loaders.clear()
