"""What the records an action writes share: references, timestamps, the sales channel -- and
taking turns on a record whose lists the gateway rewrites.

TMF references carry the record's id, its ``href`` and ``name`` where it has them, and its
``@referredType``; timestamps are UTC to the second, as the seeded records have them; a
record's channel names the caller's (web, app, IVR...). Written one way here, a ticket, an
order, a payment method or a registered customer refer to things alike.

A JSON merge patch replaces a list whole (a ticket's notes, a person's contact media, a
payment method's accounts): two writers that each read the list, add to it and write it back
lose one addition. :class:`RecordLocks` makes the gateway's own writers of one record take
turns -- a lease in the idempotency store, released when the turn ends, so it holds across
gateway processes sharing Redis -- and an action that rewrites a list reads it fresh inside its
turn, then checks after writing that its addition is there (:func:`lost_write`).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Final

from graph.auth.audit import CHANNEL_NAMES
from graph.context import Info
from graph.errors import Code, GraphError
from graph.sources import BackendRejected
from graph.stores import IdempotencyStore, Run, StoreUnavailable

from .actor import Actor
from .problems import ActionIncomplete, ActionRefused, Problem, ProblemCode, refusal_reason
from .runner import lease_seconds

__all__ = [
    "RecordLocks",
    "backend_refusal",
    "channel_ref",
    "lost_write",
    "now_iso",
    "record_locks",
    "ref",
]

log = logging.getLogger(__name__)


def ref(record: Mapping[str, Any], referred_type: str, **extra: Any) -> dict[str, Any]:
    """A TMF reference to ``record`` (its id, and its href and name where it has them);
    ``extra`` adds or overrides attributes (``role``, another ``name``)."""
    found: dict[str, Any] = {"id": record["id"]}
    for key in ("href", "name"):
        if isinstance(record.get(key), str) and record[key]:
            found[key] = record[key]
    found.update((k, v) for k, v in extra.items() if v is not None)
    found["@referredType"] = referred_type
    return found


def now_iso() -> str:
    """The current time as the records carry it: UTC, to the second (2026-11-26T09:30:00Z)."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def channel_ref(actor: Actor, **extra: Any) -> dict[str, Any]:
    """The channel the actor acts through, as a TMF channel reference (``extra``: a role)."""
    return {"id": actor.channel, "name": CHANNEL_NAMES.get(actor.channel, actor.channel), **extra}


def backend_refusal(refused: BackendRejected, said: str, *field: str) -> ActionRefused:
    """A backend's business refusal (409, 422) as the person's problem: ``said`` with
    ``{reason}`` (the backend's, :func:`refusal_reason`). Any other 4xx is raised again: a
    malformed request is the gateway's fault, not the person's."""
    if refused.status not in (409, 422):
        raise refused
    return ActionRefused.one(
        ProblemCode.BACKEND_REFUSED, said.format(reason=refusal_reason(refused)), *field
    )


class RecordLocks:
    """Turns on records, for the gateway's writers of lists that a merge patch replaces."""

    # Every turn's fingerprint is the same: a claim of a held key then waits for its holder
    # (a different one would be answered at once as a conflict).
    FINGERPRINT: Final = "turn"

    @staticmethod
    def key(resource: str, record_id: str) -> str:
        """The idempotency-store key of the turns on a record."""
        return f"lock:{resource}:{record_id}"

    def __init__(self, store: IdempotencyStore, backend_timeout: float) -> None:
        self.store = store
        # A turn is released as soon as it is done; its lease only ends one whose holder died.
        # It outlasts the backend calls a turn can make (as perform's lease of a key does), so
        # a slow turn is never overtaken; a writer waits as long for its turn.
        self.lease = lease_seconds(backend_timeout)
        self.wait = self.lease

    @asynccontextmanager
    async def turn(self, resource: str, record_id: str, *field: str) -> AsyncIterator[None]:
        """Hold ``resource`` ``record_id`` for the body of the ``async with``; another writer
        of it waits. ``field``: the input field a refusal names (held for too long)."""
        key = self.key(resource, record_id)
        try:
            claim = await self.store.claim(key, self.FINGERPRINT, wait=self.wait, lease=self.lease)
        except StoreUnavailable as exc:
            log.error("no turn on %s %s, its store is unavailable: %s", resource, record_id, exc)
            raise GraphError(
                "This change cannot be made right now (its coordination store does not "
                "answer); nothing was changed. Try again shortly.",
                Code.BACKEND_UNAVAILABLE,
            ) from None
        if not isinstance(claim, Run):  # Busy: another change of it is taking long
            raise ActionRefused.one(
                ProblemCode.ACTION_IN_PROGRESS,
                "Another change of this is being made; try again in a moment.",
                *field,
            )
        try:
            yield
        finally:
            try:
                await self.store.release(key, claim.token)
            except StoreUnavailable as exc:
                log.error("turn on %s %s not released (it expires): %s", resource, record_id, exc)


def record_locks(info: Info) -> RecordLocks:
    """The turns of this request's gateway (its idempotency store)."""
    context = info.context
    return RecordLocks(context.stores.idempotency, context.settings.backend_timeout)


def lost_write(what: str, where: str, done: dict[str, Any] | None = None) -> ActionIncomplete:
    """A write the backend accepted whose effect is not there when read back: another system
    replaced the list meanwhile. Nothing of the action stands; the person is told to repeat."""
    return ActionIncomplete(
        (
            Problem(
                ProblemCode.INCOMPLETE,
                f"{what} was sent and accepted, but {where} does not show it (it was changed "
                "elsewhere at the same moment). Please send it again.",
            ),
        ),
        done or {},
    )
