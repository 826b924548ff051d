"""TMF hub subscriptions and event delivery to ``{callback}/listener/{eventName}``.

Each subscription has its own queue and delivery task, so events reach one listener in the
order they happened and a failing listener delays only itself. A failed delivery (connection
error, timeout or non-2xx answer) is retried with exponential backoff up to a bounded number of
attempts, then dropped and counted. Subscriptions may narrow what they receive with a TMF query,
e.g. ``eventType=TroubleTicketStatusChangeEvent`` or ``event.troubleTicket.status=resolved``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import parse_qsl

import aiohttp
import orjson

from .errors import TmfError
from .query import Filter, values_at
from .registry import CollectionSpec

__all__ = ["EventHub", "Subscription"]

log = logging.getLogger(__name__)

Record = dict[str, Any]

# TMF678 v4 has no events; its v5 supplement defines them, with v5 spellings.
V5_RESOURCES = frozenset({"customerBill"})


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# v5 makes every nested entity Extensible (``@type`` required); v4 records lack some.
V5_NESTED_TYPES: Final = {
    "billingAccount": "BillingAccountRef",
    "paymentMethod": "PaymentMethodRef",
    "relatedParty": "RelatedPartyRefOrPartyRoleRef",
    "taxItem": "TaxItem",
    "appliedPayment": "AppliedPayment",
    "payment": "PaymentRef",
    "billDocument": "Attachment",
    "financialAccount": "FinancialAccountRef",
}


def _v5(node: Any, key: str = "") -> Any:
    """A v4-shaped record in the v5 shape: ``@type`` on every nested entity."""
    if isinstance(node, list):
        return [_v5(item, key) for item in node]
    if not isinstance(node, dict):
        return node
    shaped = {k: _v5(v, k) for k, v in node.items()}
    if key in V5_NESTED_TYPES:
        shaped.setdefault("@type", V5_NESTED_TYPES[key])
    return shaped


def event_body(spec: CollectionSpec, event_name: str, record: Record) -> Record:
    """An event as the specifications shape it: envelope plus ``event: {<resource>: ...}``."""
    now = _now()
    event_type = event_name[0].upper() + event_name[1:]
    body: Record = {
        "eventId": uuid.uuid4().hex,
        "eventTime": now,
        "eventType": event_type,
        "domain": spec.api.key,
        "event": {spec.name: record},
    }
    if spec.name in V5_RESOURCES:
        body["event"] = {spec.name: _v5(record)}
        body["@type"] = event_type
        body["timeOccurred"] = now
    else:
        body["timeOcurred"] = now  # sic: the v4 specifications' spelling
    return body


def _parse_filters(query: str) -> tuple[Filter, ...]:
    filters = []
    for key, value in parse_qsl(query, keep_blank_values=False):
        filters.append(Filter(tuple(key.split(".")), "eq", frozenset(value.split(","))))
    return tuple(filters)


@dataclass(slots=True)
class Subscription:
    id: str
    api: str
    callback: str
    query: str
    filters: tuple[Filter, ...]
    queue: asyncio.Queue[tuple[str, bytes]] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None

    def wants(self, body: Record) -> bool:
        for flt in self.filters:
            if flt.path == ("eventType",):
                if body["eventType"] not in flt.values:
                    return False
            elif not any(str(v) in flt.values for v in values_at(body, flt.path)):
                return False
        return True

    def as_json(self) -> Record:
        return {"id": self.id, "callback": self.callback, "query": self.query}


class EventHub:
    """Subscriptions per API and their delivery workers; created and closed with the app."""

    def __init__(self, attempts: int = 6, backoff: float = 0.5, timeout: float = 5.0) -> None:
        self.attempts = attempts
        self.backoff = backoff
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.subscriptions: dict[str, Subscription] = {}
        self.stats = {"published": 0, "delivered": 0, "retried": 0, "dropped": 0}
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self.timeout)

    async def close(self) -> None:
        tasks = [s.task for s in self.subscriptions.values() if s.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def subscribe(self, api: str, body: Any) -> Subscription:
        if not isinstance(body, dict) or not isinstance(body.get("callback"), str):
            raise TmfError(400, "Invalid subscription", "callback (a URL) is required")
        callback = body["callback"]
        if not callback.startswith(("http://", "https://")):
            raise TmfError(400, "Invalid subscription", "callback must be an http(s) URL")
        query = body.get("query") or ""
        if not isinstance(query, str):
            raise TmfError(400, "Invalid subscription", "query must be a string")
        sub = Subscription(
            id=uuid.uuid4().hex,
            api=api,
            callback=callback.rstrip("/"),
            query=query,
            filters=_parse_filters(query),
        )
        sub.task = asyncio.get_running_loop().create_task(self._deliver(sub))
        self.subscriptions[sub.id] = sub
        return sub

    def unsubscribe(self, api: str, sub_id: str) -> None:
        sub = self.subscriptions.get(sub_id)
        if sub is None or sub.api != api:
            raise TmfError(404, "Not found", f"no hub subscription {sub_id}")
        del self.subscriptions[sub_id]
        if sub.task is not None:
            sub.task.cancel()

    def publish(self, spec: CollectionSpec, kind: str, record: Record) -> None:
        """Announce a change of ``record``; a no-op where the spec defines no such event."""
        event_name = spec.event_name(kind)
        if event_name is None:
            return
        body = event_body(spec, event_name, record)
        self.stats["published"] += 1
        payload: bytes | None = None  # serialized now: the record may change before delivery
        for sub in self.subscriptions.values():
            if sub.api == spec.api.key and sub.wants(body):
                payload = payload or orjson.dumps(body)
                sub.queue.put_nowait((event_name, payload))

    async def _deliver(self, sub: Subscription) -> None:
        while True:
            event_name, payload = await sub.queue.get()
            url = f"{sub.callback}/listener/{event_name}"
            for attempt in range(1, self.attempts + 1):
                if await self._post(url, payload):
                    self.stats["delivered"] += 1
                    break
                if attempt == self.attempts:
                    self.stats["dropped"] += 1
                    log.warning("dropped %s for %s after %d attempts", event_name, url, attempt)
                    break
                self.stats["retried"] += 1
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))

    async def _post(self, url: str, payload: bytes) -> bool:
        assert self._session is not None
        with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
            async with self._session.post(
                url, data=payload, headers={"Content-Type": "application/json"}
            ) as response:
                return 200 <= response.status < 300
        return False
