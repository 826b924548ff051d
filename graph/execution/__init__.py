"""GraphQL execution faster than graphql-core's generic path, with the same answers.

- :mod:`graph.execution.fields`: which fields of a schema are plain attributes of their
  source object (strawberry's "basic" fields) and what completing them takes;
- :mod:`graph.execution.fast`: :class:`~graph.execution.fast.FastExecutor`, completing
  those fields inline instead of through ``execute_field`` and ``complete_value``;
- :mod:`graph.execution.live`: the executor the schema uses with its optimizations on,
  the fast path under the subscriptions' :class:`~graph.schema.subscription.LiveExecutor`.
"""
