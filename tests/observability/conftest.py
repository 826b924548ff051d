"""Fixtures: a gateway on the sandbox, a GraphQL poster with headers, and the log lines the
process writes while a test runs (JSON, as ``csm-graph serve`` writes them off a terminal)."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from graph.observability.logging import ContextFilter, JsonFormatter, TextFormatter
from graph.sandbox import RunningSandbox
from tests.gateway.conftest import RunningGateway, auth_headers, running_gateway, settings_for


class LogCapture:
    """Everything logged, at every level, in both formats."""

    def __init__(self) -> None:
        self.json = io.StringIO()
        self.text = io.StringIO()

    def records(self) -> list[dict[str, Any]]:
        """The JSON lines, each parsed (a line that does not parse fails the test)."""
        return [orjson.loads(line) for line in self.json.getvalue().splitlines()]

    def of(self, request_id: str) -> list[dict[str, Any]]:
        return [r for r in self.records() if r.get("request_id") == request_id]


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    capture = LogCapture()
    handlers = []
    for stream, formatter in (
        (capture.json, JsonFormatter()),
        (capture.text, TextFormatter()),
    ):
        handler = logging.StreamHandler(stream)
        handler.addFilter(ContextFilter())
        handler.setFormatter(formatter)
        handlers.append(handler)
    root = logging.getLogger()
    level = root.level
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        root.setLevel(level)
        for handler in handlers:
            root.removeHandler(handler)


@pytest.fixture
async def gateway(sandbox: RunningSandbox) -> AsyncIterator[RunningGateway]:
    async with running_gateway(settings_for(sandbox)) as running:
        yield running


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]


Post = Callable[..., Awaitable[Reply]]


@pytest.fixture
def post(gateway: RunningGateway, http: aiohttp.ClientSession, dev_idp_key: Path) -> Post:
    """POST a document as ``principal``, with extra ``headers``; the whole reply."""

    async def run(
        query: str,
        principal: str | None = None,
        headers: dict[str, str] | None = None,
        token: str | None = None,
    ) -> Reply:
        sent = {"Content-Type": "application/json", **auth_headers(principal, dev_idp_key)}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        sent.update(headers or {})
        body = orjson.dumps({"query": query})
        async with http.post(f"{gateway.url}/graphql", data=body, headers=sent) as resp:
            raw = await resp.read()
            return Reply(resp.status, dict(resp.headers), orjson.loads(raw) if raw else {})

    return run


async def set_fault(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, api: str, **fault: object
) -> None:
    async with http.put(f"{sandbox.url}/admin/faults/{api}", json=fault) as resp:
        assert resp.status == 200, await resp.text()
