"""TMF Error bodies: every failure the sandbox reports is a TMF630 ``Error``, never a trace."""

from __future__ import annotations

import orjson
from aiohttp import web

__all__ = ["TmfError", "error_response"]


class TmfError(Exception):
    """A request the sandbox refuses, rendered as a TMF ``Error`` with an HTTP status."""

    def __init__(self, status: int, reason: str, message: str = "", code: str | None = None):
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.code = code or str(status)


def error_response(
    status: int, reason: str, message: str = "", code: str | None = None
) -> web.Response:
    body = {
        "code": code or str(status),
        "reason": reason,
        "message": message,
        "status": str(status),
        "@type": "Error",
    }
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")
