"""The entity cache's stores: the in-memory twin and Redis behave alike."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from graph.stores import StoreUnavailable
from graph.stores.entities import EntityStore, MemoryEntities, RedisEntities, decode, encode


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, clock: Clock) -> AsyncIterator[EntityStore]:
    if request.param == "memory":
        yield MemoryEntities(max_slots=4, fence_seconds=30, clock=clock)
        return
    url = request.getfixturevalue("redis_url")
    client = aioredis.Redis.from_url(url)
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    try:
        yield RedisEntities(client, prefix, fence_seconds=30, clock=clock)
    finally:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_entries_encode_and_decode() -> None:
    assert decode(encode((12.5, b'[{"id":"a"}]'))) == (12.5, b'[{"id":"a"}]')
    assert decode(b"garbage") is None
    assert decode(b"x|[]") is None


async def test_a_stored_entry_is_found_under_its_slot_and_variant_only(
    store: EntityStore, clock: Clock
) -> None:
    await store.put_many([("bill|id=b1", "c:1|*", (clock.now, b"[1]"))], clock.now, 60)
    found = await store.get_many(
        [("bill|id=b1", "c:1|*"), ("bill|id=b1", "c:2|*"), ("bill|id=b2", "c:1|*")]
    )
    assert found == [(clock.now, b"[1]"), None, None]


async def test_invalidation_drops_every_variant_of_a_slot(store: EntityStore, clock: Clock) -> None:
    entries = [
        ("bill|id=b1", "c:1|*", (clock.now, b"[1]")),
        ("bill|id=b1", "agent|*", (clock.now, b"[2]")),
        ("bill|id=b2", "c:1|*", (clock.now, b"[3]")),
    ]
    await store.put_many(entries, clock.now, 60)
    await store.invalidate(["bill|id=b1"])
    found = await store.get_many([(s, v) for s, v, _ in entries])
    assert found == [None, None, (clock.now, b"[3]")]


async def test_a_read_that_started_before_an_invalidation_is_not_stored(
    store: EntityStore, clock: Clock
) -> None:
    started = clock.now
    clock.now += 1
    await store.invalidate(["bill|id=b1"])  # the change lands while the read is in flight
    clock.now += 1
    await store.put_many([("bill|id=b1", "c:1|*", (started, b"[old]"))], started, 60)
    assert await store.get_many([("bill|id=b1", "c:1|*")]) == [None]
    # a read that started after the change is stored
    await store.put_many([("bill|id=b1", "c:1|*", (clock.now, b"[new]"))], clock.now, 60)
    assert await store.get_many([("bill|id=b1", "c:1|*")]) == [(clock.now, b"[new]")]


async def test_the_memory_twin_is_bounded_and_expires(clock: Clock) -> None:
    store = MemoryEntities(max_slots=2, clock=clock)
    for n in range(3):
        await store.put_many([(f"s{n}", "v", (clock.now, b"[]"))], clock.now, 10)
    assert len(store) == 2
    assert await store.get_many([("s0", "v")]) == [None]  # least recently used: evicted
    clock.now += 11
    assert await store.get_many([("s1", "v"), ("s2", "v")]) == [None, None]


async def test_redis_away_raises_store_unavailable() -> None:
    client = aioredis.Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=0.2)
    store = RedisEntities(client, "x:", timeout=0.5)
    try:
        with pytest.raises(StoreUnavailable):
            await store.get_many([("s", "v")])
        with pytest.raises(StoreUnavailable):
            await store.put_many([("s", "v", (1.0, b"[]"))], 1.0, 10)
        with pytest.raises(StoreUnavailable):
            await store.invalidate(["s"])
    finally:
        await client.aclose()
