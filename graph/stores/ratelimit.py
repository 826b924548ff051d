"""Rate limits: token buckets shared by every gateway process (Redis), or one process's own.

A :class:`Limit` is a bucket -- a key, a ``rate`` and a ``period``: ``rate`` operations per
``period`` seconds, in bursts of at most ``rate``. The buckets are kept as GCRA (the
"generic cell rate algorithm", a token bucket stored as one timestamp per key: the *theoretical
arrival time* after which the bucket is full again), so a check is one read and one write per
key and its refusal says exactly when the next operation will be allowed.

:meth:`RateLimiter.hit` takes every bucket an operation counts against (a caller's own and
its channel's ceiling) and is all or nothing: either every bucket has room and each is
charged, or none is charged and the answer says which bucket refused and for how long.
So a caller refused by their own limit does not use up their channel's ceiling.

Implementations: :class:`RedisRateLimiter` (one Lua script: atomic across processes, Redis's
clock for everyone), :class:`MemoryRateLimiter` (the embedded default, and the local stand-in
while Redis is away) and :class:`FallbackRateLimiter`, which asks Redis and, when Redis does
not answer, the local twin with the same limits -- per replica, so never stricter than the
shared limits -- and tries Redis again after a pause (``retry_seconds``): it recovers by
itself. Redis errors surface from :class:`RedisRateLimiter` as
:class:`~graph.stores.idempotency.StoreUnavailable`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .idempotency import StoreUnavailable

__all__ = [
    "FallbackRateLimiter",
    "Limit",
    "MemoryRateLimiter",
    "RateLimiter",
    "RedisRateLimiter",
    "Verdict",
    "retry_after_header",
]

log = logging.getLogger(__name__)

REDIS_TIMEOUT: Final = 0.5  # seconds a check may wait for Redis before the local twin answers
RETRY_SECONDS: Final = 5.0  # after a Redis failure, the local twin answers this long
SWEEP_EVERY: Final = 1024  # memory twin: expired buckets are dropped every this many hits
_SLACK: Final = 1e-6  # seconds of rounding error a full bucket's burst is forgiven


@dataclass(frozen=True, slots=True)
class Limit:
    """A bucket: ``rate`` operations per ``period`` seconds under ``key``."""

    key: str
    rate: int
    period: float

    def __post_init__(self) -> None:
        if self.rate < 1 or self.period <= 0:
            raise ValueError(f"a limit needs a positive rate and period: {self}")


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after: float = 0.0  # seconds until a refused operation would be allowed
    refused_by: int | None = None  # the index of the limit that refused (the longest wait)
    fallback: bool = False  # answered by this process alone: the shared store did not answer


ALLOWED: Final = Verdict(True)


class RateLimiter(Protocol):
    async def hit(self, limits: Sequence[Limit]) -> Verdict:
        """Charge one operation to every bucket in ``limits``, or to none of them."""
        ...


class MemoryRateLimiter:
    """One process's buckets. ``clock`` (seconds, monotonic) is for tests."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._tats: dict[str, float] = {}  # key -> theoretical arrival time (clock seconds)
        self._hits = 0

    def __len__(self) -> int:
        return len(self._tats)

    async def hit(self, limits: Sequence[Limit]) -> Verdict:
        return self.hit_now(limits)

    def hit_now(self, limits: Sequence[Limit]) -> Verdict:
        now = self.clock()
        self._hits += 1
        if self._hits % SWEEP_EVERY == 0:
            self.sweep(now)
        wait, refused, tats = _SLACK, None, []  # sums of period / rate are not exact
        for index, limit in enumerate(limits):
            tat = max(self._tats.get(limit.key, now), now) + limit.period / limit.rate
            tats.append(tat)
            over = tat - limit.period - now
            if over > wait:
                wait, refused = over, index
        if refused is not None:
            return Verdict(False, wait, refused)
        for limit, tat in zip(limits, tats, strict=True):
            self._tats[limit.key] = tat
        return ALLOWED

    def sweep(self, now: float | None = None) -> None:
        """Forget full buckets (their time has passed): memory stays bounded by what was hit
        within the longest period."""
        now = self.clock() if now is None else now
        for key in [k for k, tat in self._tats.items() if tat <= now]:
            del self._tats[key]


# KEYS: the buckets; ARGV[2i-1], ARGV[2i]: bucket i's rate and period (ms). Redis's own clock,
# so that every gateway process agrees. Returns {allowed, wait in ms, index of the refusal}.
_GCRA: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local wait, refused = 0.001, 0
local tats = {}
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 * i - 1])
  local period = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then tat = now end
  tats[i] = tat + period / rate
  local over = tats[i] - period - now
  if over > wait then wait, refused = over, i end
end
if refused > 0 then return {0, math.ceil(wait), refused} end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, string.format('%.3f', tats[i]), 'PX', math.ceil(tats[i] - now))
end
return {1, 0, 0}
"""


class RedisRateLimiter:
    """Buckets in Redis, under ``{prefix}rl:``, shared by every gateway process using it."""

    def __init__(
        self, client: aioredis.Redis, prefix: str = "csm:", timeout: float = REDIS_TIMEOUT
    ) -> None:
        self.prefix = prefix + "rl:"
        self.timeout = timeout
        self._script = client.register_script(_GCRA)

    async def hit(self, limits: Sequence[Limit]) -> Verdict:
        if not limits:
            return ALLOWED
        keys = [self.prefix + limit.key for limit in limits]
        args: list[float] = []
        for limit in limits:
            args += [limit.rate, limit.period * 1000]
        try:
            async with asyncio.timeout(self.timeout):
                allowed, wait_ms, index = await self._script(keys=keys, args=args)
        except (RedisError, OSError, TimeoutError) as exc:
            raise StoreUnavailable(str(exc) or type(exc).__name__) from exc
        if allowed:
            return ALLOWED
        return Verdict(False, int(wait_ms) / 1000, int(index) - 1)


class FallbackRateLimiter:
    """Redis when it answers; this process's own buckets (same limits) when it does not.

    After a failure the local twin answers for ``retry_seconds``; then one check tries Redis
    again (the others keep to the local twin until it answers), so an outage costs at most one
    slow check per ``retry_seconds`` and Redis is used again as soon as it is back. A verdict
    the local twin gave says so (``fallback``).
    """

    def __init__(
        self,
        shared: RateLimiter,
        local: MemoryRateLimiter | None = None,
        retry_seconds: float = RETRY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.shared = shared
        self.local = local or MemoryRateLimiter()
        self.retry_seconds = retry_seconds
        self.clock = clock
        self._down_until: float | None = None  # None: Redis is believed up
        self._probing = False

    @property
    def degraded(self) -> bool:
        return self._down_until is not None

    async def hit(self, limits: Sequence[Limit]) -> Verdict:
        if self._down_until is not None and (self._probing or self.clock() < self._down_until):
            return self._locally(limits)
        probing = self._down_until is not None
        self._probing = probing
        try:
            verdict = await self.shared.hit(limits)
        except StoreUnavailable as exc:
            if self._down_until is None:
                log.warning(
                    "rate limits: Redis unavailable (%s); each replica limits on its own", exc
                )
            self._down_until = self.clock() + self.retry_seconds
            return self._locally(limits)
        finally:
            if probing:
                self._probing = False
        if self._down_until is not None:
            log.warning("rate limits: Redis is back; limits are shared again")
            self._down_until = None
        return verdict

    def _locally(self, limits: Sequence[Limit]) -> Verdict:
        return dataclasses.replace(self.local.hit_now(limits), fallback=True)


def retry_after_header(verdict: Verdict) -> str:
    """``Retry-After`` in whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(verdict.retry_after)))
