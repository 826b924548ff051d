"""Broadcast between gateway processes: what one replica publishes, every replica receives.

Used for backend events (:mod:`graph.events`): whichever replica a backend's notification
reaches publishes it once (:meth:`Broadcast.publish_once`, deduplicated by the event's id
across replicas), and every replica's :meth:`Broadcast.messages` yields it to its local
subscribers. Redis pub/sub in production; in memory (one process) in the embedded default.

Redis pub/sub is fire-and-forget: a replica disconnected from Redis misses what is published
meanwhile. :meth:`RedisBroadcast.messages` reconnects by itself with backoff and yields
:data:`GAP` once it is back, so subscribers can be told that events may have been missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Final, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .idempotency import StoreUnavailable

__all__ = ["GAP", "Broadcast", "MemoryBroadcast", "RedisBroadcast"]

log = logging.getLogger(__name__)

GAP: Final = b""  # yielded by messages() after a reconnection: something may have been missed
SEEN_SECONDS: Final = 600.0  # how long an event id is remembered for deduplication


class Broadcast(Protocol):
    async def publish_once(self, message_id: str, payload: bytes) -> bool:
        """Publish ``payload`` unless ``message_id`` was published in the last
        :data:`SEEN_SECONDS` (by any replica); False when it was."""
        ...

    def messages(self) -> AsyncIterator[bytes]:
        """Everything published from now on, until the broadcast closes."""
        ...


class MemoryBroadcast:
    """One process: publishing hands the payload to every local reader."""

    def __init__(self, seen_seconds: float = SEEN_SECONDS, max_seen: int = 100_000) -> None:
        self.seen_seconds = seen_seconds
        self.max_seen = max_seen
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._readers: set[asyncio.Queue[bytes | None]] = set()

    async def publish_once(self, message_id: str, payload: bytes) -> bool:
        now = time.monotonic()
        while self._seen and (
            next(iter(self._seen.values())) <= now or len(self._seen) > self.max_seen
        ):
            self._seen.popitem(last=False)
        if message_id in self._seen:
            return False
        self._seen[message_id] = now + self.seen_seconds
        for reader in self._readers:
            reader.put_nowait(payload)
        return True

    async def messages(self) -> AsyncIterator[bytes]:
        reader: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._readers.add(reader)
        try:
            while (payload := await reader.get()) is not None:
                yield payload
        finally:
            self._readers.discard(reader)

    def close(self) -> None:
        for reader in self._readers:
            reader.put_nowait(None)


# KEYS[1] the event id's key; ARGV: seconds to remember it, the channel, the payload.
_PUBLISH_ONCE: Final = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0
"""


class RedisBroadcast:
    """Every replica on one Redis channel; event ids deduplicated with ``SET NX EX``."""

    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str = "csm:",
        seen_seconds: float = SEEN_SECONDS,
        retry_seconds: float = 0.5,
        max_retry_seconds: float = 5.0,
    ) -> None:
        self.client = client
        self.channel = prefix + "events"
        self.seen_prefix = prefix + "event:"
        self.seen_seconds = int(seen_seconds)
        self.retry_seconds = retry_seconds
        self.max_retry_seconds = max_retry_seconds
        self._closed = asyncio.Event()
        self._publish_once = client.register_script(_PUBLISH_ONCE)

    async def publish_once(self, message_id: str, payload: bytes) -> bool:
        # One script: the id is marked seen only together with the publication, so an event
        # whose publication failed is published when the backend delivers it again.
        try:
            first = await self._publish_once(
                keys=[self.seen_prefix + message_id],
                args=[self.seen_seconds, self.channel, payload],
            )
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(str(exc)) from exc
        return bool(first)

    async def messages(self) -> AsyncIterator[bytes]:
        delay = self.retry_seconds
        interrupted = False  # lost, or never reached: what was published meanwhile is missed
        while not self._closed.is_set():
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                if interrupted:
                    log.warning("event broadcast: reconnected to Redis; events may be missed")
                    yield GAP
                interrupted = False
                delay = self.retry_seconds
                while not self._closed.is_set():
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and isinstance(message.get("data"), bytes):
                        yield message["data"]
            except (RedisError, OSError) as exc:
                interrupted = True
                log.error("event broadcast: Redis lost (%s); retrying in %.1fs", exc, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closed.wait(), delay)
                delay = min(delay * 2, self.max_retry_seconds)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def close(self) -> None:
        self._closed.set()
