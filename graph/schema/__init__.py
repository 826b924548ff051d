"""The GraphQL schema: the root composes the domain types; ``schema.graphql`` is its SDL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)

from graph.errors import ErrorCodes
from graph.schema import assurance, billing, customer, fulfillment, inventory
from graph.schema.common import NODE_KINDS
from graph.schema.mutation import Mutation
from graph.schema.projection import ProjectionPlanner
from graph.schema.query import Query
from graph.schema.release import ReleaseLoadedRecords
from graph.schema.stale import StaleDataNotice, tracking_stale
from graph.schema.subscription import LiveExecutor, Subscription

__all__ = ["build_schema"]

# A customer-360 document is ~250 tokens; trusted operations fewer.
MAX_TOKENS = 2000

DOMAINS = (customer, billing, assurance, fulfillment, inventory)


class GraphSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Logged by :class:`~graph.errors.ErrorCodes`, which knows what deserves a log
        line (internal and backend failures), not client mistakes."""


def build_schema(optimizations: bool = True, stale_tracking: bool = False) -> strawberry.Schema:
    """The schema; ``optimizations=False`` (``CSM_OPTIMIZATIONS=0``) leaves out the speed work
    -- the document caches and the fast execution path -- for the benchmark's stock
    strawberry path (bench/run.py); ``stale_tracking`` files the paths of fields answered with
    stale cached data (graph.schema.stale), for a gateway whose entity cache may serve them."""
    # graph.server imports this module (create_app builds the schema), and graph.execution
    # imports its subscription module: import at call time.
    from graph.execution.live import FastLiveExecutor
    from graph.observability.tracing import OperationTelemetry
    from graph.server.guardrails import DocumentGuard
    from graph.server.policy_extension import ChannelPolicyExtension

    node_types = [
        getattr(module, name) for module in DOMAINS for name in module.__all__ if name in NODE_KINDS
    ]
    # Parsing and validating a customer-360 document costs ~12 ms; clients send the same few
    # documents over and over, so both are cached (bounded LRU, keyed by the document text)
    # unless the optimizations are off.
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        # First: its end runs last, when errors have their codes; names the operation in logs,
        # logs it, and traces it when tracing is on (graph.observability.tracing).
        OperationTelemetry,
        ErrorCodes,
        # Before the parser cache, which parses with the token limit it sets: a huge document
        # is refused cheaply instead of parsed into a tree hundreds of times its size.
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
    ]
    if optimizations:
        extensions += [
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
            ProjectionPlanner,  # backends send only the attributes a query reads (fields=)
        ]
    # extensions.stale: which fields show stale cached data (graph.schema.stale).
    extensions.append(StaleDataNotice)
    # The operation's loaded records freed when it ends (graph.schema.release).
    extensions.append(ReleaseLoadedRecords)
    # After ValidationCache, so that its refusals replace validation's answer.
    extensions.append(ChannelPolicyExtension)
    # Document size, aliases, field selections and WebSocket rate limits, checked before
    # validation; after ValidationCache and the policy, whose answers its refusals replace.
    extensions.append(DocumentGuard)
    # A subscription event runs in its own context (LiveExecutor); with the optimizations on,
    # plain attribute fields complete inline (graph.execution.fast).
    executor = FastLiveExecutor if optimizations else LiveExecutor
    return GraphSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=node_types,
        extensions=extensions,
        execution_context_class=tracking_stale(executor) if stale_tracking else executor,
    )
