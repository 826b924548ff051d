"""The fan-out of one replica: each event once, only to the subscribers of its resource, a
slow subscriber ended (:class:`EventsMissed`) without holding up the others, a broadcast gap
ending everyone the same way, and stop() ending every subscription.

The broadcast is a real :class:`MemoryBroadcast`; a gap is injected as the :data:`GAP` message
a :class:`RedisBroadcast` yields after reconnecting."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Final

import pytest

from graph.events import ChangeEvent, EventFanout, EventsMissed, Subscriber
from graph.stores import GAP, MemoryBroadcast

WITHIN: Final = 1.0
_ids = itertools.count(1)


def change(resource: str = "troubleTicket", event_id: str | None = None) -> ChangeEvent:
    n = next(_ids)
    return ChangeEvent(
        event_id=event_id or f"ev-{n}",
        event_type="TroubleTicketStatusChangeEvent",
        resource=resource,
        record_id=f"rec-{n}",
        record={"id": f"rec-{n}", "n": n},
    )


async def publish(broadcast: MemoryBroadcast, event: ChangeEvent) -> None:
    assert await broadcast.publish_once(event.event_id, event.to_json())


async def next_of(subscriber: Subscriber) -> ChangeEvent:
    return await asyncio.wait_for(anext(subscriber), WITHIN)


async def settle() -> None:
    """Let the fan-out task take what was published (an in-memory hand-over: one turn)."""
    await asyncio.sleep(0.01)


@pytest.fixture
def broadcast() -> MemoryBroadcast:
    return MemoryBroadcast()


@pytest.fixture
async def fanout(broadcast: MemoryBroadcast) -> AsyncIterator[EventFanout]:
    """Started, and reading the broadcast (a probe event made the round trip)."""
    fanout = EventFanout(broadcast)
    await fanout.start()
    with fanout.subscribe(frozenset({"probe"})) as probe:
        for _ in range(50):
            await publish(broadcast, change("probe"))
            try:
                await asyncio.wait_for(anext(probe), 0.02)
                break
            except TimeoutError:
                continue
        else:
            pytest.fail("the fan-out never read the broadcast")
    try:
        yield fanout
    finally:
        await fanout.stop()


async def test_an_event_reaches_the_subscribers_of_its_resource_only(
    fanout: EventFanout, broadcast: MemoryBroadcast
) -> None:
    with (
        fanout.subscribe(frozenset({"troubleTicket"})) as tickets,
        fanout.subscribe(frozenset({"productOrder", "troubleTicket"})) as both,
        fanout.subscribe(frozenset({"productOrder"})) as orders,
    ):
        assert fanout.subscribers == 3
        ticket, order = change("troubleTicket"), change("productOrder")
        await publish(broadcast, ticket)
        await publish(broadcast, order)
        assert await next_of(tickets) == ticket
        assert await next_of(both) == ticket
        assert await next_of(both) == order
        # The first event orders sees is its own: the ticket event was never queued for it.
        assert await next_of(orders) == order
        last = change("troubleTicket")
        await publish(broadcast, last)
        assert await next_of(tickets) == last  # not the order in between
    assert fanout.subscribers == 0


async def test_an_event_id_seen_before_is_dropped(
    fanout: EventFanout, broadcast: MemoryBroadcast
) -> None:
    with fanout.subscribe(frozenset({"troubleTicket"})) as tickets:
        first = change(event_id="ev-twice")
        again = ChangeEvent("ev-twice", first.event_type, first.resource, "other", {})
        after = change()
        # Distinct broadcast message ids, as when the broadcast's own window has passed.
        assert await broadcast.publish_once("m-1", first.to_json())
        assert await broadcast.publish_once("m-2", again.to_json())
        await publish(broadcast, after)
        assert await next_of(tickets) == first
        assert await next_of(tickets) == after
    assert fanout.counts["duplicates"] == 1


def test_dispatch_counts_received_duplicates_and_deliveries(broadcast: MemoryBroadcast) -> None:
    fanout = EventFanout(broadcast)
    with (
        fanout.subscribe(frozenset({"troubleTicket"})) as one,
        fanout.subscribe(frozenset({"troubleTicket"})) as two,
    ):
        event = change()
        fanout.dispatch(event)
        fanout.dispatch(event)
        fanout.dispatch(change("payment"))
        assert fanout.counts == {"received": 3, "duplicates": 1, "delivered": 2, "overflows": 0}
        assert one._queue.qsize() == two._queue.qsize() == 1


async def test_a_malformed_broadcast_message_is_dropped_and_the_next_delivered(
    fanout: EventFanout, broadcast: MemoryBroadcast
) -> None:
    with fanout.subscribe(frozenset({"troubleTicket"})) as tickets:
        for i, junk in enumerate([b"not json", b"[]", b'{"eventId": "x"}']):
            assert await broadcast.publish_once(f"junk-{i}", junk)
        event = change()
        await publish(broadcast, event)
        assert await next_of(tickets) == event


async def test_a_subscriber_that_falls_behind_is_ended_and_the_others_keep_receiving(
    fanout: EventFanout, broadcast: MemoryBroadcast
) -> None:
    with (
        fanout.subscribe(frozenset({"troubleTicket"}), maxsize=3) as slow,
        fanout.subscribe(frozenset({"troubleTicket"}), maxsize=3) as keeping_up,
        fanout.subscribe(frozenset({"troubleTicket"})) as roomy,
    ):
        events = [change() for _ in range(5)]
        received = []
        for event in events:
            await publish(broadcast, event)
            received.append(await next_of(keeping_up))
        assert received == events
        assert [await next_of(roomy) for _ in events] == events
        with pytest.raises(EventsMissed, match="3 events behind"):
            await next_of(slow)
        # ...and nothing more reaches it: it is told once, not fed again.
        later = change()
        await publish(broadcast, later)
        assert await next_of(keeping_up) == later
        assert await next_of(roomy) == later
        assert slow._queue.qsize() == 0
    assert fanout.counts["overflows"] == 3  # the 4th and 5th event, then the later one


async def test_a_broadcast_gap_ends_every_subscriber_that_reads_afterwards(
    fanout: EventFanout, broadcast: MemoryBroadcast
) -> None:
    with (
        fanout.subscribe(frozenset({"troubleTicket"})) as one,
        fanout.subscribe(frozenset({"payment"})) as two,
    ):
        await publish(broadcast, change())  # queued before the gap: dropped with it
        assert await broadcast.publish_once("gap-1", GAP)
        await settle()
        with fanout.subscribe(frozenset({"troubleTicket"})) as after:
            event = change()
            await publish(broadcast, event)
            assert await next_of(after) == event  # a subscription made after the gap receives
        for subscriber in (one, two):
            with pytest.raises(EventsMissed, match="interrupted"):
                await next_of(subscriber)


async def test_a_broadcast_gap_ends_a_subscriber_waiting_for_its_next_event(
    fanout: EventFanout, broadcast: MemoryBroadcast
) -> None:
    """A subscription idle on its queue (the usual case) must be ended too, not left waiting
    for events that will never come."""
    with (
        fanout.subscribe(frozenset({"troubleTicket"})) as one,
        fanout.subscribe(frozenset({"payment"})) as two,
    ):
        waiting = [asyncio.create_task(next_of(s)) for s in (one, two)]
        await settle()  # both are waiting in their queue's get()
        assert not any(task.done() for task in waiting)
        assert await broadcast.publish_once("gap-1", GAP)
        results = await asyncio.gather(*waiting, return_exceptions=True)
        assert all(isinstance(r, EventsMissed) for r in results), results


async def test_stop_ends_every_subscription(
    fanout: EventFanout, broadcast: MemoryBroadcast
) -> None:
    with (
        fanout.subscribe(frozenset({"troubleTicket"})) as reading,
        fanout.subscribe(frozenset({"payment"})) as idle,
    ):
        event = change()

        async def read_all() -> list[ChangeEvent]:
            return [e async for e in reading]

        task = asyncio.create_task(read_all())
        await publish(broadcast, event)
        await settle()
        await fanout.stop()
        assert await asyncio.wait_for(task, WITHIN) == [event]
        with pytest.raises(StopAsyncIteration):
            await next_of(idle)
        # The fan-out no longer reads the broadcast.
        await publish(broadcast, change())
        await settle()
        assert reading._queue.qsize() == 0


async def test_stop_before_start_and_twice_is_harmless(broadcast: MemoryBroadcast) -> None:
    fanout = EventFanout(broadcast)
    await fanout.stop()
    await fanout.start()
    await fanout.stop()
    await fanout.stop()
