"""Whole GraphQL responses of public catalogue queries, kept a short while (a *cache*).

:mod:`graph.server.response_cache` decides what is kept and under which key; this module only
keeps bytes, bounded every way, and never makes a request fail: what it has forgotten --
expired, evicted, too large, or Redis away -- is a miss, and the query runs as usual.

- :class:`RedisResponses`: one key per response, ``{prefix}resp:{key}``, expiring ``ttl``
  seconds after it was stored (``SET PX``; a hit does not extend it: the data must not get
  older than the TTL), shared by every gateway process; Redis's ``maxmemory`` policy bounds the
  total. In front of it, a small in-memory *near* cache keeps what this process got from Redis
  until the moment Redis itself forgets it (the key's remaining ``PTTL``), so an entry is never
  served later than it would be from Redis, and a popular answer costs no round trip. A call
  waits at most ``timeout`` seconds; after a failure the store answers "miss" without asking
  Redis for ``pause`` seconds, so a Redis that hangs does not add its timeout to every
  catalogue request. Failures raise :class:`~graph.stores.idempotency.StoreUnavailable`
  (counted by the caller), logged once per outage.
- :class:`MemoryResponses`: the embedded default (and a gateway without Redis), an LRU of at
  most ``max_entries`` responses and ``max_total_bytes`` bytes, with the same expiry.

A response larger than ``max_entry_bytes`` is not kept (``put`` answers False).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .idempotency import StoreUnavailable

__all__ = [
    "MAX_ENTRIES",
    "MAX_ENTRY_BYTES",
    "MAX_TOTAL_BYTES",
    "MemoryResponses",
    "RedisResponses",
    "ResponseStore",
]

log = logging.getLogger(__name__)

# A page of 100 offerings with their prices and categories is ~60 KB.
MAX_ENTRY_BYTES: Final = 256 * 1024
MAX_ENTRIES: Final = 1_000  # in memory
MAX_TOTAL_BYTES: Final = 32 * 1024 * 1024  # in memory
NEAR_ENTRIES: Final = 256  # in front of Redis
NEAR_BYTES: Final = 8 * 1024 * 1024
REDIS_TIMEOUT: Final = 0.25  # seconds; then the query runs as if nothing was kept
REDIS_PAUSE: Final = 1.0  # seconds without asking Redis after it failed


class ResponseStore(Protocol):
    async def get(self, key: str) -> bytes | None:
        """The value kept under ``key``, if still fresh."""
        ...

    async def put(self, key: str, value: bytes, ttl: float) -> bool:
        """Keep ``value`` for ``ttl`` seconds; False when it is too large to keep."""
        ...


class MemoryResponses:
    """One process's responses, least recently used evicted first. ``clock`` is for tests."""

    def __init__(
        self,
        max_entries: int = MAX_ENTRIES,
        max_total_bytes: int = MAX_TOTAL_BYTES,
        max_entry_bytes: int = MAX_ENTRY_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.max_total_bytes = max_total_bytes
        self.max_entry_bytes = min(max_entry_bytes, max_total_bytes)
        self.clock = clock
        self._entries: OrderedDict[str, tuple[bytes, float]] = OrderedDict()  # -> (value, until)
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def total_bytes(self) -> int:
        return self._bytes

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= self.clock():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry[0]

    async def put(self, key: str, value: bytes, ttl: float) -> bool:
        if len(value) > self.max_entry_bytes:
            return False
        if key in self._entries:
            self._drop(key)
        self._entries[key] = (value, self.clock() + ttl)
        self._bytes += len(value)
        while len(self._entries) > self.max_entries or self._bytes > self.max_total_bytes:
            self._drop(next(iter(self._entries)))
        return True

    def _drop(self, key: str) -> None:
        value, _ = self._entries.pop(key)
        self._bytes -= len(value)


class RedisResponses:
    """Responses in Redis, under ``{prefix}resp:``, shared by every gateway process using it."""

    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str = "csm:",
        max_entry_bytes: int = MAX_ENTRY_BYTES,
        timeout: float = REDIS_TIMEOUT,
        pause: float = REDIS_PAUSE,
        near: MemoryResponses | None = None,
    ) -> None:
        self.client = client
        self.near = near if near is not None else MemoryResponses(NEAR_ENTRIES, NEAR_BYTES)
        self.prefix = prefix + "resp:"
        self.max_entry_bytes = max_entry_bytes
        self.timeout = timeout
        self.pause = pause
        self._down_until = 0.0  # monotonic; Redis is not asked before then
        self._down = False  # logged once per outage, not once per request

    async def get(self, key: str) -> bytes | None:
        near = await self.near.get(key)
        if near is not None:
            return near

        async def fetch() -> list[Any]:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.get(self.prefix + key)
                pipe.pttl(self.prefix + key)
                result: list[Any] = await pipe.execute()
                return result

        raw, ttl_ms = await self._call(fetch)
        if raw is None:
            return None
        value = bytes(raw)
        if isinstance(ttl_ms, int) and ttl_ms > 0:
            await self.near.put(key, value, ttl_ms / 1000)
        return value

    async def put(self, key: str, value: bytes, ttl: float) -> bool:
        if len(value) > self.max_entry_bytes:
            return False
        ttl_ms = max(1, int(ttl * 1000))
        await self._call(lambda: self.client.set(self.prefix + key, value, px=ttl_ms))
        await self.near.put(key, value, ttl)
        return True

    async def _call(self, command: Callable[[], Awaitable[Any]]) -> Any:
        if self._down and time.monotonic() < self._down_until:
            raise StoreUnavailable("Redis did not answer a moment ago")
        try:
            async with asyncio.timeout(self.timeout):
                result = await command()
        except (RedisError, OSError, TimeoutError) as exc:
            if not self._down:
                log.warning("response cache: Redis unavailable (%s); queries run uncached",
                            exc or type(exc).__name__)  # fmt: skip
            self._down = True
            self._down_until = time.monotonic() + self.pause
            raise StoreUnavailable(str(exc) or type(exc).__name__) from exc
        if self._down:
            log.warning("response cache: Redis is back")
            self._down = False
        return result
