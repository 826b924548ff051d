"""What the app holds for its whole life, under one typed key."""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import web

from graph.auth.audit import AuditWriter
from graph.auth.authenticator import Authenticator
from graph.events import EventFanout, HubRegistrar
from graph.observability import Metrics
from graph.settings import Settings
from graph.sources import Sources, TmfClient
from graph.sources.cached import EntityCache
from graph.stores import Stores

__all__ = ["GATEWAY", "Gateway"]


@dataclass(slots=True)
class Gateway:
    settings: Settings
    metrics: Metrics
    clients: dict[str, TmfClient] = field(default_factory=dict)
    sandbox_url: str | None = None
    readiness: tuple[float, dict[str, Any]] | None = None  # (when, last /readyz answer)
    authenticator: Authenticator = field(default_factory=lambda: Authenticator(None))
    audit: AuditWriter = field(default_factory=AuditWriter)  # agents' access -> TMF683
    stores: Stores = field(default_factory=Stores.in_memory)
    events: EventFanout | None = None  # live updates to this replica's subscribers
    hubs: HubRegistrar | None = None  # the listener's registrations with the backends
    event_counts: dict[str, int] = field(default_factory=dict)  # listener: accepted, refused…
    # Open WebSockets, closed at shutdown (an open WebSocket never ends by itself).
    websockets: weakref.WeakSet[web.WebSocketResponse] = field(default_factory=weakref.WeakSet)
    entity_cache: EntityCache | None = None  # None: off (CSM_ENTITY_CACHE)
    _sources: Sources | None = None

    @property
    def sources(self) -> Sources:
        if self._sources is None:
            raise RuntimeError("the gateway has not started")
        return self._sources

    def attach(self, clients: dict[str, TmfClient]) -> None:
        self.clients = clients
        self._sources = Sources.on(clients)

    def cache_with(self, cache: EntityCache) -> None:
        """Every read by id or reference through ``cache``, below every request's scope."""
        self.entity_cache = cache
        self._sources = cache.wrap(self.sources)


GATEWAY: Final = web.AppKey("gateway", Gateway)
