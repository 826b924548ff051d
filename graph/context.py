"""The typed context of one GraphQL request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import strawberry
from aiohttp import web

from .auth import Principal
from .auth.audit import AuditWriter
from .auth.scope import Registration
from .loaders import Loaders
from .settings import Settings
from .sources import Sources
from .stores import Stores

if TYPE_CHECKING:  # graph.actions imports this module
    from .actions.directory import PeopleDirectory
    from .events import LiveFeed

__all__ = ["Context", "Info"]


@dataclass(slots=True)
class Context:
    request: web.Request
    response: web.StreamResponse | None
    principal: Principal
    sources: Sources
    loaders: Loaders
    settings: Settings
    stores: Stores  # idempotency keys (and, later, caches) shared across processes
    audit: AuditWriter  # TMF683 records of agents' access and of every action
    registration: Registration | None = None  # anonymous callers and agents only
    people: PeopleDirectory | None = None  # who holds an e-mail address (ids only)
    live: LiveFeed | None = None  # backend events, for subscriptions (None: not running)
    connection_params: dict[str, Any] | None = None  # graphql-transport-ws connection_init
    # Fields answered with stale cached data (graph.schema.stale): extensions.stale.
    stale: list[dict[str, Any]] = field(default_factory=list)


Info = strawberry.Info[Context, None]
