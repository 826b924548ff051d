"""Timeouts, the operation's deadline, retries of reads and circuit breakers: the breaker's
state machine on a hand-driven clock, and the client's behaviour against the real sandbox over
HTTP, counting the requests the sandbox received."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest

from graph.sandbox import Fault, RunningSandbox
from graph.settings import Settings, SettingsError
from graph.sources import (
    API_BY_KEY,
    BackendRejected,
    BackendTimeout,
    BackendUnavailable,
    CircuitOpen,
    TmfClient,
)
from graph.sources.resilience import (
    BreakerPolicy,
    BreakerState,
    CircuitBreaker,
    RetryPolicy,
    deadline_in,
    time_left,
)
from graph.sources.writes import tracking_writes

CUSTOMERS = API_BY_KEY["TMF629"].base_path


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, **policy: float) -> CircuitBreaker:
    defaults: dict[str, float] = {
        "failure_rate": 0.5,
        "min_calls": 4,
        "window_seconds": 10,
        "open_seconds": 5,
        "probes": 2,
    }
    values = {**defaults, **policy}
    return CircuitBreaker(
        "TMF678",
        BreakerPolicy(
            failure_rate=values["failure_rate"],
            min_calls=int(values["min_calls"]),
            window_seconds=values["window_seconds"],
            open_seconds=values["open_seconds"],
            probes=int(values["probes"]),
        ),
        clock=clock,
    )


def state(b: CircuitBreaker) -> BreakerState:
    return b.state  # (a call: mypy would narrow the property from one assert to the next)


def run(b: CircuitBreaker, outcomes: str) -> None:
    """One call per character: ``o`` succeeded, ``x`` failed, ``-`` released (no verdict)."""
    for outcome in outcomes:
        permit = b.admit()
        {"o": permit.succeeded, "x": permit.failed, "-": permit.release}[outcome]()


# -- the breaker --------------------------------------------------------------------------------


def test_the_breaker_stays_closed_until_the_window_holds_enough_calls() -> None:
    b = breaker(Clock())
    run(b, "xxx")  # 100 % failures, but 3 calls < min_calls 4
    assert state(b) is BreakerState.CLOSED
    run(b, "x")
    assert state(b) is BreakerState.OPEN


def test_the_breaker_opens_on_the_failure_rate_not_on_single_failures() -> None:
    b = breaker(Clock())
    run(b, "oooxoox")  # 2 of 7 failed: under one half
    assert state(b) is BreakerState.CLOSED
    assert b.window() == (7, 2)
    run(b, "xx")  # 4 of 9: still under
    assert state(b) is BreakerState.CLOSED
    run(b, "x")  # 5 of 10: at the rate
    assert state(b) is BreakerState.OPEN


def test_successes_alone_never_open_it_and_released_calls_do_not_count() -> None:
    b = breaker(Clock(), min_calls=2)
    run(b, "x----o")
    assert b.window() == (2, 1)
    assert state(b) is BreakerState.CLOSED  # a success does not trip it, even at the rate
    run(b, "x")
    assert state(b) is BreakerState.OPEN


def test_old_failures_leave_the_window() -> None:
    clock = Clock()
    b = breaker(clock)
    run(b, "xxx")
    clock.now += 11  # past the 10 s window
    run(b, "x")
    assert b.window() == (1, 1)
    assert state(b) is BreakerState.CLOSED


def test_an_open_breaker_refuses_then_probes_after_the_cool_down() -> None:
    clock = Clock()
    b = breaker(clock)
    run(b, "xxxx")
    with pytest.raises(CircuitOpen) as refused:
        b.admit()
    assert isinstance(refused.value, BackendUnavailable)  # clients see BACKEND_UNAVAILABLE
    assert refused.value.api == "TMF678"
    clock.now += 4.9
    assert state(b) is BreakerState.OPEN
    clock.now += 0.1
    assert state(b) is BreakerState.HALF_OPEN
    first, second = b.admit(), b.admit()  # two probes allowed...
    with pytest.raises(CircuitOpen):
        b.admit()  # ...and no third while they are out
    first.succeeded()
    assert state(b) is BreakerState.HALF_OPEN  # one success of the two needed
    with pytest.raises(CircuitOpen):
        b.admit()  # the slot of a successful probe is not given again
    second.succeeded()
    assert state(b) is BreakerState.CLOSED
    assert b.window() == (0, 0)  # closed afresh: the outage's failures are forgotten


def test_a_failed_probe_opens_it_again_for_a_full_cool_down() -> None:
    clock = Clock()
    b = breaker(clock)
    run(b, "xxxx")
    clock.now += 5
    probe = b.admit()
    probe.failed()
    assert state(b) is BreakerState.OPEN
    clock.now += 4.9
    with pytest.raises(CircuitOpen):
        b.admit()
    clock.now += 0.1
    assert state(b) is BreakerState.HALF_OPEN


def test_a_released_probe_frees_its_slot() -> None:
    clock = Clock()
    b = breaker(clock, probes=1)
    run(b, "xxxx")
    clock.now += 5
    b.admit().release()  # cancelled: no verdict
    assert state(b) is BreakerState.HALF_OPEN
    run(b, "o")
    assert state(b) is BreakerState.CLOSED


def test_outcomes_of_calls_admitted_before_a_transition_are_ignored() -> None:
    clock = Clock()
    b = breaker(clock, probes=1)
    late = [b.admit() for _ in range(3)]  # in flight while the breaker opens
    run(b, "xxxx")
    assert state(b) is BreakerState.OPEN
    clock.now += 5
    probe = b.admit()
    late[0].failed()  # an old failure must not re-open a half-open breaker
    assert state(b) is BreakerState.HALF_OPEN
    probe.succeeded()
    late[1].failed()  # nor count in the fresh window
    late[2].succeeded()
    assert state(b) is BreakerState.CLOSED
    assert b.window() == (0, 0)


def test_a_permit_reports_once() -> None:
    b = breaker(Clock(), min_calls=2)
    permit = b.admit()
    permit.failed()
    permit.failed()
    permit.succeeded()
    assert b.window() == (1, 1)


# -- retry policy and deadline -------------------------------------------------------------------


def test_backoff_is_full_jitter_doubling_up_to_a_cap() -> None:
    policy = RetryPolicy(retries=5, base_delay=0.1, max_delay=0.5)
    assert [policy.backoff(n, lambda: 1.0) for n in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    assert policy.backoff(3, lambda: 0.0) == 0.0
    assert policy.backoff(1, lambda: 0.5) == pytest.approx(0.1)


def test_a_deadline_is_only_ever_shortened_by_an_inner_one() -> None:
    assert time_left() is None
    with deadline_in(5):
        outer = time_left()
        assert 4.9 < (outer or 0) <= 5
        with deadline_in(60):
            assert 4.9 < (time_left() or 0) <= 5
        with deadline_in(1):
            assert 0.9 < (time_left() or 0) <= 1
        with deadline_in(None):
            assert 4.9 < (time_left() or 0) <= 5
    assert time_left() is None


def test_settings_read_the_policies_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "CSM_TMF678_TIMEOUT": "1.5",
            "CSM_REQUEST_DEADLINE": "3",
            "CSM_BACKEND_RETRIES": "0",
            "CSM_RETRY_BACKOFF": "0.2",
            "CSM_BREAKER_FAILURE_RATE": "0.25",
            "CSM_BREAKER_MIN_CALLS": "40",
            "CSM_BREAKER_WINDOW": "60",
            "CSM_BREAKER_OPEN_SECONDS": "5",
            "CSM_BREAKER_PROBES": "3",
        }
    )
    policy = settings.resilience
    assert settings.request_deadline == 3
    assert policy.timeout_for("TMF678", settings.backend_timeout) == 1.5
    assert policy.timeout_for("TMF629", settings.backend_timeout) == settings.backend_timeout == 5
    assert policy.retry == RetryPolicy(retries=0, base_delay=0.2, max_delay=1.0)
    assert policy.breaker == BreakerPolicy(
        failure_rate=0.25, min_calls=40, window_seconds=60, open_seconds=5, probes=3
    )
    defaults = Settings.from_env({})
    assert defaults.request_deadline == 8
    assert defaults.resilience.retry == RetryPolicy()
    assert defaults.resilience.breaker == BreakerPolicy()
    assert not defaults.resilience.timeouts


@pytest.mark.parametrize(
    "env",
    [
        {"CSM_TMF678_TIMEOUT": "0"},
        {"CSM_TMF678_TIMEOUT": "soon"},
        {"CSM_REQUEST_DEADLINE": "-1"},
        {"CSM_BACKEND_RETRIES": "-1"},
        {"CSM_BACKEND_RETRIES": "6"},
        {"CSM_BACKEND_RETRIES": "1.5"},
        {"CSM_BREAKER_FAILURE_RATE": "1.5"},
        {"CSM_BREAKER_MIN_CALLS": "0"},
        {"CSM_BREAKER_PROBES": "0"},
        {"CSM_BREAKER_OPEN_SECONDS": "nan"},
    ],
)
def test_bad_resilience_settings_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        Settings.from_env(env)


# -- the client against the sandbox --------------------------------------------------------------

Events = Counter[str]


def client(
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    events: Events,
    *,
    timeout: float | None = 2.0,
    retries: int = 2,
    b: CircuitBreaker | None = None,
    observer: Callable[[str, str, str, float], None] | None = None,
) -> TmfClient:
    return TmfClient(
        "TMF629",
        sandbox.url + CUSTOMERS,
        http,
        observer or (lambda *_: None),
        timeout=timeout,
        retry=RetryPolicy(retries=retries, base_delay=0.01, max_delay=0.02),
        breaker=b,
        events=lambda api, event: events.update([event]),
    )


def sent(sandbox: RunningSandbox, method: str = "GET") -> int:
    return sandbox.faults.by_method[("TMF629", method)]


@pytest.fixture(autouse=True)
async def cleared(sandbox: RunningSandbox) -> AsyncIterator[None]:
    """Hanging requests end when the faults change: cleared before the sandbox stops."""
    yield
    sandbox.faults.clear()


@pytest.mark.parametrize(
    "fault",
    [Fault(down="503"), Fault(down="reset"), Fault(error_rate=1.0, error_status=502)],
    ids=["503", "reset", "502"],
)
async def test_a_failing_read_is_tried_a_bounded_number_of_times(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, fault: Fault
) -> None:
    events: Events = Counter()
    attempts: list[str] = []
    sandbox.faults.set("TMF629", fault)
    tmf = client(sandbox, http, events, observer=lambda _a, _m, status, _s: attempts.append(status))
    with pytest.raises(BackendUnavailable) as failed:
        await tmf.get("customer", "cus-000001")
    assert not isinstance(failed.value, CircuitOpen)
    assert len(attempts) == 3  # the first attempt and two retries
    assert events == {"retry": 2}
    if fault.down == "reset":
        # aiohttp itself tries a GET again once when a kept-alive connection drops.
        assert 3 <= sent(sandbox) <= 6
    else:
        assert sent(sandbox) == 3


async def test_a_read_that_fails_once_succeeds_on_its_retry(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    events: Events = Counter()
    statuses: list[str] = []

    def observe(api: str, method: str, status: str, seconds: float) -> None:
        statuses.append(status)
        sandbox.faults.clear()  # the backend recovers right after the first answer

    sandbox.faults.set("TMF629", Fault(down="503"))
    found = await client(sandbox, http, events, observer=observe).get("customer", "cus-000001")
    assert (found or {}).get("id") == "cus-000001"
    assert statuses == ["503", "200"]
    assert events == {"retry": 1}


async def test_a_4xx_is_an_answer_not_retried(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    events: Events = Counter()
    b = CircuitBreaker("TMF629", BreakerPolicy(min_calls=1))
    tmf = client(sandbox, http, events, b=b)
    with pytest.raises(BackendRejected):
        await tmf.list_all("customer", {"shoeSize": "44"})
    assert await tmf.get("customer", "cus-999999") is None  # 404
    assert sent(sandbox) == 2
    assert not events
    assert state(b) is BreakerState.CLOSED  # the backend works
    assert b.window() == (2, 0)


@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE"])
async def test_writes_are_never_retried(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, method: str
) -> None:
    events: Events = Counter()
    sandbox.faults.set("TMF629", Fault(down="503"))
    tmf = client(sandbox, http, events)
    writes_of: dict[str, Callable[[], Awaitable[object]]] = {
        "POST": lambda: tmf.create("customer", {"name": "x"}),
        "PATCH": lambda: tmf.patch("customer", "cus-000001", {"name": "x"}),
        "DELETE": lambda: tmf.delete("customer", "cus-000001"),
    }
    with tracking_writes() as writes, pytest.raises(BackendUnavailable):
        await writes_of[method]()
    assert sent(sandbox, method) == 1
    assert writes.sent == 1
    assert not events


async def test_a_timed_out_write_is_not_retried_either(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    events: Events = Counter()
    sandbox.faults.set("TMF629", Fault(hang=True))
    with pytest.raises(BackendTimeout):
        await client(sandbox, http, events, timeout=0.1).create("customer", {"name": "x"})
    assert sent(sandbox, "POST") == 1
    assert events == {"timeout": 1}


async def test_a_read_that_times_out_is_retried_within_its_timeout_each_time(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    events: Events = Counter()
    sandbox.faults.set("TMF629", Fault(latency_ms=500))
    started = time.monotonic()
    with pytest.raises(BackendTimeout):
        await client(sandbox, http, events, timeout=0.1, retries=1).get("customer", "cus-000001")
    elapsed = time.monotonic() - started
    assert 0.2 <= elapsed < 0.5, elapsed
    assert sent(sandbox) == 2
    assert events == {"timeout": 2, "retry": 1}


async def test_no_attempt_waits_past_the_deadline(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    events: Events = Counter()
    sandbox.faults.set("TMF629", Fault(hang=True))
    b = CircuitBreaker("TMF629", BreakerPolicy(min_calls=1))
    tmf = client(sandbox, http, events, timeout=10, b=b)
    started = time.monotonic()
    with deadline_in(0.3), pytest.raises(BackendTimeout):
        await tmf.get("customer", "cus-000001")
    elapsed = time.monotonic() - started
    assert 0.29 <= elapsed < 0.4, elapsed
    assert sent(sandbox) == 1  # cut by the deadline: not retried
    assert events == {"timeout": 1}
    # The deadline's doing, not the backend's: no verdict for the breaker.
    assert state(b) is BreakerState.CLOSED
    assert b.window() == (0, 0)


async def test_no_request_once_the_deadline_has_passed(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    events: Events = Counter()
    with deadline_in(0.0), pytest.raises(BackendTimeout):
        await client(sandbox, http, events).get("customer", "cus-000001")
    assert sent(sandbox) == 0
    assert events == {"timeout": 1}


async def test_no_retry_is_started_that_the_deadline_would_cut(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    events: Events = Counter()
    sandbox.faults.set("TMF629", Fault(latency_ms=150, down="503"))
    with deadline_in(0.19), pytest.raises(BackendUnavailable):
        await client(sandbox, http, events, retries=5).get("customer", "cus-000001")
    assert sent(sandbox) == 1  # < 50 ms left after the first answer: no second try
    assert not events


async def test_an_open_breaker_refuses_without_a_request_and_recovers(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    events: Events = Counter()
    b = CircuitBreaker(
        "TMF629", BreakerPolicy(min_calls=4, window_seconds=30, open_seconds=0.2, probes=1)
    )
    tmf = client(sandbox, http, events, retries=1, b=b)
    sandbox.faults.set("TMF629", Fault(down="503"))
    for _ in range(2):  # two calls of two attempts each: 4 failures
        with pytest.raises(BackendUnavailable):
            await tmf.get("customer", "cus-000001")
    assert state(b) is BreakerState.OPEN
    assert sent(sandbox) == 4
    with pytest.raises(CircuitOpen):
        await tmf.get("customer", "cus-000001")
    with tracking_writes() as writes, pytest.raises(CircuitOpen):
        await tmf.create("customer", {"name": "x"})
    assert writes.sent == 0  # refused before sending: nothing can land
    assert sent(sandbox) == 4
    assert sent(sandbox, "POST") == 0
    assert events == {"retry": 2, "rejection": 2}

    sandbox.faults.clear()
    await _sleep(0.2)
    assert state(b) is BreakerState.HALF_OPEN
    found = await tmf.get("customer", "cus-000001")  # the probe
    assert found is not None
    assert state(b) is BreakerState.CLOSED
    assert sent(sandbox) == 5


async def test_a_probe_meeting_the_fault_opens_it_again(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    events: Events = Counter()
    b = CircuitBreaker("TMF629", BreakerPolicy(min_calls=2, open_seconds=0.1, probes=1))
    tmf = client(sandbox, http, events, retries=1, b=b)
    sandbox.faults.set("TMF629", Fault(error_rate=1.0))
    with pytest.raises(BackendUnavailable):
        await tmf.get("customer", "cus-000001")
    assert state(b) is BreakerState.OPEN
    await _sleep(0.1)
    with pytest.raises(BackendUnavailable) as failed:
        await tmf.get("customer", "cus-000001")  # the probe fails; its retry is refused
    assert not isinstance(failed.value, CircuitOpen)  # the real failure is reported
    assert state(b) is BreakerState.OPEN
    assert sent(sandbox) == 3


async def test_a_readiness_probe_is_one_attempt(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    events: Events = Counter()
    tmf = client(sandbox, http, events)
    await tmf.probe("customer")
    sandbox.faults.set("TMF629", Fault(down="503"))
    with pytest.raises(BackendUnavailable):
        await tmf.probe("customer")
    assert sent(sandbox) == 2
    assert not events


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds + 0.01)
