"""Live updates: the backends' TMF events, to GraphQL subscribers on every replica.

backend ``POST {callback}/listener/{event}`` -> :mod:`.listener` (secret URL, validated) ->
broadcast once to every replica (:mod:`graph.stores.pubsub`, deduplicated by event id) ->
:mod:`.fanout` on each replica -> the subscriptions of :mod:`graph.schema.subscription`, which
reload the object through the subscriber's scoped sources before sending it. :mod:`.registrar`
keeps the callback registered with each backend's hub.
"""

from __future__ import annotations

from .fanout import EventFanout, EventsMissed, Subscriber
from .feed import LiveFeed
from .listener import listener_route
from .model import LISTENED, TOPICS, ChangeEvent, InvalidEvent, parse_event
from .registrar import HubRegistrar

__all__ = [
    "LISTENED",
    "TOPICS",
    "ChangeEvent",
    "EventFanout",
    "EventsMissed",
    "HubRegistrar",
    "InvalidEvent",
    "LiveFeed",
    "Subscriber",
    "listener_route",
    "parse_event",
]
