"""Automatic persisted queries (APQ): documents clients registered under their sha256, bounded.

Apollo's APQ protocol lets a client send a document's sha256 instead of its text; the first
time, the gateway answers ``PERSISTED_QUERY_NOT_FOUND`` and the client sends text and hash
together, which the gateway checks and keeps (:mod:`graph.server.policy_extension` decides
what is kept: only documents that passed the guardrails and ran). This store is a *cache*,
not a registry: a document it has forgotten -- expired, evicted, or Redis away -- costs one
round trip more (the client resends the text), never a failed request. So it is bounded every
way, and fails by raising :class:`~graph.stores.idempotency.StoreUnavailable` rather than
waiting.

- A document is kept only under its own sha256 (hex, of its UTF-8 text), so nobody can make a
  hash name another document; one larger than ``max_bytes`` (16 KiB, the guardrails' largest
  document) is not kept.
- :class:`RedisDocuments`: one key per document, ``{prefix}apq:{sha256}``, kept ``ttl`` seconds
  after its last use (``GETEX`` slides it), shared by every gateway process; Redis's own
  ``maxmemory`` policy bounds the total. A call waits at most ``timeout`` seconds.
- :class:`MemoryDocuments`: the embedded default, an LRU of at most ``max_entries`` documents
  (at most ``max_entries * max_bytes`` bytes), with the same ``ttl``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .idempotency import StoreUnavailable

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "DocumentStore",
    "MemoryDocuments",
    "RedisDocuments",
]

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES: Final = 16 * 1024  # graph.server.guardrails.MAX_DOCUMENT_CHARS, in bytes
KEEP_SECONDS: Final = 24 * 3600.0  # after a document's last use
MAX_ENTRIES: Final = 1_000  # in memory: at most ~16 MiB
REDIS_TIMEOUT: Final = 0.5  # seconds; then the client is asked for the full document


def _check(sha256: str, document: str) -> bytes:
    encoded = document.encode("utf-8")
    if hashlib.sha256(encoded).hexdigest() != sha256:
        raise ValueError("a document is kept only under its own sha256")
    return encoded


class DocumentStore(Protocol):
    async def get(self, sha256: str) -> str | None:
        """The document registered under ``sha256``, if still kept."""
        ...

    async def put(self, sha256: str, document: str) -> bool:
        """Keep ``document`` (whose sha256 must be ``sha256``); False when it is too large."""
        ...


class MemoryDocuments:
    """One process's documents, least recently used evicted first. ``clock`` is for tests."""

    def __init__(
        self,
        max_entries: int = MAX_ENTRIES,
        max_bytes: int = MAX_DOCUMENT_BYTES,
        ttl: float = KEEP_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries, self.max_bytes, self.ttl, self.clock = max_entries, max_bytes, ttl, clock
        self._entries: OrderedDict[str, tuple[str, float]] = OrderedDict()  # sha -> (doc, until)

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, sha256: str) -> str | None:
        entry = self._entries.get(sha256)
        if entry is None:
            return None
        now = self.clock()
        if entry[1] <= now:
            del self._entries[sha256]
            return None
        self._entries[sha256] = (entry[0], now + self.ttl)
        self._entries.move_to_end(sha256)
        return entry[0]

    async def put(self, sha256: str, document: str) -> bool:
        if len(_check(sha256, document)) > self.max_bytes:
            return False
        self._entries[sha256] = (document, self.clock() + self.ttl)
        self._entries.move_to_end(sha256)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return True


class RedisDocuments:
    """Documents in Redis, under ``{prefix}apq:``, shared by every gateway process using it."""

    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str = "csm:",
        max_bytes: int = MAX_DOCUMENT_BYTES,
        ttl: float = KEEP_SECONDS,
        timeout: float = REDIS_TIMEOUT,
    ) -> None:
        self.client = client
        self.prefix = prefix + "apq:"
        self.max_bytes = max_bytes
        self.ttl_ms = int(ttl * 1000)
        self.timeout = timeout
        self._down = False  # logged once per outage, not once per request

    async def get(self, sha256: str) -> str | None:
        raw = await self._call(self.client.getex(self.prefix + sha256, px=self.ttl_ms))
        if raw is None:
            return None
        return raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)

    async def put(self, sha256: str, document: str) -> bool:
        encoded = _check(sha256, document)
        if len(encoded) > self.max_bytes:
            return False
        await self._call(self.client.set(self.prefix + sha256, encoded, px=self.ttl_ms))
        return True

    async def _call(self, awaitable: Awaitable[Any]) -> Any:
        try:
            async with asyncio.timeout(self.timeout):
                result = await awaitable
        except (RedisError, OSError, TimeoutError) as exc:
            if not self._down:
                log.warning("persisted queries: Redis unavailable (%s); clients resend documents",
                            exc or type(exc).__name__)  # fmt: skip
            self._down = True
            raise StoreUnavailable(str(exc) or type(exc).__name__) from exc
        if self._down:
            log.warning("persisted queries: Redis is back")
            self._down = False
        return result
