"""What a request's subscriptions need, handed to them through the context: the replica's
fan-out, and the sources each event's fresh scope is built over."""

from __future__ import annotations

from dataclasses import dataclass

from graph.sources import Sources

from .fanout import EventFanout

__all__ = ["LiveFeed"]


@dataclass(frozen=True, slots=True)
class LiveFeed:
    fanout: EventFanout
    sources: Sources  # unscoped: a subscription scopes each event's reads to its customer
