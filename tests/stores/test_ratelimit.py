"""The rate limiter's contract, held by the in-memory twin and by Redis (a real one: the
``redis_url`` fixture, skipped when none answers); and the fallback to the twin while Redis is
away, recovering by itself -- through a real TCP proxy in front of Redis that the test cuts.

A bucket of ``rate`` per ``period`` allows a burst of ``rate``, then one every
``period / rate``; an operation counts against all its buckets or none.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Sequence

import pytest
import redis.asyncio as aioredis

from graph.stores.idempotency import StoreUnavailable
from graph.stores.ratelimit import (
    FallbackRateLimiter,
    Limit,
    MemoryRateLimiter,
    RateLimiter,
    RedisRateLimiter,
    Verdict,
    retry_after_header,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Kind:
    """A limiter of one kind, and how to let time pass for it."""

    def __init__(self, limiter: RateLimiter, wait: Callable[[float], object]) -> None:
        self.limiter = limiter
        self._wait = wait

    async def hit(self, *limits: Limit) -> Verdict:
        return await self.limiter.hit(limits)

    async def sleep(self, seconds: float) -> None:
        result = self._wait(seconds)
        if asyncio.iscoroutine(result):
            await result


@contextlib.asynccontextmanager
async def redis_at(url: str) -> AsyncIterator[tuple[aioredis.Redis, str]]:
    """A client, and a prefix of the test's own whose keys are deleted afterwards."""
    prefix = f"csm-test:{uuid.uuid4().hex}:"
    client = aioredis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=2.0)
    try:
        yield client, prefix
    finally:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[tuple[aioredis.Redis, str]]:
    async with redis_at(redis_url) as client:
        yield client


@pytest.fixture(params=["memory", "redis"])
async def kind(request: pytest.FixtureRequest) -> AsyncIterator[Kind]:
    if request.param == "memory":
        clock = Clock()

        def advance(seconds: float) -> None:
            clock.now += seconds

        yield Kind(MemoryRateLimiter(clock), advance)
        return
    async with redis_at(request.getfixturevalue("redis_url")) as (client, prefix):
        yield Kind(RedisRateLimiter(client, prefix), asyncio.sleep)


async def test_a_burst_of_rate_then_one_per_interval(kind: Kind) -> None:
    bucket = Limit("caller:web:customer:c1", rate=4, period=0.4)  # one per 0.1 s
    assert all([(await kind.hit(bucket)).allowed for _ in range(4)])
    refused = await kind.hit(bucket)
    assert not refused.allowed
    assert refused.refused_by == 0
    assert refused.retry_after == pytest.approx(0.1, abs=0.02)
    assert not (await kind.hit(bucket)).allowed  # a refusal is not charged, nor does it help
    await kind.sleep(refused.retry_after + 0.02)
    assert (await kind.hit(bucket)).allowed
    assert not (await kind.hit(bucket)).allowed


async def test_buckets_are_separate(kind: Kind) -> None:
    one, two = Limit("caller:web:a", 1, 10.0), Limit("caller:web:b", 1, 10.0)
    assert (await kind.hit(one)).allowed
    assert not (await kind.hit(one)).allowed
    assert (await kind.hit(two)).allowed


async def test_all_or_nothing_a_callers_refusal_does_not_use_the_channels_ceiling(
    kind: Kind,
) -> None:
    channel = Limit("channel:web", rate=3, period=60.0)
    alice, bob = Limit("caller:web:alice", 2, 60.0), Limit("caller:web:bob", 5, 60.0)
    assert (await kind.hit(alice, channel)).allowed
    assert (await kind.hit(alice, channel)).allowed
    for _ in range(5):  # alice is over her own limit: the channel is not charged for it
        verdict = await kind.hit(alice, channel)
        assert not verdict.allowed
        assert verdict.refused_by == 0
        assert verdict.retry_after == pytest.approx(30.0, abs=0.5)
    assert (await kind.hit(bob, channel)).allowed  # the channel's third
    ceiling = await kind.hit(bob, channel)
    assert not ceiling.allowed
    assert ceiling.refused_by == 1  # bob has room; the channel has none
    assert ceiling.retry_after == pytest.approx(20.0, abs=0.5)


async def test_the_longest_wait_is_the_answer(kind: Kind) -> None:
    short, long = Limit("caller:web:s", 1, 1.0), Limit("channel:web", 1, 100.0)
    assert (await kind.hit(short, long)).allowed
    verdict = await kind.hit(short, long)
    assert verdict.refused_by == 1
    assert verdict.retry_after == pytest.approx(100.0, abs=0.5)
    assert retry_after_header(verdict) in ("100", "101")


def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one() -> None:
    assert retry_after_header(Verdict(False, 0.001, 0)) == "1"
    assert retry_after_header(Verdict(False, 1.2, 0)) == "2"
    assert retry_after_header(Verdict(False, 3.0, 0)) == "3"


def test_a_limit_needs_a_positive_rate_and_period() -> None:
    with pytest.raises(ValueError, match="positive"):
        Limit("k", 0, 60.0)
    with pytest.raises(ValueError, match="positive"):
        Limit("k", 1, 0.0)


async def test_the_memory_twin_forgets_full_buckets() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock)
    for i in range(100):
        await limiter.hit([Limit(f"caller:anonymous:ip:10.0.0.{i}", 10, 60.0)])
    assert len(limiter) == 100
    clock.now += 5.9  # one hit each: full again after period / rate = 6 s
    limiter.sweep()
    assert len(limiter) == 100
    clock.now += 0.2
    limiter.sweep()
    assert len(limiter) == 0


async def test_redis_buckets_are_shared_by_processes_and_expire(
    redis_client: tuple[aioredis.Redis, str], redis_url: str
) -> None:
    client, prefix = redis_client
    other = aioredis.Redis.from_url(redis_url)  # a second gateway process's client
    try:
        here, there = RedisRateLimiter(client, prefix), RedisRateLimiter(other, prefix)
        bucket = Limit("caller:web:customer:cus-000001", 3, 30.0)
        assert (await here.hit([bucket])).allowed
        assert (await there.hit([bucket])).allowed
        assert (await here.hit([bucket])).allowed
        assert not (await there.hit([bucket])).allowed
        assert not (await here.hit([bucket])).allowed
        ttl = await client.pttl(prefix + "rl:" + bucket.key)
        assert 0 < ttl <= 30_000  # gone once the bucket is full again
    finally:
        await other.aclose()


# -- Redis away: the local twin answers, and Redis is used again when it is back ---------------


class FlakyStore:
    """A shared limiter that fails while ``down``; counts the calls it gets."""

    def __init__(self) -> None:
        self.down = False
        self.calls = 0
        self.inner = MemoryRateLimiter()

    async def hit(self, limits: Sequence[Limit]) -> Verdict:
        self.calls += 1
        if self.down:
            raise StoreUnavailable("connection refused")
        return await self.inner.hit(limits)


async def test_the_fallback_limits_locally_while_the_store_is_down_then_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    store = FlakyStore()
    limiter = FallbackRateLimiter(store, MemoryRateLimiter(clock), retry_seconds=5.0, clock=clock)
    bucket = Limit("caller:web:c1", 2, 60.0)
    assert (await limiter.hit([bucket])) == Verdict(True)
    store.down = True
    first = await limiter.hit([bucket])
    assert first.allowed
    assert first.fallback
    assert [limiter.degraded] == [True]  # (not narrowed: checked again below)
    assert (await limiter.hit([bucket])).allowed
    refused = await limiter.hit([bucket])  # the local twin still limits: 2 a minute
    assert not refused.allowed
    assert refused.fallback
    assert store.calls == 2  # one failure; then no call to the store until the pause is over
    assert "Redis unavailable" in caplog.text
    clock.now += 5.1
    await limiter.hit([bucket])
    assert store.calls == 3  # one probe, failed: another pause
    store.down = False
    await limiter.hit([bucket])
    assert store.calls == 3
    clock.now += 5.1
    back = await limiter.hit([bucket])
    assert store.calls == 4
    assert back.allowed  # the shared bucket had room for one more
    assert not back.fallback
    assert not limiter.degraded
    assert "Redis is back" in caplog.text


async def test_while_a_probe_is_out_other_checks_do_not_wait_for_it() -> None:
    clock = Clock()
    release = asyncio.Event()

    class SlowStore:
        calls = 0

        async def hit(self, limits: Sequence[Limit]) -> Verdict:
            SlowStore.calls += 1
            if SlowStore.calls == 1:
                raise StoreUnavailable("down")
            await release.wait()
            return Verdict(True)

    limiter = FallbackRateLimiter(SlowStore(), MemoryRateLimiter(clock), 1.0, clock=clock)
    bucket = Limit("k", 100, 60.0)
    await limiter.hit([bucket])  # fails: degraded
    clock.now += 2
    probe = asyncio.create_task(limiter.hit([bucket]))
    await asyncio.sleep(0)
    others = [await limiter.hit([bucket]) for _ in range(3)]
    assert all(v.fallback for v in others)
    assert SlowStore.calls == 2
    release.set()
    assert not (await probe).fallback


class Proxy:
    """A TCP proxy to Redis that the test can cut (connections reset, nothing accepted) and
    restore on the same port: Redis "stopped" and "restarted" as clients see it."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.server: asyncio.Server | None = None
        self.links: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        if self.server is None:
            self.sock = self.sock if self.sock.fileno() != -1 else self._rebind()
            self.server = await asyncio.start_server(self._link, sock=self.sock)

    def _rebind(self) -> socket.socket:
        return socket.create_server(("127.0.0.1", self.port))

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        for writer in list(self.links):
            writer.transport.abort()
        self.links.clear()

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.links |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def test_redis_stopped_and_restarted_under_a_real_client(
    redis_client: tuple[aioredis.Redis, str], redis_url: str
) -> None:
    real, prefix = redis_client
    info = real.connection_pool.connection_kwargs
    proxy = Proxy((info.get("host", "127.0.0.1"), info.get("port", 6379)))
    await proxy.start()
    client = aioredis.Redis(
        host="127.0.0.1", port=proxy.port, db=info.get("db", 0),
        socket_connect_timeout=0.5, socket_timeout=0.5,
    )  # fmt: skip
    limiter = FallbackRateLimiter(RedisRateLimiter(client, prefix), retry_seconds=0.2)
    bucket = Limit("caller:web:customer:cus-000001", 3, 60.0)
    try:
        assert not (await limiter.hit([bucket])).fallback
        await proxy.stop()
        during = [await limiter.hit([bucket]) for _ in range(4)]
        assert all(v.fallback for v in during)
        assert [v.allowed for v in during] == [True, True, True, False]  # limited locally
        await proxy.start()
        await asyncio.sleep(0.25)
        after = await limiter.hit([bucket])
        assert not after.fallback  # shared again, by itself
        assert after.allowed  # the shared bucket counted one before the outage
        assert (await limiter.hit([bucket])).allowed
        assert not (await limiter.hit([bucket])).allowed
        assert float(await real.get(prefix + "rl:" + bucket.key) or 0) > 0
    finally:
        await client.aclose()
        await proxy.stop()
