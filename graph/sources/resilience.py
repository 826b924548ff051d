"""How backend calls survive slow and failing backends: timeouts, a deadline, retries, breakers.

A backend that is slow or down must cost the fields that need it, not the whole operation, nor
pile up requests on the backend while it struggles. :class:`~.client.TmfClient` applies, per
call:

- **The operation's deadline** (:func:`deadline_in`, a context variable the server sets when an
  operation starts): no attempt waits past it, and no attempt starts once it has passed.
- **Its API's timeout** (:class:`ResiliencePolicy` ``timeouts``, else the default one) per
  attempt, shortened to what is left before the deadline.
- **Retries of reads** (:class:`RetryPolicy`): a GET that met a 5xx, a lost connection or its
  API's timeout is tried again after a jittered exponential backoff, a bounded number of times
  and only while the deadline leaves room. Writes (POST, PATCH, DELETE) are never retried here:
  the actions framework owns write safety (idempotency keys, correlators).
- **A circuit breaker per API** (:class:`CircuitBreaker`): opens when the share of failed calls in
  a sliding window passes a threshold (given enough calls), then refuses calls at once
  (:class:`CircuitOpen`, no HTTP request) for a cool-down; then lets a few probe calls through
  (half-open): their success closes it, a failure opens it again.

Failures, for the breaker and for retries, are what says the backend is unwell: a 5xx, a lost or
refused connection, an attempt that ran out of its API's timeout. A 4xx is an answer (the backend
works); a timeout cut short by the operation's deadline says nothing about the backend and is
not counted either way. Breakers are per process (each replica judges the backends it sees).
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from .apis import APIS
from .errors import BackendUnavailable

__all__ = [
    "DEADLINE",
    "BreakerPolicy",
    "BreakerState",
    "CircuitBreaker",
    "CircuitOpen",
    "Permit",
    "ResilienceConfigError",
    "ResilienceObserver",
    "ResiliencePolicy",
    "RetryPolicy",
    "deadline_in",
    "resilience_from_env",
    "time_left",
]

Clock = Callable[[], float]

# (api, event): "retry" (an attempt is repeated), "timeout" (an attempt ran out of time, or a
# call found the deadline passed), "rejection" (an open breaker refused a call).
ResilienceObserver = Callable[[str, str], None]

# The monotonic time (time.monotonic()) the current operation must be answered by, or None.
DEADLINE: Final[ContextVar[float | None]] = ContextVar("csm_deadline", default=None)


@contextmanager
def deadline_in(seconds: float | None) -> Iterator[None]:
    """Backend calls made inside the block -- and in tasks started from it, which copy the
    context -- end within ``seconds`` from now (or by an enclosing, earlier deadline).
    ``None`` adds no deadline."""
    if seconds is None:
        yield
        return
    mine = time.monotonic() + seconds
    current = DEADLINE.get()
    token = DEADLINE.set(mine if current is None else min(current, mine))
    try:
        yield
    finally:
        DEADLINE.reset(token)


def time_left() -> float | None:
    """Seconds left before the current operation's deadline (<= 0: passed); None: no deadline."""
    deadline = DEADLINE.get()
    return None if deadline is None else deadline - time.monotonic()


class ResilienceConfigError(ValueError):
    """A resilience setting is malformed."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries of idempotent reads: ``retries`` more attempts after the first, the n-th after a
    random delay between 0 and ``min(max_delay, base_delay * 2**n)`` ("full jitter": retries
    of many callers spread out instead of arriving together)."""

    retries: int = 2
    base_delay: float = 0.05
    max_delay: float = 1.0

    def backoff(self, retry: int, draw: Callable[[], float] = random.random) -> float:
        """The delay before retry number ``retry`` (0 for the first retry)."""
        return draw() * min(self.max_delay, self.base_delay * 2.0**retry)


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When an API's breaker opens and how it recovers."""

    failure_rate: float = 0.5  # share of failed calls in the window that opens it...
    min_calls: int = 10  # ...once the window holds at least this many calls
    window_seconds: float = 30.0  # how far back calls count
    open_seconds: float = 15.0  # cool-down: calls are refused this long, then probes go
    probes: int = 2  # calls let through while half-open; that many successes close it


@dataclass(frozen=True, slots=True)
class ResiliencePolicy:
    """Per-API timeouts (overrides of the default backend timeout), retries and breakers."""

    timeouts: Mapping[str, float] = field(default_factory=dict)  # API key -> seconds
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)

    def timeout_for(self, api: str, default: float) -> float:
        return self.timeouts.get(api, default)


class BreakerState(StrEnum):
    CLOSED = "closed"  # calls go through; outcomes are counted
    OPEN = "open"  # calls are refused without a request
    HALF_OPEN = "half_open"  # a few probe calls go through; the rest are refused

    @property
    def level(self) -> int:
        """The state as a number, for the ``csm_breaker_state`` gauge."""
        return {"closed": 0, "half_open": 1, "open": 2}[self.value]


class CircuitOpen(BackendUnavailable):
    """Refused without a request: the API's breaker is open."""


class Permit:
    """One call let through by a breaker; its outcome is reported exactly once."""

    __slots__ = ("_breaker", "_done", "_generation", "_probe")

    def __init__(self, breaker: CircuitBreaker, generation: int, probe: bool) -> None:
        self._breaker = breaker
        self._generation = generation
        self._probe = probe
        self._done = False

    def succeeded(self) -> None:
        self._report(True)

    def failed(self) -> None:
        self._report(False)

    def release(self) -> None:
        """No verdict on the backend (cancelled, or cut short by the deadline)."""
        self._report(None)

    def _report(self, ok: bool | None) -> None:
        if not self._done:
            self._done = True
            self._breaker.report(self._generation, self._probe, ok)


class CircuitBreaker:
    """One API's breaker. Not thread-safe: one per event loop, as the clients are."""

    def __init__(
        self, api: str, policy: BreakerPolicy | None = None, clock: Clock = time.monotonic
    ) -> None:
        self.api = api
        self.policy = policy or BreakerPolicy()
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._generation = 0  # bumped on every transition: late outcomes are ignored
        self._opened_at = 0.0
        self._probing = 0  # probes in flight
        self._passed = 0  # probes that succeeded
        # Calls of the window in buckets of a tenth of it: [bucket start, calls, failures].
        self._width = self.policy.window_seconds / 10
        self._buckets: deque[list[float]] = deque()

    @property
    def state(self) -> BreakerState:
        if (
            self._state is BreakerState.OPEN
            and self._clock() - self._opened_at >= self.policy.open_seconds
        ):
            self._move(BreakerState.HALF_OPEN)
        return self._state

    def admit(self) -> Permit:
        """A permit for one call, or :class:`CircuitOpen` when the call must not be made."""
        state = self.state
        if state is BreakerState.CLOSED:
            return Permit(self, self._generation, probe=False)
        if state is BreakerState.HALF_OPEN and self._probing + self._passed < self.policy.probes:
            self._probing += 1
            return Permit(self, self._generation, probe=True)
        raise CircuitOpen(self.api, "circuit open: calls are refused for now")

    def window(self) -> tuple[int, int]:
        """Calls and failures counted in the current window (closed state)."""
        self._prune()
        return int(sum(b[1] for b in self._buckets)), int(sum(b[2] for b in self._buckets))

    def report(self, generation: int, probe: bool, ok: bool | None) -> None:
        """A call's outcome (through its :class:`Permit`): True ok, False failed, None no
        verdict."""
        if generation != self._generation:
            return  # a call admitted before the last transition: it says nothing now
        if probe:
            self._probing -= 1
            if ok is False:
                self._move(BreakerState.OPEN)
            elif ok:
                self._passed += 1
                if self._passed >= self.policy.probes:
                    self._move(BreakerState.CLOSED)
            return
        if ok is None:
            return
        self._count(failed=not ok)
        if not ok:
            calls, failures = self.window()
            if calls >= self.policy.min_calls and failures >= self.policy.failure_rate * calls:
                self._move(BreakerState.OPEN)

    def _count(self, failed: bool) -> None:
        now = self._clock()
        start = now - now % self._width if self._width > 0 else now
        if not self._buckets or self._buckets[-1][0] != start:
            self._buckets.append([start, 0, 0])
        bucket = self._buckets[-1]
        bucket[1] += 1
        bucket[2] += failed

    def _prune(self) -> None:
        oldest = self._clock() - self.policy.window_seconds
        while self._buckets and self._buckets[0][0] + self._width <= oldest:
            self._buckets.popleft()

    def _move(self, state: BreakerState) -> None:
        self._state = state
        self._generation += 1
        self._probing = self._passed = 0
        self._buckets.clear()
        if state is BreakerState.OPEN:
            self._opened_at = self._clock()


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ResilienceConfigError(f"{name} must be a number, not {raw!r}") from None
    if not value > 0 or value == float("inf"):
        raise ResilienceConfigError(f"{name} must be a positive number")
    return value


def _whole(env: Mapping[str, str], name: str, default: int, least: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ResilienceConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if value < least:
        raise ResilienceConfigError(f"{name} must be at least {least}")
    return value


MAX_RETRIES: Final = 5


def resilience_from_env(env: Mapping[str, str]) -> ResiliencePolicy:
    """The policy from ``CSM_<API>_TIMEOUT``, ``CSM_BACKEND_RETRIES``, ``CSM_RETRY_BACKOFF`` and
    ``CSM_BREAKER_*`` (see graph/settings.py)."""
    timeouts = {
        api.key: _positive(env, f"CSM_{api.key}_TIMEOUT", 0.0)
        for api in APIS
        if env.get(f"CSM_{api.key}_TIMEOUT")
    }
    retry, breaker = RetryPolicy(), BreakerPolicy()  # the defaults
    retries = _whole(env, "CSM_BACKEND_RETRIES", retry.retries, 0)
    if retries > MAX_RETRIES:
        raise ResilienceConfigError(f"CSM_BACKEND_RETRIES must be at most {MAX_RETRIES}")
    base = _positive(env, "CSM_RETRY_BACKOFF", retry.base_delay)
    rate = _positive(env, "CSM_BREAKER_FAILURE_RATE", breaker.failure_rate)
    if rate > 1:
        raise ResilienceConfigError("CSM_BREAKER_FAILURE_RATE is a share between 0 and 1")
    return ResiliencePolicy(
        timeouts=timeouts,
        retry=RetryPolicy(retries=retries, base_delay=base, max_delay=max(base, retry.max_delay)),
        breaker=BreakerPolicy(
            failure_rate=rate,
            min_calls=_whole(env, "CSM_BREAKER_MIN_CALLS", breaker.min_calls, 1),
            window_seconds=_positive(env, "CSM_BREAKER_WINDOW", breaker.window_seconds),
            open_seconds=_positive(env, "CSM_BREAKER_OPEN_SECONDS", breaker.open_seconds),
            probes=_whole(env, "CSM_BREAKER_PROBES", breaker.probes, 1),
        ),
    )
