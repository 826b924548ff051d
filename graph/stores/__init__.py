"""Shared state that outlives a request: Redis in production, in-memory twins when embedded.

Each store has one interface and two implementations -- Redis, shared by every gateway
process, and an in-memory twin for the embedded default (and for one process without Redis).
:func:`open_stores` picks by configuration for the app's life.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .documents import DocumentStore, MemoryDocuments, RedisDocuments
from .entities import EntityStore, MemoryEntities, RedisEntities
from .idempotency import (
    Busy,
    Claim,
    Conflict,
    IdempotencyStore,
    MemoryIdempotency,
    RedisIdempotency,
    Replay,
    Run,
    StoreUnavailable,
)
from .pubsub import GAP, Broadcast, MemoryBroadcast, RedisBroadcast
from .ratelimit import (
    FallbackRateLimiter,
    Limit,
    MemoryRateLimiter,
    RateLimiter,
    RedisRateLimiter,
    Verdict,
)
from .redis import open_redis
from .responses import MemoryResponses, RedisResponses, ResponseStore

__all__ = [
    "GAP",
    "Broadcast",
    "Busy",
    "Claim",
    "Conflict",
    "DocumentStore",
    "EntityStore",
    "FallbackRateLimiter",
    "IdempotencyStore",
    "Limit",
    "MemoryBroadcast",
    "MemoryDocuments",
    "MemoryEntities",
    "MemoryIdempotency",
    "MemoryRateLimiter",
    "MemoryResponses",
    "RateLimiter",
    "RedisBroadcast",
    "RedisDocuments",
    "RedisEntities",
    "RedisIdempotency",
    "RedisRateLimiter",
    "RedisResponses",
    "Replay",
    "ResponseStore",
    "Run",
    "StoreUnavailable",
    "Stores",
    "Verdict",
    "open_stores",
]


@dataclass(frozen=True, slots=True)
class Stores:
    idempotency: IdempotencyStore
    broadcast: MemoryBroadcast | RedisBroadcast  # backend events, to every replica
    backend: str  # "redis" or "memory", for /readyz and the logs
    redis: aioredis.Redis | None = None
    # Rate limits: shared in Redis, this process's own while Redis does not answer.
    rate_limits: RateLimiter = field(default_factory=MemoryRateLimiter)
    # Automatic persisted queries (graph.stores.documents): a cache, so Redis down = not found.
    documents: DocumentStore = field(default_factory=MemoryDocuments)
    # The entity cache's entries (graph.sources.cached): Redis down = a miss.
    entities: EntityStore = field(default_factory=MemoryEntities)
    # Public catalogue answers (graph.server.response_cache): Redis down = a miss.
    responses: ResponseStore = field(default_factory=MemoryResponses)

    @classmethod
    def in_memory(cls) -> Stores:
        return cls(idempotency=MemoryIdempotency(), broadcast=MemoryBroadcast(), backend="memory")

    def close(self) -> None:
        """End the broadcast's readers (at shutdown)."""
        self.broadcast.close()

    async def health(self) -> str:
        """ "ok", or why the shared store cannot be used (for /readyz)."""
        if self.redis is None:
            return "ok"
        try:
            await self.redis.ping()
        except (RedisError, OSError) as exc:
            return type(exc).__name__
        return "ok"


@asynccontextmanager
async def open_stores(redis_url: str | None, prefix: str = "csm:") -> AsyncIterator[Stores]:
    """Redis-backed stores when ``redis_url`` is set, in-memory ones otherwise."""
    if not redis_url:
        stores = Stores.in_memory()
        try:
            yield stores
        finally:
            stores.close()
        return
    async with open_redis(redis_url) as client:
        stores = Stores(
            idempotency=RedisIdempotency(client, prefix),
            broadcast=RedisBroadcast(client, prefix),
            backend="redis",
            redis=client,
            rate_limits=FallbackRateLimiter(RedisRateLimiter(client, prefix)),
            documents=RedisDocuments(client, prefix),
            entities=RedisEntities(client, prefix),
            responses=RedisResponses(client, prefix),
        )
        try:
            yield stores
        finally:
            stores.close()
