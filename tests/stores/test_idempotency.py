"""The idempotency store's contract, held by both implementations: the in-memory twin and
Redis (a real one: the ``redis_url`` fixture, skipped when none answers).

What payBill's "exactly once" rests on: one claimant runs, everyone else with the same key waits
for and gets its outcome, a different input is a conflict, a freed or expired key runs again,
and a holder whose lease expired cannot overwrite the newer holder's outcome.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import pytest
import redis.asyncio as aioredis

from graph.stores import (
    Busy,
    Conflict,
    IdempotencyStore,
    MemoryIdempotency,
    RedisIdempotency,
    Replay,
    Run,
    StoreUnavailable,
)

MakeStore = Callable[..., IdempotencyStore]

OUTCOME: dict[str, Any] = {
    "payment": "pay-000123",
    "bills": ["cb-000001-1-03", "cb-000001-2-23"],
    "none": [],
    "empty": {},
    "nested": {"a": [1, 2.5, {"b": None, "c": [[], [{}]]}], "ok": True, "no": False},
    "text": 'Zahlung für Jürgen Müller — 支付 ✓ "quoted" \\ back\nslash',
}


@pytest.fixture(params=["memory", "redis"])
async def make_store(request: pytest.FixtureRequest) -> AsyncIterator[MakeStore]:
    """Builds stores of one kind (``lease_seconds``, ``keep_seconds`` as keywords). Redis
    stores share one unique prefix, whose keys are deleted afterwards."""
    if request.param == "memory":
        yield lambda **kw: MemoryIdempotency(**kw)
        return
    url: str = request.getfixturevalue("redis_url")
    prefix = f"csm-test:{uuid.uuid4().hex}:"
    client = aioredis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=2.0)
    try:
        yield lambda **kw: RedisIdempotency(client, prefix, **kw)
    finally:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
def store(make_store: MakeStore) -> IdempotencyStore:
    return make_store()


def fresh_key() -> str:
    return f"cus-000001:payBill:{uuid.uuid4().hex}"


async def test_the_first_claim_runs(store: IdempotencyStore) -> None:
    claim = await store.claim(fresh_key(), "fp-1")
    assert isinstance(claim, Run)
    assert claim.token


async def test_after_finish_the_outcome_is_replayed_exactly(store: IdempotencyStore) -> None:
    key = fresh_key()
    claim = await store.claim(key, "fp-1")
    assert isinstance(claim, Run)
    await store.finish(key, claim.token, OUTCOME)
    for _ in range(2):
        again = await store.claim(key, "fp-1", wait=0)
        assert again == Replay(OUTCOME)
    # Another key is not affected.
    assert isinstance(await store.claim(fresh_key(), "fp-1"), Run)


async def test_the_replay_is_what_was_finished_not_a_later_change(
    store: IdempotencyStore,
) -> None:
    key = fresh_key()
    claim = await store.claim(key, "fp-1")
    assert isinstance(claim, Run)
    given: dict[str, Any] = {"payment": "pay-1", "bills": ["cb-1"]}
    await store.finish(key, claim.token, given)
    given["bills"].append("cb-2")
    given["payment"] = "pay-2"
    replay = await store.claim(key, "fp-1", wait=0)
    assert replay == Replay({"payment": "pay-1", "bills": ["cb-1"]})


async def test_an_outcome_that_is_not_json_is_refused_by_finish(store: IdempotencyStore) -> None:
    # As Redis must: an outcome the in-memory twin took would fail in production.
    key = fresh_key()
    claim = await store.claim(key, "fp-1")
    assert isinstance(claim, Run)
    with pytest.raises(TypeError):
        await store.finish(key, claim.token, {"amount": Decimal("1.00")})


async def test_a_different_fingerprint_conflicts_while_running_and_after(
    store: IdempotencyStore,
) -> None:
    key = fresh_key()
    claim = await store.claim(key, "fp-1")
    assert isinstance(claim, Run)
    assert await store.claim(key, "fp-2", wait=0) == Conflict()
    await store.finish(key, claim.token, OUTCOME)
    assert await store.claim(key, "fp-2", wait=0) == Conflict()
    assert await store.claim(key, "fp-1", wait=0) == Replay(OUTCOME)


async def test_ten_concurrent_claims_run_once_and_the_others_get_its_outcome(
    store: IdempotencyStore,
) -> None:
    key = fresh_key()
    finished_at: list[float] = []

    async def contender() -> tuple[Any, float]:
        claim = await store.claim(key, "fp-1", wait=5)
        if isinstance(claim, Run):
            await asyncio.sleep(0.15)  # the action takes a while; the others must wait
            finished_at.append(time.monotonic())
            await store.finish(key, claim.token, OUTCOME)
        return claim, time.monotonic()

    results = await asyncio.gather(*(contender() for _ in range(10)))
    claims = [claim for claim, _ in results]
    assert sum(isinstance(c, Run) for c in claims) == 1
    replays = [(c, at) for c, at in results if not isinstance(c, Run)]
    assert len(replays) == 9
    assert all(c == Replay(OUTCOME) for c, _ in replays)
    assert all(at >= finished_at[0] for _, at in replays)  # they waited for the outcome


async def test_release_frees_the_key_for_the_next_claimant(store: IdempotencyStore) -> None:
    key = fresh_key()
    first = await store.claim(key, "fp-1")
    assert isinstance(first, Run)
    waiter = asyncio.create_task(store.claim(key, "fp-1", wait=5))
    await asyncio.sleep(0.1)
    assert not waiter.done()
    await store.release(key, first.token)
    second = await asyncio.wait_for(waiter, 3)
    assert isinstance(second, Run)
    assert second.token != first.token
    # Released means forgotten: even another input may use the key now.
    await store.release(key, second.token)
    assert isinstance(await store.claim(key, "fp-other", wait=0), Run)


async def test_busy_when_the_holder_does_not_finish_within_the_wait(
    store: IdempotencyStore,
) -> None:
    key = fresh_key()
    assert isinstance(await store.claim(key, "fp-1"), Run)
    started = time.monotonic()
    assert await store.claim(key, "fp-1", wait=0.3) == Busy()
    waited = time.monotonic() - started
    assert 0.25 <= waited < 2.0
    assert await store.claim(key, "fp-1", wait=0) == Busy()


async def test_an_expired_lease_runs_again_and_its_old_holder_cannot_overwrite(
    make_store: MakeStore,
) -> None:
    store = make_store(lease_seconds=0.3)
    key = fresh_key()
    old = await store.claim(key, "fp-1")
    assert isinstance(old, Run)
    await asyncio.sleep(0.4)
    new = await store.claim(key, "fp-1", wait=0)
    assert isinstance(new, Run)
    assert new.token != old.token
    # The old holder wakes up late: neither its outcome nor its release touches the key.
    await store.finish(key, old.token, {"payment": "pay-old"})
    assert await store.claim(key, "fp-1", wait=0) == Busy()
    await store.release(key, old.token)
    assert await store.claim(key, "fp-1", wait=0) == Busy()
    await store.finish(key, new.token, {"payment": "pay-new"})
    assert await store.claim(key, "fp-1", wait=0) == Replay({"payment": "pay-new"})


async def test_a_waiter_runs_when_the_holders_lease_expires(make_store: MakeStore) -> None:
    store = make_store(lease_seconds=0.3)
    key = fresh_key()
    assert isinstance(await store.claim(key, "fp-1"), Run)  # and never finished
    started = time.monotonic()
    claim = await store.claim(key, "fp-1", wait=3)
    assert isinstance(claim, Run)
    assert 0.2 <= time.monotonic() - started < 2.0


async def test_outcomes_are_forgotten_after_keep_seconds(make_store: MakeStore) -> None:
    store = make_store(keep_seconds=0.3)
    key = fresh_key()
    claim = await store.claim(key, "fp-1")
    assert isinstance(claim, Run)
    await store.finish(key, claim.token, OUTCOME)
    assert await store.claim(key, "fp-1", wait=0) == Replay(OUTCOME)
    await asyncio.sleep(0.4)
    assert isinstance(await store.claim(key, "fp-2", wait=0), Run)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_an_unreachable_redis_is_store_unavailable() -> None:
    url = f"redis://127.0.0.1:{closed_port()}/0"
    client = aioredis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        store = RedisIdempotency(client, f"csm-test:{uuid.uuid4().hex}:")
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await store.claim(fresh_key(), "fp-1", wait=0)
        with pytest.raises(StoreUnavailable):
            await store.finish(fresh_key(), "token", OUTCOME)
        with pytest.raises(StoreUnavailable):
            await store.release(fresh_key(), "token")
        assert time.monotonic() - started < 5
    finally:
        await client.aclose()
