"""A real HTTP listener on a loopback port that records TMF event notifications."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

__all__ = ["Listener", "running_listener"]


@dataclass
class Listener:
    url: str
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    failures_left: int = 0  # answer 500 to this many deliveries first
    attempts: int = 0
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def handle(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if self.failures_left > 0:
            self.failures_left -= 1
            return web.Response(status=500)
        body = orjson.loads(await request.read())
        async with self._arrived:
            self.received.append((request.match_info["event"], body))
            self._arrived.notify_all()
        return web.Response(status=204)

    async def wait_for(self, count: int, within: float = 5.0) -> list[tuple[str, dict[str, Any]]]:
        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: len(self.received) >= count), within
            )
        return list(self.received)

    def names(self) -> list[str]:
        return [name for name, _ in self.received]


@asynccontextmanager
async def running_listener() -> AsyncIterator[Listener]:
    sock = socket.create_server(("127.0.0.1", 0))
    listener = Listener(url=f"http://127.0.0.1:{sock.getsockname()[1]}/callback")
    app = web.Application()
    app.router.add_post("/callback/listener/{event}", listener.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        yield listener
    finally:
        await runner.cleanup()
