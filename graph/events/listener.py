"""The route backends notify: ``POST /events/{secret}/listener/{eventName}``.

The gateway registers ``{public URL}/events/{secret}`` as its TMF hub callback, so a backend
calls ``…/events/{secret}/listener/{eventName}``. The secret (``CSM_EVENT_SECRET``, or a random
one per process) makes the callback URL a capability: without it a request is answered 404,
as any unknown path, having touched nothing. TMF hubs define no signature; where backends can
sign, put the listener behind a proxy that checks it, or keep the URL secret on a network only
the backends reach. A notification with the right secret is checked for its shape
(:func:`graph.events.model.parse_event`: a 400 names what is wrong) and size (at most
:data:`MAX_EVENT_BYTES`, 413), then published once to every replica. If the broadcast cannot
take it (Redis down) the answer is 503, so the backend delivers it again later.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Final

import orjson
from aiohttp import web

from graph.stores import Broadcast, StoreUnavailable

from .model import ChangeEvent, InvalidEvent, parse_event

__all__ = ["MAX_EVENT_BYTES", "listener_route"]

log = logging.getLogger(__name__)

MAX_EVENT_BYTES: Final = 1024 * 1024
ROUTE: Final = "/events/{secret}/listener/{event_name}"


def listener_route(
    app: web.Application,
    secret: str,
    broadcast: Callable[[], Broadcast],
    counts: dict[str, int],
    on_change: Callable[[ChangeEvent], Awaitable[None]] | None = None,
) -> None:
    """Add the listener route to ``app``, publishing to ``broadcast()`` (the app's, once
    started); ``counts`` tallies accepted, duplicate, refused and forged notifications;
    ``on_change`` hears of each valid event before it is published (cache invalidation)."""
    expected = secret.encode()

    async def notify(request: web.Request) -> web.Response:
        given = request.match_info["secret"].encode()
        if not hmac.compare_digest(given, expected):
            counts["forged"] = counts.get("forged", 0) + 1
            raise web.HTTPNotFound()
        if request.content_length is not None and request.content_length > MAX_EVENT_BYTES:
            return _refused(counts, 413, "the event is too large")
        raw = await _read_bounded(request, MAX_EVENT_BYTES)
        if raw is None:
            return _refused(counts, 413, "the event is too large")
        try:
            event = parse_event(request.match_info["event_name"], orjson.loads(raw))
        except orjson.JSONDecodeError:
            return _refused(counts, 400, "the body is not JSON")
        except InvalidEvent as exc:
            return _refused(counts, 400, str(exc))
        if on_change is not None:
            await on_change(event)
        try:
            first = await broadcast().publish_once(event.event_id, event.to_json())
        except StoreUnavailable as exc:
            log.error(
                "events: cannot broadcast %s (%s): the backend will retry", event.event_id, exc
            )
            return web.json_response({"reason": "try again later"}, status=503)
        key = "accepted" if first else "duplicates"
        counts[key] = counts.get(key, 0) + 1
        return web.Response(status=201)

    app.router.add_post(ROUTE, notify)


async def _read_bounded(request: web.Request, limit: int) -> bytes | None:
    """The body, or None once it exceeds ``limit`` bytes (reading stops there)."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _refused(counts: dict[str, int], status: int, reason: str) -> web.Response:
    counts["refused"] = counts.get("refused", 0) + 1
    log.warning("events: a notification was refused (%s)", reason)
    return web.json_response({"code": str(status), "reason": reason}, status=status)
