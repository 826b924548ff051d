"""The app's Redis client: one connection pool for the app's life."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from redis.exceptions import RedisError

__all__ = ["open_redis"]

log = logging.getLogger(__name__)


@asynccontextmanager
async def open_redis(url: str) -> AsyncIterator[aioredis.Redis]:
    """A client on ``url``. An unreachable Redis does not stop the start: what needs it
    fails as its policy says (payments fail closed) until Redis answers again."""
    client = aioredis.Redis.from_url(
        url, socket_connect_timeout=1.0, socket_timeout=2.0, health_check_interval=15
    )
    try:
        try:
            await client.ping()
        except (RedisError, OSError) as exc:
            log.error("Redis at %s does not answer (%s); starting without it", _safe(url), exc)
        yield client
    finally:
        await client.aclose()


def _safe(url: str) -> str:
    """The URL without its password, for the logs."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.rpartition("@")[2]
    return scheme + sep + rest
