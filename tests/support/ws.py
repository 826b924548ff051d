"""A small graphql-transport-ws client over aiohttp, for end-to-end subscription tests.

``async with graphql_ws(http, gateway_url, token) as ws`` opens the socket, sends
``connection_init`` (with ``Authorization: Bearer <token>`` when a token is given) and waits for
``connection_ack``; ``await ws.subscribe(query, variables)`` starts an operation and returns its
id; ``await ws.next(op)`` is the operation's next message (``next``, ``error`` or
``complete``), messages of other operations being kept for later; pings are answered.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

__all__ = ["Closed", "GraphQLWebSocket", "graphql_ws"]

PROTOCOL = "graphql-transport-ws"


class Closed(Exception):
    """The server closed the socket; ``code`` is its close code."""

    def __init__(self, code: int | None) -> None:
        super().__init__(f"websocket closed with {code}")
        self.code = code


class GraphQLWebSocket:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._ids = itertools.count(1)
        self._pending: defaultdict[str, deque[dict[str, Any]]] = defaultdict(deque)

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        op = str(next(self._ids))
        payload = {"query": query, "variables": variables or {}}
        await self.ws.send_json({"id": op, "type": "subscribe", "payload": payload})
        return op

    async def complete(self, op: str) -> None:
        await self.ws.send_json({"id": op, "type": "complete"})

    async def next(self, op: str, within: float = 5.0) -> dict[str, Any]:
        """The operation's next message; Closed when the server closes the socket first."""
        async with asyncio.timeout(within):
            while not self._pending[op]:
                message = await self._receive()
                self._pending[str(message.get("id"))].append(message)
        return self._pending[op].popleft()

    async def data(self, op: str, within: float = 5.0) -> dict[str, Any]:
        """The data of the operation's next ``next`` message (which must carry no errors)."""
        message = await self.next(op, within)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        data: dict[str, Any] = message["payload"]["data"]
        return data

    async def quiet(self, op: str, seconds: float) -> bool:
        """True when the operation gets no message for ``seconds``."""
        try:
            message = await self.next(op, seconds)
        except TimeoutError:
            return True
        self._pending[op].appendleft(message)
        return False

    async def closed(self, within: float = 5.0) -> int | None:
        """Wait until the server closes the socket; its close code."""
        async with asyncio.timeout(within):
            while True:
                try:
                    await self._receive()
                except Closed as closed:
                    return closed.code

    async def _receive(self) -> dict[str, Any]:
        while True:
            message = await self.ws.receive()
            if message.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSING,
                aiohttp.WSMsgType.CLOSED,
            ):
                raise Closed(self.ws.close_code)
            if message.type is aiohttp.WSMsgType.ERROR:
                raise Closed(None)
            data: dict[str, Any] = message.json()
            if data.get("type") == "ping":
                await self.ws.send_json({"type": "pong"})
                continue
            if data.get("type") == "pong":
                continue
            return data


@asynccontextmanager
async def graphql_ws(
    http: aiohttp.ClientSession, gateway_url: str, token: str | None = None
) -> AsyncIterator[GraphQLWebSocket]:
    """A connection to ``{gateway_url}/graphql``, initialised and acknowledged."""
    async with http.ws_connect(f"{gateway_url}/graphql", protocols=(PROTOCOL,)) as ws:
        payload = {"Authorization": f"Bearer {token}"} if token else {}
        await ws.send_json({"type": "connection_init", "payload": payload})
        ack = await ws.receive_json(timeout=5)
        assert ack["type"] == "connection_ack", ack
        yield GraphQLWebSocket(ws)
