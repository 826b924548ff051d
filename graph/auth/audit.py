"""Agents' access to customers' data, recorded as TMF683 party interactions.

An agent (assisted service) may find and read any customer. Every such access is recorded:
one TMF683 ``PartyInteraction`` per customer whose data an agent's request read, naming the
agent, the customer, the channel, when, and what was viewed. Three parts:

- **Observation** (:class:`AccessLog`): for an agent principal, :func:`graph.auth.scope.
  sources_for` wraps the request's sources so that every record any read returns is reported
  here -- at the source boundary, so no resolver can forget it. Observation is cheap (a list
  append); attribution happens once, when the request ends (for a WebSocket, when the
  connection ends: one interaction per customer per connection). This records what was
  *read for the agent*, which can be more than the response showed (a page cut from a
  longer list): an audit errs on the side of recording.
- **Attribution** (:meth:`AccessLog.customers`): a record belongs to a customer when it says
  so -- a ``relatedParty`` entry with ``@referredType: Customer``, or the customer record
  itself. Records that name no customer are attributed only through what the same request
  read: a bill line (``billingAccount.id``) or a payment (``account.id``) to the customer of
  an account seen in the request, a service problem (``affectedService.id``) to the customer
  of a service seen, a person (individual) to the customer whose ``engagedParty`` (or
  individual ``relatedParty``) it is, a billing account also through a customer's
  ``account`` list. Nothing is guessed: a record that cannot be attributed this way (a
  payment read alone by ``node(id:)``) is counted for the request, logged with the agent and
  the ids, and recorded under no customer.
- **Writing** (:class:`AuditWriter`, one per app): :meth:`AuditWriter.finish` turns a finished
  request's log into interaction bodies and queues them -- a request never waits for TMF683.
  A background task drains the queue in batches (up to ``batch_size`` records, or whatever
  arrived within ``flush_interval``) and POSTs each record (TMF683 has no batch create) with
  bounded concurrency. Nothing is lost silently: transient failures are retried with
  exponential backoff and jitter (bounded attempts); a record that is refused, runs out of
  attempts, finds the queue full, or is still unwritten when the writer stops (after a
  bounded flush) is appended to the *spill file* (JSON lines: ``spilledAt``, ``reason``, and
  the ``body`` to POST again; mode 0600, never a file another user owns or can read) and
  logged (ERROR; a full queue as a WARNING at most every 10 s); if even that fails the record
  is logged in full at ERROR. Delivery is at least once: a POST cut off at shutdown may have
  reached TMF683 and still be spilled. Writes carry no end user's identity: the writer's task
  belongs to the app, not to a request.

Only agents are recorded. Analysts are read-only staff who explore the data but do not act
for a customer; their access is not a party interaction (their view is masked instead, see
:mod:`graph.auth.masking`). Customers reading their own data are not recorded either.

The interaction's ``direction`` is ``inbound``: TMF683 defines it as who started the
interaction, "the party or the enterprise exposing this API", and in assisted service the
customer contacted the operator (the sandbox's seeded interactions use ``outbound`` only for
contacts the operator starts, such as satisfaction surveys).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import os
import random
import tempfile
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

import orjson

from graph.auth.owners import OwnerFinder
from graph.auth.principal import Principal, Role
from graph.sources.errors import BackendError, BackendRejected
from graph.sources.paths import ids_at

__all__ = [
    "REASON",
    "AccessLog",
    "AuditWriter",
    "CustomerAccess",
    "access_log_for",
    "default_spill_path",
    "interaction_body",
]

log = logging.getLogger(__name__)

REASON: Final = "Assisted service: data viewed"
CHANNEL_NAMES: Final = {
    "web": "Web portal",
    "app": "Mobile app",
    "kiosk": "In-store kiosk",
    "ivr": "IVR",
    "chatbot": "Chatbot",
    "agent-desktop": "Call centre",
}  # as the sandbox's seeded interactions name them
MAX_IDS_PER_ITEM: Final = 100  # ids listed per resource kind in one interaction item
SPILL_FILE_NAME: Final = "csm-graph-audit-spill.jsonl"

# How a record that names no customer leads to one: (reference path, resource it refers to).
_LINKS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "appliedCustomerBillingRate": (("billingAccount.id", "billingAccount"),),
    "payment": (("account.id", "billingAccount"),),
    "serviceProblem": (("affectedService.id", "service"),),
    "individual": (("id", "individual"),),
    "billingAccount": (("id", "billingAccount"),),
}


def _refs(value: Any) -> Iterator[Mapping[str, Any]]:
    """The reference objects of a ``relatedParty`` (a list, or -- TMF670 -- one object)."""
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, Mapping) and isinstance(item.get("id"), str) and item["id"]:
            yield item


def _is(ref: Mapping[str, Any], referred_type: str) -> bool:
    return str(ref.get("@referredType", "")).lower() == referred_type


def _stamp(moment: datetime.datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass(slots=True)
class CustomerAccess:
    """What one request read of one customer's data: resource kind -> record ids."""

    customer_id: str
    name: str | None = None
    href: str | None = None
    viewed: dict[str, set[str]] = field(default_factory=dict)

    def add(self, resource: str, record_id: str) -> None:
        self.viewed.setdefault(resource, set()).add(record_id)


class AccessLog:
    """Everything one agent request read, reported by the request's observed sources."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self.started = _now()
        self.finished = False
        self._reads: list[tuple[str, list[Mapping[str, Any]]]] = []
        self.unattributed: dict[str, set[str]] = {}  # filled by customers()

    def observe(self, resource: str, records: Iterable[Mapping[str, Any]]) -> None:
        """Records of ``resource`` a read returned (called by the observed sources)."""
        batch = [r for r in records if isinstance(r.get("id"), str)]
        if batch:
            self._reads.append((resource, batch))

    def customers(self) -> dict[str, CustomerAccess]:
        """Attribute every record read to the customers it belongs to (see the module's
        docstring); records that cannot be attributed land in :attr:`unattributed`."""
        found: dict[str, CustomerAccess] = {}
        owners: dict[tuple[str, str], set[str]] = {}  # (resource, id) -> customer ids
        pending: list[tuple[str, Mapping[str, Any]]] = []

        def customer(customer_id: str, ref: Mapping[str, Any] | None = None) -> CustomerAccess:
            access = found.get(customer_id)
            if access is None:
                access = found[customer_id] = CustomerAccess(customer_id)
            if ref is not None:
                access.name = access.name or _text(ref.get("name"))
                access.href = access.href or _text(ref.get("href"))
            return access

        for resource, batch in self._reads:
            for record in batch:
                record_id = record["id"]
                if resource == "customer":
                    named = {record_id}
                    customer(record_id, record)
                    people = ids_at(record, "engagedParty.id") | {
                        r["id"] for r in _refs(record.get("relatedParty")) if _is(r, "individual")
                    }
                    for person in people:
                        owners.setdefault(("individual", person), set()).add(record_id)
                    for account in ids_at(record, "account.id"):
                        owners.setdefault(("billingAccount", account), set()).add(record_id)
                else:
                    refs = [r for r in _refs(record.get("relatedParty")) if _is(r, "customer")]
                    named = {r["id"] for r in refs}
                    for ref in refs:
                        customer(ref["id"], ref)
                if not named:
                    pending.append((resource, record))
                    continue
                owners.setdefault((resource, record_id), set()).update(named)
                for customer_id in named:
                    found[customer_id].add(resource, record_id)

        self.unattributed = {}
        for resource, record in pending:
            linked: set[str] = set()
            for path, target in _LINKS.get(resource, ()):
                for ref_id in ids_at(record, path):
                    linked |= owners.get((target, ref_id), set())
            if not linked:
                self.unattributed.setdefault(resource, set()).add(record["id"])
            for customer_id in linked:
                found[customer_id].add(resource, record["id"])
        return found


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def access_log_for(principal: Principal) -> AccessLog | None:
    """A fresh access log when ``principal``'s reads are to be recorded: agents only."""
    return AccessLog(principal) if principal.role is Role.AGENT else None


# -- the TMF683 body --------------------------------------------------------------------------


def _referred_type(resource: str) -> str:
    return resource[0].upper() + resource[1:]


def _channel(channel: str) -> dict[str, str]:
    # TMF683 RelatedChannel requires an href; channels are no TMF resource here (as seeded).
    return {
        "id": channel,
        "href": f"urn:csm-graph:channel:{channel}",
        "name": CHANNEL_NAMES.get(channel, channel),
        "role": "contactChannel",
    }


def interaction_body(
    access: CustomerAccess,
    principal: Principal,
    started: datetime.datetime,
    ended: datetime.datetime,
) -> dict[str, Any]:
    """The TMF683 ``PartyInteraction_Create`` body recording ``principal``'s access to one
    customer's data: one interaction item per resource kind, listing (up to
    :data:`MAX_IDS_PER_ITEM`) the ids viewed."""
    items: list[dict[str, Any]] = []
    summary: list[str] = []
    for n, resource in enumerate(sorted(access.viewed), start=1):
        ids = sorted(access.viewed[resource])
        listed = ", ".join(ids[:MAX_IDS_PER_ITEM])
        if len(ids) > MAX_IDS_PER_ITEM:
            listed += f" (and {len(ids) - MAX_IDS_PER_ITEM} more)"
        summary.append(f"{len(ids)} {resource}")
        items.append({
            "id": str(n),
            "reason": f"Viewed {len(ids)} {resource} record{'s' if len(ids) != 1 else ''}",
            "itemDate": {"startDateTime": _stamp(started), "endDateTime": _stamp(ended)},
            "item": {"role": "viewed", "name": resource,
                     "@referredType": _referred_type(resource)},
            "note": [{"date": _stamp(ended), "author": principal.subject, "text": listed}],
        })  # fmt: skip
    customer: dict[str, Any] = {
        "id": access.customer_id,
        "href": access.href or f"urn:csm-graph:customer:{access.customer_id}",
        "role": "customer",
        "@referredType": "Customer",
    }
    if access.name:
        customer["name"] = access.name
    channel = _channel(principal.channel)
    return {
        "description": (
            f"Agent {principal.subject} viewed the customer's data via {channel['name']}: "
            + ", ".join(summary)
            + "."
        ),
        "direction": "inbound",
        "reason": REASON,
        "status": "completed",
        "interactionDate": {"startDateTime": _stamp(started), "endDateTime": _stamp(ended)},
        "channel": [channel],
        "relatedParty": [
            customer,
            {
                "id": principal.subject,
                "href": f"urn:csm-graph:agent:{principal.subject}",
                "role": "agent",
                "@referredType": "Individual",
            },
        ],
        "interactionItem": items,
    }


# -- the writer -------------------------------------------------------------------------------


class Sink(Protocol):
    """Where interactions go: TMF683's ``partyInteraction`` source (``Sources.interaction``)."""

    def create(self, body: dict[str, Any]) -> Awaitable[Any]: ...


# (outcome, count): outcomes queued, written, retried, spilled, lost
AuditObserver = Callable[[str, int], None]


def _ignore(outcome: str, count: int) -> None:
    return None


def default_spill_path() -> Path:
    """A per-user directory of its own (0700) under the temp dir: a fixed shared path could be
    pre-created by another local user. Production should set CSM_AUDIT_SPILL to durable
    storage (the temp dir may be cleared on reboot)."""
    directory = Path(tempfile.gettempdir()) / f"csm-graph-{os.getuid()}"
    directory.mkdir(mode=0o700, exist_ok=True)
    return directory / SPILL_FILE_NAME


def _transient(exc: BackendError) -> bool:
    """Worth another attempt: unavailable, timed out, or 408/425/429 (a 4xx refusal of the
    body itself will not change by retrying)."""
    return not isinstance(exc, BackendRejected) or exc.status in (408, 425, 429)


class AuditWriter:
    """Queues interaction records and writes them to TMF683 in the background (one per app).

    Start it with :meth:`running` (or :meth:`start`/:meth:`stop`) once the TMF clients are
    open, and stop it before they close. :attr:`counts` holds ``queued``, ``written``,
    ``retried`` (failed attempts that were retried), ``spilled`` and ``lost``; ``observer`` is
    called with each (outcome, count) as it happens, for metrics.
    """

    def __init__(
        self,
        spill_path: Path | None = None,
        *,
        max_queued: int = 10_000,
        batch_size: int = 50,
        flush_interval: float = 0.5,
        concurrency: int = 8,
        max_attempts: int = 6,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        shutdown_timeout: float = 5.0,
        observer: AuditObserver = _ignore,
    ) -> None:
        self.spill_path = spill_path or default_spill_path()
        self.max_queued = max_queued
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.concurrency = concurrency
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.shutdown_timeout = shutdown_timeout
        self.observer = observer
        self.counts: Counter[str] = Counter()
        self._queue: deque[dict[str, Any]] = deque()
        self._inflight: dict[int, dict[str, Any]] = {}
        self._sink: Sink | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._deadline = float("inf")
        self._has_work = asyncio.Event()
        self._batch_full = asyncio.Event()
        self._overflow_logged = 0.0
        self._shutdown_spilled = 0
        self._owners: OwnerFinder | None = None
        self._lookups: set[asyncio.Task[None]] = set()

    # -- requests ----------------------------------------------------------------------------

    def finish(self, access: AccessLog) -> int:
        """Queue one interaction per customer ``access`` touched; never waits. Returns how
        many interactions were recorded (queued or spilled). Calling it twice records once."""
        if access.finished:
            return 0
        access.finished = True
        ended = _now()
        customers = access.customers()
        if access.unattributed:
            self._attribute_later(access, dict(access.unattributed), ended)
        for seen in customers.values():
            self.submit(interaction_body(seen, access.principal, access.started, ended))
        return len(customers)

    def _attribute_later(
        self, access: AccessLog, unattributed: dict[str, set[str]], ended: datetime.datetime
    ) -> None:
        """Records that name no customer (a person, a payment, a bill line, a service problem
        read on its own) are traced to their owner at the backends after the request, off
        its path; what still has no owner is logged at ERROR and counted, never dropped
        silently."""
        finder = self._owners
        if finder is None or self._closed:
            self._unowned(access, unattributed)
            return

        async def attribute() -> None:
            try:
                owned = await finder.owners(unattributed)
            except (BackendError, TimeoutError) as exc:
                log.error("audit: owner lookup failed (%s)", exc)
                self._unowned(access, unattributed)
                return
            left = {k: set(v) for k, v in unattributed.items()}
            for customer_id, viewed in owned.items():
                seen = CustomerAccess(customer_id)
                for resource, ids in viewed.items():
                    for record_id in ids:
                        seen.add(resource, record_id)
                        left.get(resource, set()).discard(record_id)
                self.submit(interaction_body(seen, access.principal, access.started, ended))
            left = {k: v for k, v in left.items() if v}
            if left:
                self._unowned(access, left)

        task = asyncio.get_running_loop().create_task(attribute(), name="audit-owners")
        self._lookups.add(task)
        task.add_done_callback(self._lookups.discard)

    async def owner_lookups(self, within: float) -> None:
        """Wait (at most ``within`` seconds) for the owner lookups under way."""
        if self._lookups:
            await asyncio.wait(set(self._lookups), timeout=within)

    def _unowned(self, access: AccessLog, records: Mapping[str, set[str]]) -> None:
        self._count("unattributed", sum(len(v) for v in records.values()))
        log.error(
            "agent %s read records no customer could be found for (not recorded in a party "
            "interaction): %s",
            access.principal.subject,
            {k: sorted(v) for k, v in sorted(records.items())},
        )

    def submit(self, body: dict[str, Any]) -> None:
        """Queue one record; when the queue is full or the writer has stopped, spill it."""
        if self._closed:
            log.error("audit writer stopped: interaction spilled to %s", self.spill_path)
            self._spill([body], "stopped")
            return
        if len(self._queue) >= self.max_queued:
            now = time.monotonic()
            if now - self._overflow_logged >= 10.0:
                self._overflow_logged = now
                log.warning(
                    "audit queue full (%d): interactions spilled to %s",
                    self.max_queued,
                    self.spill_path,
                )
            self._spill([body], "overflow")
            return
        self._queue.append(body)
        self._count("queued")
        self._has_work.set()
        if len(self._queue) >= self.batch_size:
            self._batch_full.set()

    @property
    def pending(self) -> int:
        """Records queued or being written."""
        return len(self._queue) + len(self._inflight)

    # -- life --------------------------------------------------------------------------------

    async def start(self, sink: Sink) -> None:
        if self._task is not None:
            raise RuntimeError("the audit writer is already running")
        self._sink = sink
        self._closed = False
        self._task = asyncio.get_running_loop().create_task(self._run(), name="audit-writer")

    async def stop(self) -> None:
        """Flush what is queued (within ``shutdown_timeout``), then spill what is left."""
        await self.owner_lookups(self.shutdown_timeout)  # they still submit what they find
        self._closed = True
        task = self._task
        if task is not None:
            self._deadline = asyncio.get_running_loop().time() + self.shutdown_timeout
            self._has_work.set()
            self._batch_full.set()
            try:
                await asyncio.wait_for(asyncio.shield(task), self.shutdown_timeout)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self._task = None
        left = [*self._inflight.values(), *self._queue]
        self._inflight.clear()
        self._queue.clear()
        if left:
            self._spill(left, "shutdown")
        unwritten, self._shutdown_spilled = self._shutdown_spilled + len(left), 0
        if unwritten:
            log.error(
                "audit writer stopped with %d interaction(s) unwritten to TMF683: spilled to %s",
                unwritten,
                self.spill_path,
            )

    @contextlib.asynccontextmanager
    async def running(
        self, sink: Sink, owners: OwnerFinder | None = None
    ) -> AsyncIterator[AuditWriter]:
        self._owners = owners
        await self.start(sink)
        try:
            yield self
        finally:
            await self.stop()

    # -- the background task -----------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await self._has_work.wait()
            if not self._queue:
                if self._closed:
                    return
                self._has_work.clear()
                continue
            if len(self._queue) < self.batch_size and not self._closed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._batch_full.wait(), self.flush_interval)
            batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
            if not self._closed:
                if len(self._queue) < self.batch_size:
                    self._batch_full.clear()
                if not self._queue:
                    self._has_work.clear()
            for body in batch:
                self._inflight[id(body)] = body
            slots = asyncio.Semaphore(self.concurrency)
            await asyncio.gather(*(self._deliver(body, slots) for body in batch))

    async def _deliver(self, body: dict[str, Any], slots: asyncio.Semaphore) -> None:
        assert self._sink is not None
        loop = asyncio.get_running_loop()
        for attempt in range(1, self.max_attempts + 1):
            try:
                async with slots:
                    await self._sink.create(body)
            except BackendError as exc:
                if not _transient(exc):
                    log.error("TMF683 refused an interaction (%s): spilled", exc)
                    self._done(body, "rejected")
                    return
                if attempt == self.max_attempts:
                    log.error("TMF683 failed %d times (%s): interaction spilled", attempt, exc)
                    self._done(body, "exhausted")
                    return
                delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
                delay *= 0.5 + random.random() / 2  # jitter: not for security
                if loop.time() + delay > self._deadline:
                    self._done(body, "shutdown")  # stopping: no time left to retry
                    return
                self._count("retried")
                log.warning("TMF683 write failed (%s); retry %d in %.2fs", exc, attempt, delay)
                await asyncio.sleep(delay)
            except Exception:
                log.exception("writing an interaction failed: spilled")
                self._done(body, "error")
                return
            else:
                self._inflight.pop(id(body), None)
                self._count("written")
                return

    def _done(self, body: dict[str, Any], reason: str) -> None:
        self._inflight.pop(id(body), None)
        if reason == "shutdown":
            self._shutdown_spilled += 1
        self._spill([body], reason)

    # -- the spill file ----------------------------------------------------------------------

    def _spill(self, bodies: list[dict[str, Any]], reason: str) -> None:
        """Append the records to the spill file (one JSON object a line: when, why, and the
        TMF683 body to POST to ``partyInteraction``), or log them in full if that fails."""
        stamp = _stamp(_now())
        lines = b"".join(
            orjson.dumps({"spilledAt": stamp, "reason": reason, "api": "TMF683",
                          "resource": "partyInteraction", "body": body}) + b"\n"
            for body in bodies
        )  # fmt: skip
        try:
            self.spill_path.parent.mkdir(parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
            fd = os.open(self.spill_path, flags, 0o600)
            try:
                # Personal data: never append to a file someone else owns or can read.
                status = os.fstat(fd)
                if status.st_uid != os.getuid() or status.st_mode & 0o077:
                    raise PermissionError("not owned by this user, or readable by others")
                os.write(fd, lines)
            finally:
                os.close(fd)
        except OSError as exc:
            log.error(
                "cannot write the audit spill file %s (%s); lost interactions: %s",
                self.spill_path,
                exc,
                lines.decode(),
            )
            self._count("lost", len(bodies))
            return
        self._count("spilled", len(bodies))

    def _count(self, outcome: str, n: int = 1) -> None:
        self.counts[outcome] += n
        try:
            self.observer(outcome, n)
        except Exception:
            log.exception("audit observer failed")
