"""The entity cache's storage: Redis shared by every gateway process, an in-memory twin.

An *entry* is what one backend lookup returned for one key value -- the records of
``customerBill`` whose ``billingAccount.id`` is ``ba-1``, or the one record whose ``id`` is
``cb-7`` -- as one caller was allowed to see them with one attribute projection. Entries live
in *slots*: one slot per (resource, key path, value), holding one entry per *variant*
(caller partition, backend filter, projection). The slot is what invalidation names: a change
to ``cb-7`` drops the slots ``customerBill id=cb-7`` and ``customerBill billingAccount.id=ba-1``
whole, every variant at once, without knowing who had read them.

A value is ``(stored_at, payload)``: the wall-clock time it was read (age decides fresh or
stale, :mod:`graph.sources.cached`) and the records as orjson bytes -- stored as bytes in
memory too, so no caller can change another's records.

Invalidation races a lookup in flight: a read that started before the change could store what
it read after the invalidation dropped the slot. So an invalidation leaves a *fence* in the
slot (``!inv`` = when) for ``fence_seconds``, and a value is stored only if it was read after
the slot's last fence (a Lua compare-and-set in Redis; the same check in memory).

Redis errors never fail a request: a failed lookup is a miss, a failed store is skipped, a
failed invalidation is logged (the entries then live out their TTL), and each raises
:class:`~graph.stores.idempotency.StoreUnavailable` for the caller to count.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .idempotency import StoreUnavailable

__all__ = ["EntityStore", "Entry", "MemoryEntities", "RedisEntities"]

log = logging.getLogger(__name__)

FENCE: Final = "!inv"
FENCE_SECONDS: Final = 60.0  # longer than any backend read may take
MAX_SLOTS: Final = 50_000  # in memory
REDIS_TIMEOUT: Final = 0.25  # seconds: a cache that answers late is no cache

Entry = tuple[float, bytes]  # (stored_at, orjson payload)

# KEYS[1] slot; ARGV: variant, payload (stored_at|bytes), read_started, keep_ms
_PUT: Final = """
local fence = redis.call('HGET', KEYS[1], '!inv')
if fence and tonumber(fence) >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""


def encode(entry: Entry) -> bytes:
    return b"%r|" % entry[0] + entry[1]


def decode(raw: bytes) -> Entry | None:
    stamp, sep, payload = raw.partition(b"|")
    if not sep:
        return None
    try:
        return float(stamp), payload
    except ValueError:
        return None


class EntityStore(Protocol):
    async def get_many(self, wanted: Sequence[tuple[str, str]]) -> list[Entry | None]:
        """The entry of each (slot, variant), None where there is none."""
        ...

    async def put_many(
        self, entries: Sequence[tuple[str, str, Entry]], read_started: float, keep: float
    ) -> None:
        """Store (slot, variant, entry)s read at ``read_started`` (wall clock), except in
        slots invalidated since; a slot lives ``keep`` seconds after its last store."""
        ...

    async def invalidate(self, slots: Iterable[str]) -> None:
        """Drop every entry of each slot, and fence it against reads in flight."""
        ...


class MemoryEntities:
    """One process's entries: an LRU of at most ``max_slots`` slots. ``clock`` (wall clock,
    seconds) is for tests."""

    def __init__(
        self,
        max_slots: int = MAX_SLOTS,
        fence_seconds: float = FENCE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_slots, self.fence_seconds, self.clock = max_slots, fence_seconds, clock
        # slot -> (expires_at, fenced_until_read_after, {variant: entry})
        self._slots: OrderedDict[str, tuple[float, float, dict[str, Entry]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._slots)

    async def get_many(self, wanted: Sequence[tuple[str, str]]) -> list[Entry | None]:
        now = self.clock()
        found: list[Entry | None] = []
        for slot, variant in wanted:
            held = self._slots.get(slot)
            if held is None:
                found.append(None)
            elif held[0] <= now:
                del self._slots[slot]
                found.append(None)
            else:
                self._slots.move_to_end(slot)
                found.append(held[2].get(variant))
        return found

    async def put_many(
        self, entries: Sequence[tuple[str, str, Entry]], read_started: float, keep: float
    ) -> None:
        now = self.clock()
        for slot, variant, entry in entries:
            held = self._slots.get(slot)
            if held is not None and held[0] > now:
                _, fence, variants = held
                if fence >= read_started:
                    continue
            else:
                fence, variants = 0.0, {}
            variants[variant] = entry
            self._slots[slot] = (now + keep, fence, variants)
            self._slots.move_to_end(slot)
        while len(self._slots) > self.max_slots:
            self._slots.popitem(last=False)

    async def invalidate(self, slots: Iterable[str]) -> None:
        now = self.clock()
        for slot in slots:
            self._slots[slot] = (now + self.fence_seconds, now, {})
            self._slots.move_to_end(slot)
        while len(self._slots) > self.max_slots:
            self._slots.popitem(last=False)


class RedisEntities:
    """Entries shared by every gateway process: one Redis hash per slot,
    ``{prefix}ent:{slot}``, one field per variant, the ``!inv`` field its fence."""

    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str = "csm:",
        fence_seconds: float = FENCE_SECONDS,
        timeout: float = REDIS_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client, self.prefix = client, prefix + "ent:"
        self.fence_seconds, self.timeout, self.clock = fence_seconds, timeout, clock
        self._put = client.register_script(_PUT)

    async def _bounded(self, work: Any) -> Any:
        try:
            async with asyncio.timeout(self.timeout):
                return await work
        except (RedisError, OSError, TimeoutError) as exc:
            raise StoreUnavailable(f"entity cache: {type(exc).__name__}") from None

    async def get_many(self, wanted: Sequence[tuple[str, str]]) -> list[Entry | None]:
        if not wanted:
            return []
        pipe = self.client.pipeline(transaction=False)
        for slot, variant in wanted:
            pipe.hget(self.prefix + slot, variant)
        raws = await self._bounded(pipe.execute())
        return [decode(raw) if isinstance(raw, bytes) else None for raw in raws]

    async def put_many(
        self, entries: Sequence[tuple[str, str, Entry]], read_started: float, keep: float
    ) -> None:
        if not entries:
            return
        pipe = self.client.pipeline(transaction=False)
        keep_ms = max(1, int(keep * 1000))
        for slot, variant, entry in entries:
            await self._put(  # on a pipeline: queued, sent by execute()
                keys=[self.prefix + slot],
                args=[variant, encode(entry), repr(read_started), keep_ms],
                client=pipe,
            )
        await self._bounded(pipe.execute())

    async def invalidate(self, slots: Iterable[str]) -> None:
        names = [self.prefix + slot for slot in dict.fromkeys(slots)]
        if not names:
            return
        now = repr(self.clock())
        fence_ms = max(1, int(self.fence_seconds * 1000))
        pipe = self.client.pipeline(transaction=True)  # never a moment without the fence
        for name in names:
            pipe.delete(name)
            pipe.hset(name, FENCE, now)
            pipe.pexpire(name, fence_ms)
        await self._bounded(pipe.execute())
