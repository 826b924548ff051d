"""The shared TMF HTTP client, and the generic per-resource source built on it.

One :class:`TmfClient` per API owns that API's ``aiohttp.ClientSession`` for the app's life.
It speaks TMF630: ``fields=`` projection, comma-list filters for batches (chunked so that a URL
stays short), paging that follows ``X-Total-Count`` (remaining pages fetched concurrently), TMF
Error bodies and network failures mapped to :mod:`.errors`, and orjson decoding. Every request
is reported to an observer (metrics) with its API, method, outcome and duration, and carries
the gateway's own credential (:mod:`.credentials`) and the end user's identity and correlation
id of the operation it serves (:mod:`.identity`). Each call keeps to its API's timeout and the
operation's deadline, reads are retried, and the API's circuit breaker admits or refuses it
(:mod:`.resilience`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, Generic, TypeVar, cast

import aiohttp
import orjson

from .credentials import NoCredentials, ServiceCredentials
from .errors import (
    BackendError,
    BackendNotFound,
    BackendRejected,
    BackendTimeout,
    BackendUnavailable,
)
from .identity import backend_headers, current_identity
from .resilience import (
    CircuitBreaker,
    CircuitOpen,
    Permit,
    ResilienceObserver,
    RetryPolicy,
    time_left,
)
from .writes import note_write

__all__ = ["Observer", "ResourceSource", "TmfClient"]

Record = dict[str, Any]
R = TypeVar("R", bound=Mapping[str, Any])

# (api, method, status or "timeout"/"error", seconds)
Observer = Callable[[str, str, str, float], None]
# (api, method, URL, query parameters, headers to send) -> called with the outcome when the
# request ends; it may add headers. Tracing's span per request (graph.observability.tracing).
CallHook = Callable[
    [str, str, str, Mapping[str, str] | None, dict[str, str]], Callable[[str], None]
]

MAX_URL_QUERY: Final = 6000  # characters of comma-joined values per batched request
MAX_BATCH_VALUES: Final = 500
MAX_PAGES: Final = 20  # pages one list may take (20,000 records at the default page size)
PAGE_CONCURRENCY: Final = 4  # pages of one list fetched at once
# A retry is not started with less time than this left before the deadline: it could not
# get an answer anyway.
MIN_ATTEMPT_SECONDS: Final = 0.05
NO_RETRIES: Final = RetryPolicy(retries=0)


def _ignore(api: str, method: str, status: str, seconds: float) -> None:
    return None


def _ignore_event(api: str, event: str) -> None:
    return None


_MALFORMED: Final = object()


def _decode(raw: bytes) -> Any:
    """The answer's JSON, None for an empty answer, :data:`_MALFORMED` for anything else."""
    try:
        return orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return _MALFORMED


class _NoPermit:
    """What a client without a breaker holds for a call."""

    def succeeded(self) -> None:
        return None

    def failed(self) -> None:
        return None

    def release(self) -> None:
        return None


_NO_PERMIT: Final = _NoPermit()


class _Transient(Exception):
    """An attempt failed in a way another attempt may not: 5xx, lost connection, timeout."""

    def __init__(self, error: BackendError) -> None:
        super().__init__(str(error))
        self.error = error


class TmfClient:
    """One TMF API at ``base_url`` (which includes the API's base path)."""

    def __init__(
        self,
        api: str,
        base_url: str,
        session: aiohttp.ClientSession,
        observer: Observer = _ignore,
        page_size: int = 1000,
        credentials: ServiceCredentials | None = None,
        forward_user_token: bool = False,
        timeout: float | None = None,
        retry: RetryPolicy = NO_RETRIES,
        breaker: CircuitBreaker | None = None,
        events: ResilienceObserver = _ignore_event,
        call_hook: CallHook | None = None,
    ) -> None:
        """``timeout``: seconds per attempt (None: the session's own); ``retry``: how GETs are
        retried (not at all by default); ``breaker``: the API's circuit breaker (none by
        default); ``events``: told of retries, timeouts and rejections (metrics);
        ``call_hook``: around each HTTP request (tracing; none by default)."""
        self.api = api
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.observer = observer
        self.page_size = page_size
        self.credentials: ServiceCredentials = credentials or NoCredentials()
        self.forward_user_token = forward_user_token
        self.timeout = timeout
        self.retry = retry
        self.breaker = breaker
        self.events = events
        self.call_hook = call_hook

    @property
    def breaker_state(self) -> str:
        """``closed``, ``open`` or ``half_open``; ``closed`` without a breaker."""
        return self.breaker.state.value if self.breaker is not None else "closed"

    async def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        retry: bool = True,
    ) -> tuple[int, Mapping[str, str], Any]:
        """One call: a GET is retried after transient failures (``retry``), a write never."""
        retries = self.retry.retries if method == "GET" and retry else 0
        attempt, last = 0, None
        while True:
            try:
                return await self._attempt(method, path, params, body, content_type)
            except CircuitOpen:
                if last is None:
                    raise
                raise last from None  # the breaker opened meanwhile: the real failure counts
            except _Transient as failed:
                last = failed.error
                if attempt >= retries:
                    raise last from None
                delay = self.retry.backoff(attempt)
                left = time_left()
                if left is not None and left - delay < MIN_ATTEMPT_SECONDS:
                    raise last from None
                attempt += 1
                self.events(self.api, "retry")
                await asyncio.sleep(delay)

    async def _attempt(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: Any,
        content_type: str,
    ) -> tuple[int, Mapping[str, str], Any]:
        """One HTTP request, within the API's timeout and the operation's deadline, if the
        breaker admits it. Raises :class:`_Transient` for what a retry might cure."""
        left = time_left()
        if left is not None and left <= 0:
            raise self._late(method, path)
        url = f"{self.base_url}/{path}"
        data = orjson.dumps(body) if body is not None else None
        headers = backend_headers(current_identity(), self.forward_user_token)
        headers["Accept"] = "application/json"
        try:
            async with asyncio.timeout(left):  # a token fetch may wait, not past the deadline
                authorization = await self.credentials.authorization(self.api)
        except TimeoutError:
            raise self._late(method, path) from None
        if authorization is not None:
            headers["Authorization"] = authorization
        if data is not None:
            headers["Content-Type"] = content_type
        limit, cut = self.timeout, False
        left = time_left()
        if left is not None:
            if left <= 0:
                raise self._late(method, path)
            if limit is None or left < limit:
                limit, cut = left, True
        permit = self._admit()
        if method != "GET":
            note_write()  # admitted: from here on the write may land
        finish = self.call_hook(self.api, method, url, params, headers) if self.call_hook else None
        started = time.perf_counter()
        outcome = "error"
        try:
            async with (
                asyncio.timeout(limit),
                self.session.request(
                    method, url, params=params, data=data, headers=headers
                ) as response,
            ):
                outcome = str(response.status)
                raw = await response.read()
                status, response_headers = response.status, response.headers
            decoded = _decode(raw) if status < 500 else None
            if status >= 500 or decoded is _MALFORMED:
                permit.failed()
            else:
                permit.succeeded()
        except TimeoutError:
            outcome = "timeout"
            self.events(self.api, "timeout")
            if cut:  # the deadline's doing, not the backend's: no verdict, no retry
                permit.release()
                raise BackendTimeout(self.api, f"{method} {path} timed out") from None
            permit.failed()
            raise _Transient(BackendTimeout(self.api, f"{method} {path} timed out")) from None
        except aiohttp.ClientError as exc:
            permit.failed()
            detail = f"{method} {path}: {type(exc).__name__}"
            raise _Transient(BackendUnavailable(self.api, detail)) from None
        finally:
            permit.release()  # cancelled: no verdict (a no-op once reported)
            self.observer(self.api, method, outcome, time.perf_counter() - started)
            if finish is not None:
                finish(outcome)
        if status >= 500:
            raise _Transient(BackendUnavailable(self.api, f"{method} {path}: HTTP {status}"))
        if decoded is _MALFORMED:
            raise BackendUnavailable(self.api, f"{method} {path}: answer is not JSON")
        if status >= 400:
            error = decoded if isinstance(decoded, dict) else {}
            kind = BackendNotFound if status == 404 else BackendRejected
            raise kind(
                self.api, status, str(error.get("reason", "")), str(error.get("message", ""))
            )
        return status, response_headers, decoded

    def _late(self, method: str, path: str) -> BackendTimeout:
        """The error of a call that finds the operation's deadline passed (no request sent)."""
        self.events(self.api, "timeout")
        return BackendTimeout(self.api, f"{method} {path}: the operation's deadline passed")

    def _admit(self) -> Permit | _NoPermit:
        if self.breaker is None:
            return _NO_PERMIT
        try:
            return self.breaker.admit()
        except CircuitOpen:
            self.events(self.api, "rejection")
            raise

    async def get(
        self, resource: str, record_id: str, fields: Iterable[str] | None = None
    ) -> Record | None:
        params = {"fields": ",".join(fields)} if fields else None
        try:
            _, _, body = await self._request("GET", f"{resource}/{record_id}", params)
        except BackendNotFound:
            return None
        if not isinstance(body, dict):
            raise BackendUnavailable(self.api, f"GET {resource}/{record_id}: not an object")
        return body

    async def list_all(
        self, resource: str, params: Mapping[str, str], fields: Iterable[str] | None = None
    ) -> list[Record]:
        """Every record matching ``params``, following the backend's paging."""
        query = dict(params)
        if fields:
            query["fields"] = ",".join(fields)
        first = await self._page(resource, query, 0)
        records, total = first
        if total <= len(records) or not records:
            return records
        offsets = range(len(records), total, len(records))
        if len(offsets) + 1 > MAX_PAGES:
            # A backend claiming more than the gateway will ever show is refused, not
            # followed into thousands of requests.
            raise BackendUnavailable(self.api, f"GET {resource}: {total} records is too many")
        slots = asyncio.Semaphore(PAGE_CONCURRENCY)

        async def page_at(offset: int) -> tuple[list[Record], int]:
            async with slots:
                return await self._page(resource, query, offset)

        pages = await asyncio.gather(*(page_at(o) for o in offsets))
        for page, _ in pages:
            records.extend(page)
        return records

    async def _page(
        self, resource: str, query: Mapping[str, str], offset: int
    ) -> tuple[list[Record], int]:
        """A page and how many records remain from ``offset`` on."""
        records, total = await self.page(resource, query, offset, self.page_size)
        return records, total - offset

    async def page(
        self, resource: str, query: Mapping[str, str], offset: int, limit: int
    ) -> tuple[list[Record], int]:
        """One page of records and the backend's total count of matches."""
        params = {**query, "offset": str(offset), "limit": str(limit)}
        _, headers, body = await self._request("GET", resource, params)
        if not isinstance(body, list):
            raise BackendUnavailable(self.api, f"GET {resource}: not a list")
        try:
            total = int(headers.get("X-Total-Count", len(body) + offset))
        except ValueError:
            total = len(body) + offset
        return cast(list[Record], body), total

    async def probe(self, resource: str) -> None:
        """One cheap read of ``resource`` through the breaker and never retried (readiness):
        a filter on an id nobody has, which any TMF server answers with an empty list."""
        params = {"id": "csm-readiness-probe", "fields": "id", "offset": "0", "limit": "1"}
        await self._request("GET", resource, params, retry=False)

    async def batch(
        self,
        resource: str,
        key: str,
        values: Sequence[str],
        fields: Iterable[str] | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> list[Record]:
        """Records whose ``key`` is any of ``values``: comma lists, chunked, concurrently."""
        # A comma inside a value would make one id an OR-list of several: never send it.
        unique = [v for v in dict.fromkeys(values) if v and "," not in v]
        if not unique:
            return []
        chunks = _chunks(unique)
        field_list = list(fields) if fields else None
        results = await asyncio.gather(
            *(
                self.list_all(resource, {**(extra or {}), key: ",".join(c)}, field_list)
                for c in chunks
            )
        )
        return [record for result in results for record in result]

    async def create(self, resource: str, body: Record) -> Record:
        _, _, created = await self._request("POST", resource, body=body)
        return cast(Record, created)

    async def patch(self, resource: str, record_id: str, body: Record) -> Record:
        _, _, updated = await self._request(
            "PATCH",
            f"{resource}/{record_id}",
            body=body,
            content_type="application/merge-patch+json",
        )
        return cast(Record, updated)

    async def delete(self, resource: str, record_id: str) -> None:
        await self._request("DELETE", f"{resource}/{record_id}")

    async def register_hub(self, callback: str, query: str) -> str:
        """Subscribe ``callback`` to this API's events (TMF ``POST /hub``); the
        subscription's id."""
        _, _, created = await self._request(
            "POST", "hub", body={"callback": callback, "query": query}
        )
        hub_id = created.get("id") if isinstance(created, dict) else None
        if not isinstance(hub_id, str) or not hub_id:
            raise BackendUnavailable(self.api, "POST hub: no subscription id in the answer")
        return hub_id

    async def unregister_hub(self, hub_id: str) -> None:
        """TMF ``DELETE /hub/{id}``; a subscription the backend no longer knows is gone."""
        try:
            await self._request("DELETE", f"hub/{hub_id}")
        except BackendNotFound:
            return


def _chunks(values: list[str]) -> list[list[str]]:
    chunks: list[list[str]] = [[]]
    length = 0
    for value in values:
        if chunks[-1] and (
            length + len(value) + 1 > MAX_URL_QUERY or len(chunks[-1]) >= MAX_BATCH_VALUES
        ):
            chunks.append([])
            length = 0
        chunks[-1].append(value)
        length += len(value) + 1
    return chunks


class ResourceSource(Generic[R]):
    """One TMF resource (``customerBill``...) of one API, returning typed records.

    Records are the backend's JSON objects as decoded, typed by a TypedDict ``R`` and never
    validated per object: the hot path stays as cheap as decoding.
    """

    def __init__(self, client: TmfClient, resource: str) -> None:
        self.client = client
        self.resource = resource

    @property
    def api(self) -> str:
        return self.client.api

    async def get(self, record_id: str, fields: Iterable[str] | None = None) -> R | None:
        return cast(R | None, await self.client.get(self.resource, record_id, fields))

    async def by_ids(
        self,
        ids: Sequence[str],
        fields: Iterable[str] | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> list[R]:
        return cast(list[R], await self.client.batch(self.resource, "id", ids, fields, extra))

    async def by_ref(
        self,
        path: str,
        values: Sequence[str],
        fields: Iterable[str] | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> list[R]:
        """Records whose reference at ``path`` (e.g. ``relatedParty.id``) is any of ``values``."""
        return cast(list[R], await self.client.batch(self.resource, path, values, fields, extra))

    async def search(
        self, params: Mapping[str, str], fields: Iterable[str] | None = None
    ) -> list[R]:
        return cast(list[R], await self.client.list_all(self.resource, params, fields))

    async def page(self, params: Mapping[str, str], offset: int, limit: int) -> tuple[list[R], int]:
        """One page of matches at the backend, and the total number of matches."""
        records, total = await self.client.page(self.resource, params, offset, limit)
        return cast(list[R], records), total

    async def create(self, body: Record) -> R:
        return cast(R, await self.client.create(self.resource, body))

    async def patch(self, record_id: str, body: Record) -> R:
        return cast(R, await self.client.patch(self.resource, record_id, body))

    async def delete(self, record_id: str) -> None:
        await self.client.delete(self.resource, record_id)
