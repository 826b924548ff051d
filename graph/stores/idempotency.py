"""Idempotency keys: an action sent twice with the same key runs once, and both get its outcome.

A client sends ``idempotencyKey`` with an action that must not happen twice (a payment). Per
key (already namespaced by the caller: customer, action and key), the store keeps the input's
fingerprint and, once the action has finished, its outcome. :meth:`IdempotencyStore.claim`
answers one of:

- :class:`Run` -- the caller holds the key (a *lease*) and runs the action, then calls
  :meth:`~IdempotencyStore.finish` with the outcome or :meth:`~IdempotencyStore.release` when
  nothing happened (the key is free again);
- :class:`Replay` -- the action has finished: here is its outcome;
- :class:`Conflict` -- the key was used with a different input;
- :class:`Busy` -- another caller holds the key and did not finish within ``wait`` seconds,
  or an earlier attempt's outcome is not known yet (``unsettled``, see :meth:`hold`).

A caller that claims while another runs waits for that outcome (``wait`` seconds), so two
concurrent requests -- to one gateway process or to two sharing Redis -- get the same answer.
A lease that its holder never finishes (a process killed mid-action) expires after
``lease_seconds``; whoever claims next runs the action again, which is why actions must also be
able to find their own earlier effect at the backend (a payment carries its key as
``correlatorId``). Outcomes are kept ``keep_seconds`` (24 h by default). A holder whose
action failed in a way that leaves its outcome unknown (a write that timed out may still land)
does not release the key but :meth:`hold` s it for a settling time: until then a repeat is told
at once that the outcome is not known yet, and afterwards it runs and finds the earlier effect
by its correlator -- never racing a write that is still in flight.

Redis: the lease is ``SET key pending NX PX lease``; finishing and releasing are compare-and-set
scripts on the lease holder's token, so a holder whose lease expired cannot overwrite a newer
holder's outcome. Any Redis failure raises :class:`StoreUnavailable`: callers fail closed (a
payment is refused, never made without the guarantee).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from dataclasses import dataclass
from typing import Any, Final, Protocol

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

__all__ = [
    "Busy",
    "Claim",
    "Conflict",
    "IdempotencyStore",
    "MemoryIdempotency",
    "RedisIdempotency",
    "Replay",
    "Run",
    "StoreUnavailable",
]

LEASE_SECONDS: Final = 60.0  # longer than any action's backend calls take (timeouts included)
SWEEP_SECONDS: Final = 1.0  # memory store: expired keys are dropped at most this often
KEEP_SECONDS: Final = 24 * 3600.0
WAIT_SECONDS: Final = 15.0


@dataclass(frozen=True, slots=True)
class Run:
    token: str  # the lease holder's token, for finish/release


@dataclass(frozen=True, slots=True)
class Replay:
    outcome: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Conflict:
    pass


@dataclass(frozen=True, slots=True)
class Busy:
    unsettled: bool = False  # an earlier attempt's outcome is not known yet


Claim = Run | Replay | Conflict | Busy


class StoreUnavailable(Exception):
    """The store could not be reached: the caller cannot know whether the key was used."""


class IdempotencyStore(Protocol):
    async def claim(
        self, key: str, fingerprint: str, wait: float = WAIT_SECONDS, lease: float | None = None
    ) -> Claim: ...

    async def finish(self, key: str, token: str, outcome: dict[str, Any]) -> None: ...

    async def release(self, key: str, token: str) -> None: ...

    async def hold(self, key: str, token: str, seconds: float) -> None: ...


class MemoryIdempotency:
    """One process's keys, in memory (the embedded default)."""

    def __init__(
        self, lease_seconds: float = LEASE_SECONDS, keep_seconds: float = KEEP_SECONDS
    ) -> None:
        self.lease_seconds = lease_seconds
        self.keep_seconds = keep_seconds
        # key -> (fingerprint, token or None when done, outcome, expires at, finished event)
        self._entries: dict[str, _Entry] = {}
        self._next_sweep = 0.0

    async def claim(
        self, key: str, fingerprint: str, wait: float = WAIT_SECONDS, lease: float | None = None
    ) -> Claim:
        deadline = time.monotonic() + wait
        while True:
            now = time.monotonic()
            self._expire(now)
            entry = self._entries.get(key)
            if entry is not None and entry.expires <= now:  # not swept yet
                del self._entries[key]
                entry.changed.set()
                entry = None
            if entry is None:
                token = secrets.token_hex(16)
                expires = now + (lease or self.lease_seconds)
                self._entries[key] = _Entry(fingerprint, token, None, expires)
                return Run(token)
            if entry.fingerprint != fingerprint:
                return Conflict()
            if entry.outcome is not None:
                return Replay(orjson.loads(entry.outcome))
            if entry.unsettled:
                return Busy(unsettled=True)
            left = deadline - now
            if left <= 0:
                return Busy()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(entry.changed.wait(), min(left, entry.expires - now))

    async def finish(self, key: str, token: str, outcome: dict[str, Any]) -> None:
        # Kept as Redis keeps it: JSON, not the caller's dict -- as text: the bytes orjson
        # returns keep a 4 KiB buffer each, and outcomes are kept for a day.
        encoded = orjson.dumps(outcome).decode()
        entry = self._entries.get(key)
        if entry is None or entry.token != token:
            return  # the lease expired and someone else holds the key now
        entry.token = None
        entry.outcome = encoded
        entry.expires = time.monotonic() + self.keep_seconds
        entry.changed.set()

    async def release(self, key: str, token: str) -> None:
        entry = self._entries.get(key)
        if entry is not None and entry.token == token:
            del self._entries[key]
            entry.changed.set()

    async def hold(self, key: str, token: str, seconds: float) -> None:
        entry = self._entries.get(key)
        if entry is not None and entry.token == token:
            entry.unsettled = True
            entry.expires = time.monotonic() + seconds
            entry.changed.set()

    def _expire(self, now: float) -> None:
        """Drop expired keys -- a pass over all of them, so at most every SWEEP_SECONDS."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_SECONDS
        for key in [k for k, e in self._entries.items() if e.expires <= now]:
            self._entries.pop(key).changed.set()


class _Entry:
    __slots__ = ("changed", "expires", "fingerprint", "outcome", "token", "unsettled")

    def __init__(
        self, fingerprint: str, token: str | None, outcome: str | None, expires: float
    ) -> None:
        self.fingerprint = fingerprint
        self.token = token
        self.outcome = outcome
        self.expires = expires
        self.unsettled = False
        self.changed = asyncio.Event()


# KEYS[1] the key; ARGV[1] the holder's token; ARGV[2] the outcome as JSON ("" = release,
# "unsettled" = hold the lease with the outcome unknown);
# ARGV[3] how long to keep it, in ms. Changes the key only while the caller still holds it;
# the outcome is spliced in as text, so it is stored exactly as the gateway encoded it.
_SWAP: Final = """
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local entry = cjson.decode(current)
if entry.token ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
elseif ARGV[2] == 'unsettled' then
  entry.unsettled = true
  redis.call('SET', KEYS[1], cjson.encode(entry), 'PX', ARGV[3])
else
  local done = '{"fp":' .. cjson.encode(entry.fp) .. ',"outcome":' .. ARGV[2] .. '}'
  redis.call('SET', KEYS[1], done, 'PX', ARGV[3])
end
return 1
"""


class RedisIdempotency:
    """Keys in Redis, shared by every gateway process using it."""

    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str = "csm:",
        lease_seconds: float = LEASE_SECONDS,
        keep_seconds: float = KEEP_SECONDS,
        poll_seconds: float = 0.02,
    ) -> None:
        self.client = client
        self.prefix = prefix + "idem:"
        self.lease_ms = int(lease_seconds * 1000)
        self.keep_ms = int(keep_seconds * 1000)
        self.poll_seconds = poll_seconds
        self._swap = client.register_script(_SWAP)

    async def claim(
        self, key: str, fingerprint: str, wait: float = WAIT_SECONDS, lease: float | None = None
    ) -> Claim:
        name = self.prefix + key
        lease_ms = int(lease * 1000) if lease else self.lease_ms
        deadline = time.monotonic() + wait
        delay = self.poll_seconds
        while True:
            token = secrets.token_hex(16)
            pending = orjson.dumps({"fp": fingerprint, "token": token})
            try:
                if await self.client.set(name, pending, nx=True, px=lease_ms):
                    return Run(token)
                raw = await self.client.get(name)
            except (RedisError, OSError) as exc:
                raise StoreUnavailable(str(exc)) from exc
            if raw is None:
                continue  # released or expired between the two calls: try again
            entry = orjson.loads(raw)
            if entry.get("fp") != fingerprint:
                return Conflict()
            if "outcome" in entry:
                return Replay(entry["outcome"])
            if entry.get("unsettled"):
                return Busy(unsettled=True)
            if time.monotonic() >= deadline:
                return Busy()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)

    async def finish(self, key: str, token: str, outcome: dict[str, Any]) -> None:
        await self._run_swap(key, token, orjson.dumps(outcome).decode(), self.keep_ms)

    async def release(self, key: str, token: str) -> None:
        await self._run_swap(key, token, "", 0)

    async def hold(self, key: str, token: str, seconds: float) -> None:
        await self._run_swap(key, token, "unsettled", int(seconds * 1000))

    async def _run_swap(self, key: str, token: str, value: str, ttl_ms: int) -> None:
        try:
            await self._swap(keys=[self.prefix + key], args=[token, value, ttl_ms])
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(str(exc)) from exc
