"""Running an action: its idempotency key, its record, and fresh reads afterwards.

:func:`perform` wraps the part of an action that reads the backends' current state, decides
and writes. With an idempotency key it first claims the key (:mod:`graph.stores.idempotency`),
so that a repeated request replays the first one's outcome instead of deciding again against a
state the first one already changed (a paid bill has nothing left to pay). The lease on the key
outlasts every backend call the action can make (:func:`lease_seconds`). A refusal -- of the
input, or a backend's 4xx -- releases the key, so corrected input may use it again. Any other
failure may leave the outcome unknown (a POST that timed out can still land): the key is then
*held* (if a write had been sent: :mod:`graph.sources.writes`), unsettled, for
:func:`settle_seconds`, during which a repeat is told to wait; afterwards a
repeat runs and finds the earlier effect by the correlator the action's record carries (a
payment's ``correlatorId``) -- it never races a write still in flight. If the store cannot be
reached the action is not run: an action that needs a key fails closed rather than risk
happening twice.

After the action, the request's loaders are emptied, so the payload (and any later field of the
same operation) reads the state the action left -- read-your-writes.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from graph.context import Info
from graph.errors import Code, GraphError
from graph.sources import BackendRejected
from graph.sources.writes import tracking_writes
from graph.stores import Busy, Conflict, Replay, Run, StoreUnavailable
from graph.stores.idempotency import LEASE_SECONDS

from .actor import Actor
from .problems import ActionIncomplete, ActionRefused, ProblemCode
from .recording import Touched, record_action

__all__ = ["IDEMPOTENCY_KEY", "Done", "perform"]

log = logging.getLogger(__name__)

# A UUID, a ULID or any opaque token of the client's; no spaces or separators of ours.
IDEMPOTENCY_KEY: Final = re.compile(r"[A-Za-z0-9_.:-]{8,128}")


@dataclass(frozen=True, slots=True)
class Done:
    """What an action did: its ``outcome`` (JSON: the ids the payload is rebuilt from, also
    what a replay returns), a one-line ``summary`` and the objects it touched, for the record."""

    outcome: dict[str, Any]
    summary: str
    touched: list[Touched] = field(default_factory=list)


async def perform(
    info: Info,
    actor: Actor,
    action: str,
    run: Callable[[], Awaitable[Done]],
    *,
    idempotency_key: str | None = None,
    request: Any = None,
) -> dict[str, Any]:
    """Run ``action`` once per idempotency key (``request`` is the input it must match) and
    record it; returns its outcome."""
    started = datetime.datetime.now(datetime.UTC)
    context = info.context
    try:
        if idempotency_key is None:
            done = await run()
        else:
            replayed, done = await _once(info, actor, action, run, idempotency_key, request)
            if replayed is not None:
                return replayed
    except ActionIncomplete as incomplete:
        # Part of it happened: that is recorded too, with what the customer was told.
        stopped = " ".join(p.message for p in incomplete.problems)
        summary = f"started {action}, which stopped midway ({stopped})"
        record_action(context.audit, actor, action, summary, [], started)
        raise
    finally:
        _forget_reads(info, actor)
    record_action(context.audit, actor, action, done.summary, done.touched, started)
    return done.outcome


async def _once(
    info: Info,
    actor: Actor,
    action: str,
    run: Callable[[], Awaitable[Done]],
    key: str,
    request: Any,
) -> tuple[dict[str, Any] | None, Done]:
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise ActionRefused.one(
            ProblemCode.INVALID_INPUT,
            "An idempotency key is 8 to 128 letters, digits or . _ : - (a UUID will do).",
            "idempotencyKey",
        )
    store = info.context.stores.idempotency
    digest = hashlib.sha256(key.encode()).hexdigest()
    name = f"{actor.customer_id}:{action}:{digest}"
    fingerprint = hashlib.sha256(orjson.dumps(request, option=orjson.OPT_SORT_KEYS)).hexdigest()
    timeout = info.context.settings.backend_timeout
    try:
        claim = await store.claim(name, fingerprint, lease=lease_seconds(timeout))
    except StoreUnavailable as exc:
        log.error("idempotency store unavailable for %s: %s", action, exc)
        raise GraphError(
            f"{action} is unavailable right now (its idempotency store does not answer); "
            "nothing was done. Try again shortly.",
            Code.BACKEND_UNAVAILABLE,
        ) from None
    if isinstance(claim, Replay):
        return claim.outcome, Done(claim.outcome, "")
    if isinstance(claim, Conflict):
        raise ActionRefused.one(
            ProblemCode.IDEMPOTENCY_KEY_REUSED,
            "This idempotency key was already used for a different request.",
            "idempotencyKey",
        )
    if isinstance(claim, Busy):
        raise ActionRefused.one(
            ProblemCode.ACTION_IN_PROGRESS,
            f"An earlier attempt of this request did not finish cleanly; its outcome is being "
            f"settled. Ask again in {settle_seconds(timeout):.0f} seconds: it will not be done "
            "twice."
            if claim.unsettled
            else "The same request is still being processed; ask again in a moment.",
            "idempotencyKey",
        )
    assert isinstance(claim, Run)
    with tracking_writes() as writes:
        try:
            done = await run()
        except (ActionRefused, ActionIncomplete, BackendRejected, GraphError):
            # Refused before anything was written, or by the backend itself: nothing happened
            # that a repeat could double (an incomplete action said what it did and undid).
            await _release(store, name, claim.token)
            raise
        except BaseException:
            if writes.sent == 0:  # failed while reading: nothing can land later
                await _release(store, name, claim.token)
            else:
                # A write timed out, met a 5xx or a lost connection, or the request was
                # cancelled: it may still land. The key stays taken until that is settled;
                # then a repeat finds the effect.
                await _hold(store, name, claim.token, settle_seconds(timeout))
            raise
    try:
        await store.finish(name, claim.token, done.outcome)
    except StoreUnavailable as exc:
        # Done, but not remembered: a repeat finds the backend's record by its correlator.
        log.error("idempotency store lost the outcome of %s: %s", action, exc)
    return None, done


def lease_seconds(backend_timeout: float) -> float:
    """How long a key is held while its action runs: longer than its backend calls can take."""
    return max(LEASE_SECONDS, 10 * backend_timeout)


def settle_seconds(backend_timeout: float) -> float:
    """How long an action's outcome stays unknown after a failure: a write still in flight has
    landed or failed by then."""
    return 3 * backend_timeout + 5


async def _hold(store: Any, name: str, token: str, seconds: float) -> None:
    try:
        await store.hold(name, token, seconds)
    except StoreUnavailable as exc:
        log.error("idempotency key not held (it expires with its lease): %s", exc)


async def _release(store: Any, name: str, token: str) -> None:
    try:
        await store.release(name, token)
    except StoreUnavailable as exc:
        log.error("idempotency key not released (it expires with its lease): %s", exc)


def _forget_reads(info: Info, actor: Actor) -> None:
    info.context.loaders.clear()
    if actor.loaders is not info.context.loaders:
        actor.loaders.clear()
