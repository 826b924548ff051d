"""The sandbox application: all TMF collections on one port, plus ``/admin``.

``create_sandbox_app(config)`` builds it; ``running_sandbox(config)`` runs it in-process on a
port of its own (port 0 by default), which is how tests and the gateway's embedded default use
it. The socket is bound before the app is built so that hrefs carry the real address.
"""

from __future__ import annotations

import asyncio
import datetime
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

from aiohttp import web

from graph.auth.devidp import load_or_create_key

from .admin import add_admin_routes
from .backend import Backend
from .dataset import Dataset
from .events import EventHub
from .faults import Fault, FaultBoard, fault_middleware
from .http import add_tmf_routes, error_middleware
from .idp import add_idp_routes
from .rules import business_rules
from .seed import SeedPlan

__all__ = [
    "BACKEND",
    "FAULTS",
    "IDP_KEY_PATH",
    "RunningSandbox",
    "SandboxConfig",
    "create_sandbox_app",
    "running_sandbox",
]


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    customers: int = 1000
    seed: int = 1
    today: datetime.date | None = None  # None: the real today
    base_url: str = "http://127.0.0.1:8100"
    default_limit: int = 100
    max_limit: int = 1000
    order_step_seconds: float = 2.0  # pace of product orders through their states
    delivery_attempts: int = 6
    delivery_backoff_seconds: float = 0.5
    faults: Mapping[str, Fault] = field(default_factory=dict)
    idp_key_path: Path | None = None  # serve the development identity provider with this key

    def plan(self) -> SeedPlan:
        today = self.today or datetime.date.today()
        return SeedPlan(
            seed=self.seed, customers=self.customers, today=today, base_url=self.base_url
        )


BACKEND: Final = web.AppKey("backend", Backend)
FAULTS: Final = web.AppKey("faults", FaultBoard)
IDP_KEY_PATH: Final = web.AppKey("idp_key_path", Path)


class Scheduler:
    """Delayed business steps, all cancelled when the app stops."""

    def __init__(self) -> None:
        self._handles: set[asyncio.TimerHandle] = set()

    def __call__(self, delay: float, action: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()

        def run() -> None:
            self._handles.discard(handle)
            action()

        handle = loop.call_later(delay, run)
        self._handles.add(handle)

    def cancel_all(self) -> None:
        for handle in self._handles:
            handle.cancel()
        self._handles.clear()


def create_sandbox_app(config: SandboxConfig) -> web.Application:
    board = FaultBoard(config.faults, seed=config.seed)
    hub = EventHub(attempts=config.delivery_attempts, backoff=config.delivery_backoff_seconds)
    scheduler = Scheduler()
    backend = Backend(
        Dataset(config.plan()),
        hub,
        config.base_url,
        rules=business_rules(config.order_step_seconds),
        schedule=scheduler,
    )
    app = web.Application(middlewares=[error_middleware, fault_middleware(board)])
    app[BACKEND] = backend
    app[FAULTS] = board
    add_tmf_routes(app, backend, config.default_limit, config.max_limit)
    add_admin_routes(app, board, backend)
    if config.idp_key_path is not None:
        add_idp_routes(app, load_or_create_key(config.idp_key_path), config.base_url)
        app[IDP_KEY_PATH] = config.idp_key_path

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await hub.start()
        yield
        scheduler.cancel_all()
        await hub.close()

    app.cleanup_ctx.append(lifecycle)
    return app


@dataclass(frozen=True, slots=True)
class RunningSandbox:
    url: str
    app: web.Application

    @property
    def backend(self) -> Backend:
        return self.app[BACKEND]

    @property
    def faults(self) -> FaultBoard:
        return self.app[FAULTS]


@asynccontextmanager
async def running_sandbox(
    config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningSandbox]:
    """Run the sandbox in this event loop until the block exits."""
    sock = socket.create_server((host, port))
    bound = sock.getsockname()[1]
    url = f"http://{host}:{bound}"
    app = create_sandbox_app(replace(config or SandboxConfig(), base_url=url))
    runner = web.AppRunner(app, access_log=None)
    try:
        await runner.setup()
        await web.SockSite(runner, sock).start()
        yield RunningSandbox(url=url, app=app)
    finally:
        await runner.cleanup()
        sock.close()
