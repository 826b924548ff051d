"""The broadcast between replicas: in memory (one process) and on a real Redis (the
``redis_url`` fixture; a unique key prefix per test, its keys deleted afterwards).

publish_once publishes an id once whichever replica asks, every reader gets each message, and
a Redis reader whose connection is cut reconnects by itself and says so with :data:`GAP`."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final

import pytest
import redis.asyncio as aioredis

from graph.stores import GAP, MemoryBroadcast, RedisBroadcast, StoreUnavailable

WITHIN: Final = 2.0

Reader = asyncio.Queue[bytes]


@contextlib.asynccontextmanager
async def reading(broadcast: MemoryBroadcast | RedisBroadcast) -> AsyncIterator[Reader]:
    """What ``broadcast.messages()`` yields, in a queue, while the block runs."""
    received: Reader = asyncio.Queue()

    async def pump() -> None:
        async for message in broadcast.messages():
            received.put_nowait(message)

    task = asyncio.create_task(pump())
    try:
        yield received
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def next_of(reader: Reader) -> bytes:
    return await asyncio.wait_for(reader.get(), WITHIN)


async def eventually(check: Callable[[], Awaitable[bool]], within: float = WITHIN) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail("the condition did not come true in time")
        await asyncio.sleep(0.01)


# -- in memory ----------------------------------------------------------------------------


async def test_memory_publishes_an_id_once_to_every_reader() -> None:
    broadcast = MemoryBroadcast()
    async with reading(broadcast) as one, reading(broadcast) as two:
        await asyncio.sleep(0)  # both readers are registered
        assert await broadcast.publish_once("ev-1", b"first")
        assert not await broadcast.publish_once("ev-1", b"again")
        assert await broadcast.publish_once("ev-2", b"second")
        for reader in (one, two):
            assert [await next_of(reader), await next_of(reader)] == [b"first", b"second"]
            assert reader.empty()


async def test_memory_forgets_an_id_after_its_window() -> None:
    broadcast = MemoryBroadcast(seen_seconds=0.05)
    async with reading(broadcast) as reader:
        await asyncio.sleep(0)
        assert await broadcast.publish_once("ev-1", b"first")
        await asyncio.sleep(0.06)
        assert await broadcast.publish_once("ev-1", b"later")
        assert [await next_of(reader), await next_of(reader)] == [b"first", b"later"]


async def test_memory_keeps_a_bounded_number_of_ids() -> None:
    broadcast = MemoryBroadcast(max_seen=10)
    for i in range(100):
        assert await broadcast.publish_once(f"ev-{i}", b"x")
    assert len(broadcast._seen) <= 11
    assert not await broadcast.publish_once("ev-99", b"x")  # the newest are remembered
    assert await broadcast.publish_once("ev-0", b"x")  # the oldest are forgotten


async def test_memory_close_ends_every_reader() -> None:
    broadcast = MemoryBroadcast()

    async def read_all() -> list[bytes]:
        return [m async for m in broadcast.messages()]

    readers = [asyncio.create_task(read_all()) for _ in range(2)]
    await asyncio.sleep(0)
    await broadcast.publish_once("ev-1", b"one")
    broadcast.close()
    assert await asyncio.wait_for(asyncio.gather(*readers), WITHIN) == [[b"one"], [b"one"]]


# -- Redis --------------------------------------------------------------------------------


@pytest.fixture
async def redis_env(redis_url: str) -> AsyncIterator[tuple[str, str]]:
    """(url, a prefix of this test's own); the prefix's keys are deleted afterwards."""
    prefix = f"csm-test:{uuid.uuid4().hex}:"
    yield redis_url, prefix
    admin = aioredis.Redis.from_url(redis_url)
    try:
        keys = [k async for k in admin.scan_iter(match=prefix + "*")]
        if keys:
            await admin.delete(*keys)
    finally:
        await admin.aclose()


@contextlib.asynccontextmanager
async def replica(url: str, prefix: str, name: str | None = None) -> AsyncIterator[RedisBroadcast]:
    """One gateway process's broadcast: a client of its own, as open_redis makes it."""
    client = aioredis.Redis.from_url(
        url, socket_connect_timeout=1.0, socket_timeout=2.0, client_name=name
    )
    broadcast = RedisBroadcast(client, prefix, retry_seconds=0.05, max_retry_seconds=0.2)
    try:
        yield broadcast
    finally:
        broadcast.close()
        await client.aclose()


async def wait_subscribed(url: str, channel: str, count: int) -> None:
    admin = aioredis.Redis.from_url(url)
    try:

        async def subscribed() -> bool:
            numsub = await admin.pubsub_numsub(channel)
            return bool(numsub[0][1] >= count)

        await eventually(subscribed)
    finally:
        await admin.aclose()


async def test_redis_publish_once_dedups_across_replicas_and_both_receive(
    redis_env: tuple[str, str],
) -> None:
    url, prefix = redis_env
    async with replica(url, prefix) as a, replica(url, prefix) as b:
        async with reading(a) as from_a, reading(b) as from_b:
            await wait_subscribed(url, a.channel, 2)
            assert await a.publish_once("ev-1", b"first")
            assert not await b.publish_once("ev-1", b"again")  # the other replica's copy
            assert not await a.publish_once("ev-1", b"again")
            assert await b.publish_once("ev-2", b"second")
            for reader in (from_a, from_b):
                assert [await next_of(reader), await next_of(reader)] == [b"first", b"second"]
            await asyncio.sleep(0.05)
            assert from_a.empty()
            assert from_b.empty()
        client = a.client
        ttl = await client.ttl(f"{prefix}event:ev-1")
        assert 0 < ttl <= a.seen_seconds


async def test_redis_replicas_with_other_prefixes_do_not_hear_each_other(
    redis_env: tuple[str, str],
) -> None:
    url, prefix = redis_env
    async with (
        replica(url, prefix) as mine,
        replica(url, prefix + "other:") as theirs,
        reading(mine) as heard,
    ):
        await wait_subscribed(url, mine.channel, 1)
        assert await theirs.publish_once("ev-1", b"theirs")
        assert await mine.publish_once("ev-1", b"mine")  # their ids are theirs too
        assert await next_of(heard) == b"mine"


async def test_redis_unreachable_publish_raises_store_unavailable() -> None:
    client = aioredis.Redis.from_url(
        "redis://127.0.0.1:1/0", socket_connect_timeout=0.5, socket_timeout=0.5
    )
    try:
        with pytest.raises(StoreUnavailable):
            await RedisBroadcast(client, "csm-test:nowhere:").publish_once("ev-1", b"x")
    finally:
        await client.aclose()


async def kill_pubsub_connections(url: str, name: str) -> int:
    """Cut this test's reader's connections (by client name: other tests may be reading)."""
    admin = aioredis.Redis.from_url(url)
    try:
        clients = await admin.client_list(_type="pubsub")
        ids = [c["id"] for c in clients if c.get("name") == name]
        for client_id in ids:
            await admin.client_kill_filter(_id=client_id)
        return len(ids)
    finally:
        await admin.aclose()


async def test_redis_reader_reconnects_by_itself_and_reports_the_gap(
    redis_env: tuple[str, str],
) -> None:
    url, prefix = redis_env
    name = f"csm-test-{uuid.uuid4().hex[:12]}"
    async with (
        replica(url, prefix, name) as reader_side,
        replica(url, prefix) as writer,
        reading(reader_side) as heard,
    ):
        await wait_subscribed(url, reader_side.channel, 1)
        assert await writer.publish_once("ev-1", b"before")
        assert await next_of(heard) == b"before"
        assert await kill_pubsub_connections(url, name) == 1
        assert await next_of(heard) == GAP
        await wait_subscribed(url, reader_side.channel, 1)
        assert await writer.publish_once("ev-2", b"after")
        assert await next_of(heard) == b"after"


async def test_redis_close_ends_the_reader(redis_env: tuple[str, str]) -> None:
    url, prefix = redis_env
    async with replica(url, prefix) as broadcast:

        async def read_all() -> list[bytes]:
            return [m async for m in broadcast.messages()]

        task = asyncio.create_task(read_all())
        await wait_subscribed(url, broadcast.channel, 1)
        broadcast.close()
        assert await asyncio.wait_for(task, WITHIN) == []


PUBLISHING: Final = frozenset({"PUBLISH", "EVAL", "EVALSHA"})


@pytest.mark.parametrize(
    "lost",
    [
        "before",
        "after",
    ],
)
async def test_redis_an_event_whose_publish_failed_is_received_once_when_retried(
    redis_env: tuple[str, str], monkeypatch: pytest.MonkeyPatch, lost: str
) -> None:
    """The listener answers 503 when publish_once raises, so that the backend delivers the
    event again. Whether the connection was lost before the publishing command reached Redis
    or after it ran, the event must then have been received exactly once."""
    url, prefix = redis_env
    async with replica(url, prefix) as broadcast, reading(broadcast) as heard:
        await wait_subscribed(url, broadcast.channel, 1)
        client = broadcast.client
        execute: Callable[..., Awaitable[Any]] = client.execute_command

        async def cut(*args: Any, **options: Any) -> Any:
            if str(args[0]).upper() not in PUBLISHING:
                return await execute(*args, **options)
            monkeypatch.setattr(client, "execute_command", execute)  # once
            if lost == "after":
                await execute(*args, **options)
            raise aioredis.ConnectionError("Connection reset by peer")

        monkeypatch.setattr(client, "execute_command", cut)
        with pytest.raises(StoreUnavailable):
            await broadcast.publish_once("ev-1", b"event")
        await broadcast.publish_once("ev-1", b"event")  # the backend's retry
        assert await next_of(heard) == b"event"
        await asyncio.sleep(0.05)
        assert heard.empty()
