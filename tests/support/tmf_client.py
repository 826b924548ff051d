"""A tiny test-side TMF client: paths of the sandbox's collections and JSON helpers."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from graph.sandbox.registry import COLLECTIONS

__all__ = ["Reply", "call", "url_of"]


def url_of(base: str, collection: str, record_id: str | None = None) -> str:
    path = COLLECTIONS[collection].path
    return f"{base}{path}" + (f"/{record_id}" if record_id else "")


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: Any) -> None:
        self.status = status
        self.headers = headers
        self.body = body


async def call(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    json: Any = None,
    params: dict[str, str] | None = None,
    content_type: str = "application/json",
    data: bytes | None = None,
) -> Reply:
    headers = {"Content-Type": content_type} if (json is not None or data is not None) else {}
    if json is not None:
        data = orjson.dumps(json)
    async with http.request(method, url, data=data, params=params, headers=headers) as resp:
        raw = await resp.read()
        body: Any = None
        if raw:
            body = orjson.loads(raw)
        return Reply(resp.status, dict(resp.headers), body)
