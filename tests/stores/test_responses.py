"""The response store: bounded in memory (entries, bytes, entry size, expiry, LRU); in Redis
with a TTL, a near cache that never outlives the Redis key, and an outage that is a fast
``StoreUnavailable``, logged once."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from graph.stores.idempotency import StoreUnavailable
from graph.stores.responses import MemoryResponses, RedisResponses


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_keeps_until_the_ttl() -> None:
    clock = Clock()
    store = MemoryResponses(clock=clock)
    assert await store.put("k", b"answer", ttl=60)
    assert await store.get("k") == b"answer"
    clock.now += 59.9
    assert await store.get("k") == b"answer"  # a hit does not extend it
    clock.now += 0.1
    assert await store.get("k") is None
    assert (len(store), store.total_bytes) == (0, 0)
    assert await store.get("never") is None


async def test_memory_is_bounded_by_entries_bytes_and_entry_size() -> None:
    store = MemoryResponses(max_entries=3, max_total_bytes=100, max_entry_bytes=40)
    assert not await store.put("big", b"x" * 41, ttl=60)
    assert await store.get("big") is None
    for name in "abc":
        assert await store.put(name, b"x" * 10, ttl=60)
    assert await store.get("a") == b"x" * 10  # a is now the most recently used
    assert await store.put("d", b"x" * 10, ttl=60)  # four entries: b, the oldest, goes
    assert await store.get("b") is None
    assert len(store) == 3
    for name in "efg":  # 40 bytes each: the oldest go to stay within 100 bytes
        assert await store.put(name, b"y" * 40, ttl=60)
    assert store.total_bytes == 80
    assert [await store.get(k) for k in "adefg"] == [None, None, None, b"y" * 40, b"y" * 40]
    # Replacing an entry does not count it twice.
    assert await store.put("g", b"z" * 5, ttl=60)
    assert (len(store), store.total_bytes) == (2, 45)


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[tuple[aioredis.Redis, str]]:
    client = aioredis.Redis.from_url(redis_url)
    prefix = f"csm-test:{uuid.uuid4().hex}:"
    try:
        yield client, prefix
    finally:
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_redis_keeps_for_the_ttl_under_its_prefix(
    redis_client: tuple[aioredis.Redis, str],
) -> None:
    client, prefix = redis_client
    store = RedisResponses(client, prefix)
    assert await store.put("k", b"answer", ttl=30)
    assert await client.get(prefix + "resp:k") == b"answer"
    assert 29_000 < await client.pttl(prefix + "resp:k") <= 30_000
    another = RedisResponses(client, prefix)  # another process: nothing near yet
    assert await another.get("k") == b"answer"
    assert await another.get("missing") is None
    assert not await store.put("big", b"x" * (store.max_entry_bytes + 1), ttl=30)
    assert await client.exists(prefix + "resp:big") == 0


async def test_the_near_cache_never_outlives_the_redis_key(
    redis_client: tuple[aioredis.Redis, str],
) -> None:
    client, prefix = redis_client
    await client.set(prefix + "resp:k", b"answer", px=300)
    store = RedisResponses(client, prefix)
    assert await store.get("k") == b"answer"
    await client.delete(prefix + "resp:k")
    assert await store.get("k") == b"answer"  # from near: no round trip
    await asyncio.sleep(0.35)
    assert await store.get("k") is None  # the key's own lifetime is the near copy's too


async def test_redis_down_is_store_unavailable_quickly_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Nothing listens on port 1: the connection is refused.
    client = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    store = RedisResponses(client, "csm-test:", pause=0.2)
    try:
        with caplog.at_level(logging.WARNING, logger="graph.stores.responses"):
            started = time.monotonic()
            for _ in range(5):
                with pytest.raises(StoreUnavailable):
                    await store.get("k")
                with pytest.raises(StoreUnavailable):
                    await store.put("k", b"v", ttl=1)
            assert time.monotonic() - started < 1.0  # paused after the first failure
        warnings = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
        assert len(warnings) == 1
    finally:
        await client.aclose()
