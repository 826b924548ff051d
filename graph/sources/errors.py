"""What can go wrong when asking a backend, as typed exceptions.

::

    BackendError                 any failure of one TMF API call (carries the API key)
    ├── BackendUnavailable       connection refused/reset, 5xx, or a malformed answer
    ├── BackendTimeout           no answer within the API's timeout
    └── BackendRejected          4xx with a TMF Error body (status, reason, message)
        └── BackendNotFound      404

Nothing here knows about GraphQL; the schema layer maps these to error codes.
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "BackendNotFound",
    "BackendRejected",
    "BackendTimeout",
    "BackendUnavailable",
]


class BackendError(Exception):
    def __init__(self, api: str, detail: str) -> None:
        super().__init__(f"{api}: {detail}")
        self.api = api
        self.detail = detail


class BackendUnavailable(BackendError):
    pass


class BackendTimeout(BackendError):
    pass


class BackendRejected(BackendError):
    def __init__(self, api: str, status: int, reason: str, message: str = "") -> None:
        super().__init__(api, f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


class BackendNotFound(BackendRejected):
    pass
