"""Registering the gateway's listener with each backend's TMF hub, and keeping it registered.

At start the gateway subscribes its listener (``callback``) to the events it needs from each
API (``POST /hub`` with ``query=eventType=…``). TMF hubs offer no way to ask whether a
subscription still exists, and a backend that restarts may forget it; so every
``renew_seconds`` the registrar subscribes anew and then removes the previous subscription
(make before break): a backend that forgot is back in the list within one period, and the
overlap's duplicate deliveries are dropped by event id (:mod:`graph.events.fanout`). A
backend that refuses or is down is retried at the next period. At shutdown every subscription
is removed (bounded in time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Final

from graph.sources import BackendError, TmfClient

from .model import TOPICS

__all__ = ["HubRegistrar"]

log = logging.getLogger(__name__)

STOP_SECONDS: Final = 3.0


class HubRegistrar:
    def __init__(
        self,
        clients: Mapping[str, TmfClient],
        callback: str,
        renew_seconds: float = 60.0,
        topics: Mapping[str, tuple[str, tuple[str, ...]]] = TOPICS,
    ) -> None:
        """``topics``: API -> (resource, event names) to subscribe to (:data:`TOPICS`; the
        entity cache adds :data:`~graph.events.model.CACHE_TOPICS`)."""
        self.clients = clients
        self.topics = topics
        self.callback = callback
        self.renew_seconds = renew_seconds
        self.registered: dict[str, str] = {}  # API -> the current subscription's id
        self.failures: dict[str, str] = {}  # API -> why its last registration failed
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.renew()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="hub-registrar")

    async def renew(self) -> None:
        """Subscribe anew to every API, then drop the previous subscriptions."""
        await asyncio.gather(*(self._renew(api) for api in self.topics if api in self.clients))

    async def _renew(self, api: str) -> None:
        client = self.clients[api]
        _, events = self.topics[api]
        query = "eventType=" + ",".join(e[0].upper() + e[1:] for e in events)
        try:
            new_id = await client.register_hub(self.callback, query)
        except BackendError as exc:
            if api not in self.failures:
                log.error("events: %s did not take the hub subscription (%s)", api, exc)
            self.failures[api] = type(exc).__name__
            return
        self.failures.pop(api, None)
        old_id, self.registered[api] = self.registered.get(api), new_id
        if old_id is not None:
            with contextlib.suppress(BackendError):
                await client.unregister_hub(old_id)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.renew_seconds)
            await self.renew()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

        async def drop(api: str, hub_id: str) -> None:
            with contextlib.suppress(BackendError):
                await self.clients[api].unregister_hub(hub_id)

        registered, self.registered = self.registered, {}
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(drop(api, hub_id) for api, hub_id in registered.items())),
                STOP_SECONDS,
            )
