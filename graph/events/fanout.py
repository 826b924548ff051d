"""From the broadcast to this replica's subscribers: each event once, and no subscriber
holding up another.

One task per replica reads the broadcast (:mod:`graph.stores.pubsub`) and hands each event to
the local subscribers that asked for its resource. An event id seen recently is dropped (a
backend that delivers twice, or two registered replicas publishing the same event). Each
subscriber has a bounded queue: a subscriber that falls :attr:`Subscriber.maxsize` events
behind is not allowed to slow the others -- its queue is dropped and its next read raises
:class:`EventsMissed`, which ends its subscription with an error telling the client to
subscribe again and reload. A broadcast gap (Redis lost and back) ends every subscription the
same way, since events may have been missed meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from typing import Final

from graph.stores import GAP, Broadcast

from .model import ChangeEvent

__all__ = ["EventFanout", "EventsMissed", "Subscriber"]

log = logging.getLogger(__name__)

QUEUE_SIZE: Final = 100
RECENT_IDS: Final = 10_000


class EventsMissed(Exception):
    """Events for this subscriber were lost: it fell behind, or the broadcast had a gap."""


class Subscriber:
    """One GraphQL subscription's view of the events of some resources."""

    def __init__(self, resources: frozenset[str], maxsize: int = QUEUE_SIZE) -> None:
        self.resources = resources
        self.maxsize = maxsize
        self._queue: asyncio.Queue[ChangeEvent | None] = asyncio.Queue()
        self._missed: str | None = None

    def offer(self, event: ChangeEvent) -> bool:
        """Queue ``event``; False when the subscriber has (now or before) fallen behind."""
        if self._missed is not None:
            return False
        if self._queue.qsize() >= self.maxsize:
            self.miss(f"it fell more than {self.maxsize} events behind")
            return False
        self._queue.put_nowait(event)
        return True

    def miss(self, why: str) -> None:
        if self._missed is None:
            self._missed = why
            log.warning("events: a subscription is ended: %s", why)
            while not self._queue.empty():  # what it had not read yet is dropped
                self._queue.get_nowait()
            self._queue.put_nowait(None)  # wakes a reader waiting on this same queue

    def close(self) -> None:
        self._queue.put_nowait(None)

    def __aiter__(self) -> Subscriber:
        return self

    async def __anext__(self) -> ChangeEvent:
        event = await self._queue.get()
        if event is not None:
            return event
        if self._missed is not None:
            raise EventsMissed(self._missed)
        raise StopAsyncIteration


class EventFanout:
    """This replica's subscribers, fed from the broadcast by one task."""

    def __init__(self, broadcast: Broadcast, queue_size: int = QUEUE_SIZE) -> None:
        self.broadcast = broadcast
        self.queue_size = queue_size  # events a subscriber may fall behind before it is ended
        self._subscribers: set[Subscriber] = set()
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._task: asyncio.Task[None] | None = None
        self.counts = {"received": 0, "duplicates": 0, "delivered": 0, "overflows": 0}

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="event-fanout")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for subscriber in list(self._subscribers):
            subscriber.close()

    @contextlib.contextmanager
    def subscribe(
        self, resources: frozenset[str], maxsize: int | None = None
    ) -> Iterator[Subscriber]:
        subscriber = Subscriber(resources, maxsize or self.queue_size)
        self._subscribers.add(subscriber)
        try:
            yield subscriber
        finally:
            self._subscribers.discard(subscriber)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    async def _run(self) -> None:
        messages: AsyncIterator[bytes] = self.broadcast.messages()
        async for payload in messages:
            if payload == GAP:
                for subscriber in list(self._subscribers):
                    subscriber.miss("the event broadcast was interrupted")
                continue
            try:
                event = ChangeEvent.from_json(payload)
            except (ValueError, KeyError, TypeError):
                log.error("event broadcast: a malformed message was dropped")
                continue
            self.dispatch(event)

    def dispatch(self, event: ChangeEvent) -> None:
        self.counts["received"] += 1
        if event.event_id in self._recent:
            self.counts["duplicates"] += 1
            return
        self._recent[event.event_id] = None
        if len(self._recent) > RECENT_IDS:
            self._recent.popitem(last=False)
        for subscriber in list(self._subscribers):
            if event.resource not in subscriber.resources:
                continue
            if subscriber.offer(event):
                self.counts["delivered"] += 1
            else:
                self.counts["overflows"] += 1
