"""The gateway's soak test: mixed queries and mutations under load while backends fail in turn,
then an audit of the money -- no payment lost, none made twice.

    .venv/bin/python bench/soak.py                # 120 s of load (docs/operations.md, "Soak test")
    .venv/bin/python bench/soak.py --quick        # 30 s
    .venv/bin/python bench/soak.py --redis redis://127.0.0.1:6379/15   # the stores in Redis

Loopback only, and bounded: it starts ``csm-graph sandbox`` and one ``csm-graph serve`` on free
127.0.0.1 ports (the sandbox's development IdP trusted, rate limits raised with
``CSM_RATE_LIMITS`` as bench/run.py does; Redis when ``--redis`` or ``CSM_TEST_REDIS_URL`` names
one, under a prefix of this run that is deleted afterwards, else the embedded in-memory
stores), drives the gateway for ``--duration`` seconds, settles, checks, stops everything and
exits.

The load: ``--workers`` asyncio clients (aiohttp), each picking at random (weights in
:data:`MIX`): a customer-360 query (tests/gateway/test_customer360.py's ``ME``) as one of the
customers, the anonymous catalogue, ``payBill`` of 0.01 on an open bill with a fresh
idempotency key, ``payBill`` again with an earlier key and the same input (a client repeating
itself), ``createTroubleTicket`` on one of the customer's products (half of them with an
idempotency key) and ``addTicketNote`` on one of the tickets it raised. A live subscriber
(``troubleTicketUpdated`` over graphql-transport-ws, one customer) listens throughout,
subscribing again when a subscription is ended.

The faults: one at a time (:data:`FAULTS`, in turn, repeated as long as the run lasts), each
held ``--fault-seconds`` and followed by ``--calm-seconds`` without faults, through the
sandbox's ``PUT /admin/faults/{API}`` -- backends down (503, reset), erroring, slow and hanging,
the payment API (TMF676) among them in several ways while payments are being made: erroring,
down, hanging, and answering only after the gateway has given up although the payment landed.

After the load: faults cleared, every payment whose outcome its client does not know (an error
that is not a refusal, a dropped connection, ``ACTION_IN_PROGRESS``) is sent again with its key
until it gets a definite answer (``--settle-seconds`` at most) -- as a client would. Then the
audit, against the sandbox's own records:

- **lost payments**: a ``payBill`` answered with a payment the sandbox does not have, or one
  made with another key (its ``correlatorId`` is not this key's: ``"csm-" + sha256(customer
  "\\n" key)[:32]``, graph/actions/actor.py);
- **duplicated payments**: more than one sandbox payment for one idempotency key (by
  correlator), and keys answered with different payments at different times;
- unacknowledged payments (made, but their key never got an answer saying so), payments the
  run did not ask for, bills whose balance does not match their payments, tickets and notes
  answered as created but missing at the sandbox.

It reports requests, answers by HTTP status, by GraphQL error code and by user error code,
p50/p99 per kind, the gateway's resilience counters (``/metrics``), its log lines by level and
the most frequent warnings and errors, and its RSS (and the sandbox's) at start, middle and
end. A table on stdout, everything in JSON (``--json``; default
``bench/results/soak-<date>.json``, ``soak-<date>-quick.json`` with ``--quick``).

Exit code: 0 when no payment was lost or duplicated (nor answered inconsistently), 1
otherwise, 2 when the run could not be set up. Needs: Linux (``/proc``).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import datetime
import decimal
import hashlib
import json
import os
import random
import re
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import (  # noqa: E402  (after the path)
    CANDIDATES,
    CATALOGUE,
    PAY,
    PAYABLE,
    RATE_LIMITS,
    Service,
    clean_env,
    free_port,
    git_state,
    machine,
    metric_total,
    rss_mib,
    start,
)
from graph.auth.devidp import load_or_create_key, mint  # noqa: E402
from graph.sandbox.registry import COLLECTIONS  # noqa: E402
from graph.schema.common import decode_global_id, encode_global_id  # noqa: E402
from tests.gateway.test_customer360 import ME as CUSTOMER_360  # noqa: E402

__all__ = ["main"]

CENT: Final = Decimal("0.01")
PAY_AMOUNT: Final = "0.01"

# What the workers do, and how often (relative weights).
MIX: Final = {
    "customer-360": 30,
    "catalogue": 20,
    "payBill": 22,
    "payBill-repeat": 6,
    "createTroubleTicket": 10,
    "addTicketNote": 12,
}

# (API, the sandbox fault, what it stands for), applied one at a time in this order.
FAULTS: Final[tuple[tuple[str, dict[str, Any], str], ...]] = (
    ("TMF676", {"answer_latency_ms": 6000, "methods": ["POST"]},
     "payments land, but answer after 6 s (past the gateway's timeout)"),
    ("TMF678", {"down": "503"}, "billing down (503)"),
    ("TMF676", {"error_rate": 0.5}, "payments erroring (50 % 500)"),
    ("TMF629", {"latency_ms": 1500, "jitter_ms": 500}, "CRM slow (1.5-2 s)"),
    ("TMF637", {"hang": True}, "product inventory hanging"),
    ("TMF676", {"hang": True, "methods": ["POST"]},
     "payment writes hang (served when the fault ends, if the gateway still waits)"),
    ("TMF621", {"down": "reset"}, "tickets down (connections reset)"),
    ("TMF683", {"down": "503"}, "interactions (the actions' audit records) down"),
    ("TMF676", {"down": "503"}, "payments down (503)"),
    ("TMF620", {"error_rate": 0.3, "error_status": 503}, "catalogue erroring (30 % 503)"),
    ("TMF670", {"latency_ms": 3000}, "payment methods slow (3 s)"),
)  # fmt: skip

CREATE_TICKET: Final = """mutation CreateTicket($input: CreateTroubleTicketInput!) {
  createTroubleTicket(input: $input) { ticket { id reference status } errors { code message } }
}"""
ADD_NOTE: Final = """mutation AddNote($input: AddTicketNoteInput!) {
  addTicketNote(input: $input) { ticket { reference } errors { code message } }
}"""
LIVE_TICKETS: Final = "subscription Live { troubleTicketUpdated { reference status } }"

# Answers to a payment that leave its outcome unknown to the client: it asks again, same key.
UNCERTAIN_USER_CODES: Final = frozenset({"ACTION_IN_PROGRESS"})


# --- what was sent and answered ------------------------------------------------------------------


@dataclass
class Tally:
    """Answers, by kind of request."""

    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)  # "200", "429", "timeout"...
    codes: Counter[str] = field(default_factory=Counter)  # GraphQL errors' extensions.code
    user_codes: Counter[str] = field(default_factory=Counter)  # payloads' errors[].code
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, outcome)
    latencies: dict[str, list[float]] = field(default_factory=lambda: collections.defaultdict(list))


@dataclass
class PayKey:
    """One idempotency key: what it pays, and every answer it got."""

    key: str
    customer: str
    bill: str  # backend id
    bill_gid: str
    method_gid: str
    payments: list[str] = field(default_factory=list)  # payment ids answered
    answers: list[str] = field(default_factory=list)  # "paid", "refused:CODE", "error:CODE"...
    uncertain: bool = True  # the client does not know yet whether it paid

    def variables(self) -> dict[str, Any]:
        return {
            "input": {
                "bills": [{"bill": self.bill_gid, "amount": PAY_AMOUNT}],
                "paymentMethod": self.method_gid,
                "idempotencyKey": self.key,
            }
        }

    def correlator(self) -> str:
        digest = hashlib.sha256(f"{self.customer}\n{self.key}".encode()).hexdigest()
        return "csm-" + digest[:32]


@dataclass
class Payer:
    customer: str
    method_gid: str
    bills: list[tuple[str, Decimal]]  # (backend id, remaining at the start)
    products: list[str] = field(default_factory=list)  # global ids
    tickets: list[tuple[str, str]] = field(default_factory=list)  # (global id, backend id)


@dataclass
class Run:
    args: argparse.Namespace
    run_id: str
    gateway: Service
    sandbox: Service
    http: aiohttp.ClientSession
    tokens: dict[str, str]  # customer (or "agent") -> token
    payers: list[Payer]
    viewers: list[str]  # customers the customer-360 is asked for
    stop_at: float = 0.0
    started_at: float = 0.0
    tally: Tally = field(default_factory=Tally)
    keys: list[PayKey] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (ticket id, text) answered ok
    tickets_made: list[str] = field(default_factory=list)  # ticket ids answered as created
    faults: list[dict[str, Any]] = field(default_factory=list)
    memory: list[dict[str, float]] = field(default_factory=list)
    live: Counter[str] = field(default_factory=Counter)
    counter: int = 0

    def next_number(self) -> int:
        self.counter += 1
        return self.counter

    def headers(self, who: str | None) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if who is not None:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        return headers


# --- talking to the gateway and the sandbox -----------------------------------------------------


async def graphql(
    run: Run, kind: str, who: str | None, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """Send one operation, tally its answer; the JSON body (None when there was none)."""
    tally = run.tally
    tally.requests[kind] += 1
    body = json.dumps({"query": query, "variables": variables or {}})
    started = time.monotonic()
    result: dict[str, Any] | None = None
    try:
        async with run.http.post(
            run.gateway.url + "/graphql", data=body, headers=run.headers(who)
        ) as resp:
            status = str(resp.status)
            raw = await resp.read()
        with contextlib.suppress(ValueError):
            result = json.loads(raw)
    except TimeoutError:
        status = "timeout"
    except aiohttp.ClientError as exc:
        status = "connection:" + type(exc).__name__
    tally.latencies[kind].append(time.monotonic() - started)
    tally.statuses[status] += 1
    codes = [
        str((error.get("extensions") or {}).get("code", "NONE"))
        for error in (result or {}).get("errors") or []
    ]
    user_codes = [
        str(problem.get("code"))
        for payload in ((result or {}).get("data") or {}).values()
        if isinstance(payload, dict)
        for problem in payload.get("errors") or []
    ]
    tally.codes.update(codes)
    tally.user_codes.update(user_codes)
    if status != "200" or result is None:
        outcome = "failed"
    elif codes:
        outcome = "partial" if any((result.get("data") or {}).values()) else "error"
    elif user_codes:
        outcome = "refused"
    else:
        outcome = "ok"
    tally.outcomes[(kind, outcome)] += 1
    return result


async def tmf_list(run: Run, collection: str, **params: str) -> list[dict[str, Any]]:
    """Every record of a sandbox collection matching ``params`` (paged)."""
    url = run.sandbox.url + COLLECTIONS[collection].path
    found: list[dict[str, Any]] = []
    while True:
        query = {**params, "limit": "1000", "offset": str(len(found))}
        async with run.http.get(url, params=query) as resp:
            if resp.status not in (200, 206):
                raise RuntimeError(f"GET {url} {query}: {resp.status} {await resp.text()}")
            page = await resp.json()
            total = int(resp.headers.get("X-Total-Count", len(found) + len(page)))
        found += page
        if not page or len(found) >= total:
            return found


async def tmf_get(run: Run, collection: str, record_id: str) -> dict[str, Any] | None:
    url = f"{run.sandbox.url}{COLLECTIONS[collection].path}/{record_id}"
    async with run.http.get(url) as resp:
        if resp.status == 404:
            return None
        record: dict[str, Any] = await resp.json()
        return record


async def admin(run: Run, method: str, path: str, body: Any = None) -> None:
    async with run.http.request(method, run.sandbox.url + path, json=body) as resp:
        if resp.status >= 300:
            raise RuntimeError(f"{method} {path}: {resp.status} {await resp.text()}")


def money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


# --- the workers' requests ----------------------------------------------------------------------


async def customer_360(run: Run, rng: random.Random) -> None:
    await graphql(run, "customer-360", rng.choice(run.viewers), CUSTOMER_360)


async def catalogue(run: Run, rng: random.Random) -> None:
    await graphql(run, "catalogue", None, CATALOGUE)


async def pay(run: Run, kind: str, key: PayKey) -> None:
    result = await graphql(run, kind, key.customer, PAY, key.variables())
    payload = ((result or {}).get("data") or {}).get("payBill")
    if isinstance(payload, dict) and payload.get("payment"):
        key.payments.append(str(payload["payment"]["reference"]))
        key.answers.append("paid")
        key.uncertain = False
    elif isinstance(payload, dict) and payload.get("errors"):
        codes = sorted({str(e.get("code")) for e in payload["errors"]})
        key.answers.append("refused:" + ",".join(codes))
        # A refusal means nothing was paid -- unless the key paid before: then that stands.
        key.uncertain = bool(UNCERTAIN_USER_CODES & set(codes)) and not key.payments
    else:
        codes = sorted(
            {
                str((e.get("extensions") or {}).get("code"))
                for e in (result or {}).get("errors") or []
            }
        )
        key.answers.append("error:" + (",".join(codes) or "no answer"))
        key.uncertain = not key.payments


async def pay_bill(run: Run, rng: random.Random) -> None:
    payer = rng.choice(run.payers)
    bill, _ = rng.choice(payer.bills)
    key = PayKey(
        key=f"soak-{run.run_id}-{run.next_number()}",
        customer=payer.customer,
        bill=bill,
        bill_gid=encode_global_id("Bill", bill),
        method_gid=payer.method_gid,
    )
    run.keys.append(key)
    await pay(run, "payBill", key)


async def pay_bill_again(run: Run, rng: random.Random) -> None:
    if not run.keys:
        await pay_bill(run, rng)
        return
    await pay(run, "payBill-repeat", rng.choice(run.keys))


async def create_ticket(run: Run, rng: random.Random) -> None:
    payer = rng.choice(run.payers)
    number = run.next_number()
    given: dict[str, Any] = {
        "subject": rng.choice(payer.products),
        "description": f"Soak {run.run_id}: no signal ({number})",
    }
    if rng.random() < 0.5:
        given["idempotencyKey"] = f"soak-ticket-{run.run_id}-{number}"
    result = await graphql(
        run, "createTroubleTicket", payer.customer, CREATE_TICKET, {"input": given}
    )
    payload = ((result or {}).get("data") or {}).get("createTroubleTicket")
    if isinstance(payload, dict) and payload.get("ticket") and not payload.get("errors"):
        ticket = payload["ticket"]
        payer.tickets.append((str(ticket["id"]), str(ticket["reference"])))
        run.tickets_made.append(str(ticket["reference"]))


async def add_note(run: Run, rng: random.Random) -> None:
    payer = rng.choice(run.payers)
    if not payer.tickets:
        await create_ticket(run, rng)
        return
    gid, ticket = rng.choice(payer.tickets[-5:])
    text = f"Soak {run.run_id} note {run.next_number()}"
    result = await graphql(
        run, "addTicketNote", payer.customer, ADD_NOTE, {"input": {"ticket": gid, "text": text}}
    )
    payload = ((result or {}).get("data") or {}).get("addTicketNote")
    if isinstance(payload, dict) and payload.get("ticket") and not payload.get("errors"):
        run.notes.append((ticket, text))


ACTIONS: Final[dict[str, Callable[[Run, random.Random], Awaitable[None]]]] = {
    "customer-360": customer_360,
    "catalogue": catalogue,
    "payBill": pay_bill,
    "payBill-repeat": pay_bill_again,
    "createTroubleTicket": create_ticket,
    "addTicketNote": add_note,
}


async def worker(run: Run, number: int) -> None:
    rng = random.Random(run.args.seed * 1000 + number)
    kinds, weights = list(MIX), list(MIX.values())
    while time.monotonic() < run.stop_at:
        await ACTIONS[rng.choices(kinds, weights)[0]](run, rng)


# --- beside the load: faults, memory, a live subscriber ------------------------------------------


async def inject_faults(run: Run) -> None:
    """One fault after another until the load stops; all cleared at the end."""
    args = run.args
    try:
        for n in range(10**6):
            api, fault, what = FAULTS[n % len(FAULTS)]
            left = run.stop_at - time.monotonic()
            if left <= 1:
                break
            began = time.monotonic() - run.started_at
            await admin(run, "PUT", f"/admin/faults/{api}", fault)
            await asyncio.sleep(min(args.fault_seconds, left))
            await admin(run, "DELETE", "/admin/faults")
            ended = time.monotonic() - run.started_at
            run.faults.append(
                {
                    "api": api,
                    "fault": fault,
                    "what": what,
                    "from_s": round(began, 1),
                    "to_s": round(ended, 1),
                }
            )
            await asyncio.sleep(max(0.0, min(args.calm_seconds, run.stop_at - time.monotonic())))
    finally:
        with contextlib.suppress(Exception):
            await admin(run, "DELETE", "/admin/faults")


async def sample_memory(run: Run) -> None:
    while True:
        run.memory.append(
            {
                "t_s": round(time.monotonic() - run.started_at, 1),
                "gateway_mib": round(rss_mib(run.gateway.proc.pid), 1),
                "sandbox_mib": round(rss_mib(run.sandbox.proc.pid), 1),
            }
        )
        await asyncio.sleep(2.0)


async def listen(run: Run, customer: str) -> None:
    """A live subscriber for the whole run; subscribes again when ended."""
    url = run.gateway.url + "/graphql"
    while time.monotonic() < run.stop_at:
        try:
            async with run.http.ws_connect(url, protocols=("graphql-transport-ws",)) as ws:
                await ws.send_json(
                    {
                        "type": "connection_init",
                        "payload": {"Authorization": f"Bearer {run.tokens[customer]}"},
                    }
                )
                ack = await ws.receive_json(timeout=10)
                if ack.get("type") != "connection_ack":
                    run.live["refused"] += 1
                    await asyncio.sleep(1)
                    continue
                op = 0
                while time.monotonic() < run.stop_at:
                    op += 1
                    run.live["subscriptions"] += 1
                    await ws.send_json(
                        {"id": str(op), "type": "subscribe", "payload": {"query": LIVE_TICKETS}}
                    )
                    async for message in ws:
                        if message.type is not aiohttp.WSMsgType.TEXT:
                            break
                        data = message.json()
                        if data.get("type") == "ping":
                            await ws.send_json({"type": "pong"})
                        elif data.get("type") == "next":
                            errors = data["payload"].get("errors")
                            run.live["errors" if errors else "events"] += 1
                        elif data.get("type") in ("complete", "error"):
                            break
                    if ws.closed:
                        run.live["connections closed"] += 1
                        break
        except (aiohttp.ClientError, TimeoutError, ValueError):
            run.live["connection errors"] += 1
            await asyncio.sleep(1)


# --- setting up ---------------------------------------------------------------------------------


def tokens_for(key_path: Path, customers: list[str], ttl: int) -> dict[str, str]:
    key = load_or_create_key(key_path)
    tokens = {
        c: mint(key, role="customer", channel="web", customer_id=c, subject=c, ttl_seconds=ttl)
        for c in customers
    }
    tokens["agent"] = mint(
        key, role="agent", channel="agent-desktop", subject="soak", ttl_seconds=ttl
    )
    return tokens


async def find_payers(run: Run, want: int) -> list[Payer]:
    """Customers with a usable stored payment method and open bills of 1.00 or more (up to 4
    each), found as an agent would (bench/run.py's query), with their products."""
    result = await graphql(run, "setup", "agent", CANDIDATES, {"n": 100})
    if not result or result.get("errors"):
        sys.exit(f"soak: looking for payable bills failed: {result}")
    now = datetime.datetime.now(datetime.UTC).isoformat()
    payers: list[Payer] = []
    for edge in result["data"]["customers"]["edges"]:
        node = edge["node"]
        methods = [
            m["id"]
            for m in node["paymentMethods"]
            if str(m.get("status") or "active").lower() == "active"
            and (not m.get("validUntil") or m["validUntil"] > now)
        ]
        bills = sorted(
            (
                (money(b["node"]["remainingAmount"]["amount"]), b["node"]["id"])
                for account in node["billingAccounts"]
                for b in account["bills"]["edges"]
                if b["node"]["state"] in PAYABLE and b["node"]["remainingAmount"]
            ),
            reverse=True,
        )
        bills = [b for b in bills if b[0] >= 1][:4]
        if not methods or not bills:
            continue
        customer = str(node["reference"])
        products = await tmf_list(run, "product", **{"relatedParty.id": customer})
        if not products:
            continue
        payers.append(
            Payer(
                customer=customer,
                method_gid=methods[0],
                # The query gives global ids; the audit reads the sandbox by backend id.
                bills=[(backend_id(gid), remaining) for remaining, gid in bills],
                products=[encode_global_id("Product", p["id"]) for p in products[:5]],
            )
        )
        if len(payers) == want:
            break
    if not payers:
        sys.exit("soak: no customer with open bills and a usable payment method found")
    return payers


def backend_id(global_id: str) -> str:
    return decode_global_id(global_id)[1]


@contextlib.contextmanager
def services(args: argparse.Namespace, workdir: Path) -> Iterator[tuple[Service, Service, Path]]:
    exe = str(Path(sys.executable).with_name("csm-graph"))
    key = workdir / "idp" / "dev-idp-key.pem"
    base = clean_env({"CSM_DEV_IDP_KEY": str(key)})
    sandbox_url = f"http://127.0.0.1:{free_port()}"
    started: list[Service] = []
    try:
        sandbox = start(
            "sandbox",
            [
                exe,
                "sandbox",
                "--host",
                "127.0.0.1",
                "--port",
                sandbox_url.rsplit(":", 1)[1],
                "--customers",
                str(args.customers),
            ],
            base,
            None,
            workdir,
            sandbox_url,
        )
        started.append(sandbox)
        sandbox.wait_ready("/admin/stats")
        port = free_port()
        env = base | {
            "CSM_TMF_BASE_URL": sandbox_url,
            "CSM_DEV_IDP": "1",
            "CSM_DEV_IDP_URL": sandbox_url,
            "CSM_AUDIT_SPILL": str(workdir / "audit-spill.jsonl"),
            "CSM_RATE_LIMITS": RATE_LIMITS,  # a few callers make all the load
            "CSM_LOG_FORMAT": "json",
        }
        if args.redis:
            env |= {"CSM_REDIS_URL": args.redis, "CSM_REDIS_PREFIX": args.redis_prefix}
        gateway = start(
            "gateway",
            [exe, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env,
            None,
            workdir,
            f"http://127.0.0.1:{port}",
        )
        started.append(gateway)
        gateway.wait_ready("/readyz")
        yield sandbox, gateway, key
    finally:
        for service in reversed(started):
            service.stop()


# --- after the load: settle, audit --------------------------------------------------------------


async def settle(run: Run) -> dict[str, Any]:
    """Ask again, with the same key, for every payment whose outcome its client does not know,
    until each has a definite answer or ``--settle-seconds`` pass."""
    began = time.monotonic()
    rounds = asked = 0
    gate = asyncio.Semaphore(8)

    async def again(key: PayKey) -> None:
        async with gate:
            await pay(run, "payBill-settle", key)

    while True:
        open_keys = [k for k in run.keys if k.uncertain]
        if not open_keys or time.monotonic() - began > run.args.settle_seconds:
            break
        rounds += 1
        asked += len(open_keys)
        await asyncio.gather(*(again(k) for k in open_keys))
        if any(k.uncertain for k in run.keys):
            await asyncio.sleep(2.0)
    return {
        "seconds": round(time.monotonic() - began, 1),
        "rounds": rounds,
        "requests": asked,
        "still_unknown": sum(1 for k in run.keys if k.uncertain),
    }


async def audit(run: Run) -> dict[str, Any]:
    """The sandbox's records against what the gateway answered."""
    payments: dict[str, dict[str, Any]] = {}
    for payer in run.payers:
        for record in await tmf_list(run, "payment", **{"payer.id": payer.customer}):
            payments[str(record["id"])] = record
    by_correlator: dict[str, list[str]] = collections.defaultdict(list)
    for pid, record in payments.items():
        by_correlator[str(record.get("correlatorId"))].append(pid)

    lost: list[dict[str, Any]] = []
    duplicated: list[dict[str, Any]] = []
    inconsistent: list[dict[str, Any]] = []
    unacknowledged: list[str] = []
    ours: set[str] = set()
    for key in run.keys:
        correlator = key.correlator()
        made = by_correlator.get(correlator, [])
        ours.update(made)
        for pid in set(key.payments):
            found = payments.get(pid)
            if found is None or found.get("correlatorId") != correlator:
                lost.append({"key": key.key, "payment": pid, "at_sandbox": found is not None})
        if len(made) > 1:
            duplicated.append({"key": key.key, "payments": made, "answers": key.answers})
        if len(set(key.payments)) > 1:
            inconsistent.append({"key": key.key, "answered": sorted(set(key.payments))})
        if made and not key.payments:
            unacknowledged.append(key.key)
    # The sandbox is this run's: every payment with a gateway's correlator was made by it.
    made_by_gateway = {
        pid: record
        for pid, record in payments.items()
        if str(record.get("correlatorId", "")).startswith("csm-")
    }
    foreign = sorted(pid for pid in made_by_gateway if pid not in ours)

    # Every bill's balance moved by exactly what this run's payments allocate to it.
    balance_mismatches: list[dict[str, Any]] = []
    for payer in run.payers:
        for bill_id, remaining_before in payer.bills:
            bill = await tmf_get(run, "customerBill", bill_id)
            paid = sum(
                (
                    money((item.get("amount") or {}).get("value", 0))
                    for record in made_by_gateway.values()
                    for item in record.get("paymentItem") or []
                    if (item.get("item") or {}).get("id") == bill_id
                ),
                Decimal(0),
            )
            left = money(((bill or {}).get("remainingAmount") or {}).get("value", "nan"))
            if left != remaining_before - paid:
                balance_mismatches.append(
                    {
                        "bill": bill_id,
                        "before": str(remaining_before),
                        "paid": str(paid),
                        "now": str(left),
                    }
                )

    # Tickets and notes answered as done are at the ticketing system.
    tickets: dict[str, dict[str, Any]] = {}
    for payer in run.payers:
        for record in await tmf_list(run, "troubleTicket", **{"relatedParty.id": payer.customer}):
            tickets[str(record["id"])] = record
    missing_tickets = [t for t in run.tickets_made if t not in tickets]
    missing_notes = [
        {"ticket": ticket, "note": text}
        for ticket, text in run.notes
        if text not in {n.get("text") for n in (tickets.get(ticket) or {}).get("note") or []}
    ]
    answered = Counter(a.split(":")[0] for k in run.keys for a in k.answers)
    return {
        "keys": len(run.keys),
        "answers": dict(answered),
        "paid_keys": sum(1 for k in run.keys if k.payments),
        "sandbox_payments": len(made_by_gateway),
        "lost": len(lost),
        "duplicated": sum(len(d["payments"]) - 1 for d in duplicated),
        "inconsistent_answers": len(inconsistent),
        "unacknowledged": len(unacknowledged),
        "foreign": len(foreign),
        "balance_mismatches": len(balance_mismatches),
        "tickets_answered": len(run.tickets_made),
        "tickets_missing": len(missing_tickets),
        "notes_answered": len(run.notes),
        "notes_missing": len(missing_notes),
        "details": {
            "lost": lost[:20],
            "duplicated": duplicated[:20],
            "inconsistent": inconsistent[:20],
            "unacknowledged": unacknowledged[:20],
            "foreign": foreign[:20],
            "balance_mismatches": balance_mismatches[:20],
            "missing_tickets": missing_tickets[:20],
            "missing_notes": missing_notes[:20],
        },
    }


async def gateway_metrics(run: Run) -> dict[str, float]:
    async with run.http.get(run.gateway.url + "/metrics") as resp:
        text = await resp.text()
    names = (
        "csm_graphql_requests_total",
        "csm_backend_requests_total",
        "csm_backend_retries_total",
        "csm_backend_timeouts_total",
        "csm_breaker_rejections_total",
        "csm_rate_limited_total",
        "csm_rate_limit_fallbacks_total",
    )
    figures = {name: metric_total(text, name) for name in names}
    opened = re.findall(r'^csm_breaker_state\{api="(\w+)"\} (\S+)$', text, re.M)
    figures["breakers_not_closed_at_end"] = sum(1 for _, v in opened if float(v) != 0)
    return figures


def log_summary(path: Path) -> dict[str, Any]:
    """The gateway's log lines by level, and its most frequent warnings and errors."""
    levels: Counter[str] = Counter()
    messages: Counter[str] = Counter()
    text = path.read_text(errors="replace")
    for line in text.splitlines():
        if not line.startswith("{"):
            continue  # aiohttp's start banner
        try:
            record = json.loads(line)
        except ValueError:
            levels["(not JSON)"] += 1
            continue
        level = str(record.get("level", "?"))
        levels[level] += 1
        if level in ("WARNING", "ERROR", "CRITICAL"):
            said = re.sub(r"\b[0-9a-f]{16,}\b|\d+(\.\d+)?", "#", str(record.get("message")))
            messages[f"{level} {record.get('logger')}: {said[:140]}"] += 1
    return {"bytes": len(text), "levels": dict(levels), "top": messages.most_common(12)}


# --- report -------------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


def fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def kinds_table(tally: Tally) -> tuple[str, list[dict[str, Any]]]:
    columns = (
        "kind",
        "requests",
        "ok",
        "partial",
        "refused",
        "error",
        "failed",
        "p50 ms",
        "p99 ms",
    )
    rows: list[dict[str, Any]] = []
    kinds = [k for k in [*MIX, "payBill-settle"] if tally.requests[k]]
    everything = [x for k in kinds for x in tally.latencies[k]]
    for kind in [*kinds, "all"]:
        values = everything if kind == "all" else tally.latencies[kind]
        count = sum(tally.requests[k] for k in kinds) if kind == "all" else tally.requests[kind]
        row: dict[str, Any] = {"kind": kind, "requests": count}
        for outcome in ("ok", "partial", "refused", "error", "failed"):
            row[outcome] = (
                sum(tally.outcomes[(k, outcome)] for k in kinds)
                if kind == "all"
                else tally.outcomes[(kind, outcome)]
            )
        row["p50_ms"], row["p99_ms"] = percentile(values, 0.5), percentile(values, 0.99)
        rows.append(row)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [
            row["kind"],
            *(
                fmt(row[c])
                for c in (
                    "requests",
                    "ok",
                    "partial",
                    "refused",
                    "error",
                    "failed",
                    "p50_ms",
                    "p99_ms",
                )
            ),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines), rows


def counts(counter: Counter[str]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in counter.most_common()) or "none"


def memory_points(memory: list[dict[str, float]], load_seconds: float) -> dict[str, Any]:
    def at(t: float) -> dict[str, float]:
        return min(memory, key=lambda m: abs(m["t_s"] - t))

    if not memory:
        return {}
    start_, middle, end = at(0), at(load_seconds / 2), at(load_seconds)
    return {
        "start": start_,
        "middle": middle,
        "end": end,
        "after_settle": memory[-1],
        "gateway_max_mib": max(m["gateway_mib"] for m in memory),
        "gateway_growth_mib": round(end["gateway_mib"] - start_["gateway_mib"], 1),
        "gateway_growth_second_half_mib": round(end["gateway_mib"] - middle["gateway_mib"], 1),
    }


# --- main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Soak the gateway under load and faults (see the module docstring)."
    )
    parser.add_argument("--quick", action="store_true", help="30 s of load")
    parser.add_argument("--duration", type=float, help="seconds of load (default 120)")
    parser.add_argument("--workers", type=int, default=16, help="concurrent clients")
    parser.add_argument("--customers", type=int, default=200, help="sandbox customers")
    parser.add_argument("--payers", type=int, default=16, help="customers paying bills")
    parser.add_argument("--fault-seconds", type=float, default=8.0, help="each fault's length")
    parser.add_argument("--calm-seconds", type=float, default=6.0, help="pause between faults")
    parser.add_argument(
        "--keep", type=Path, metavar="DIR",
        help="run in DIR and keep it (the services' logs); default: a temporary directory",
    )  # fmt: skip
    parser.add_argument(
        "--settle-seconds", type=float, default=45.0,
        help="at most this long, after the load, asking again for payments of unknown outcome",
    )  # fmt: skip
    parser.add_argument(
        "--redis", default=os.environ.get("CSM_TEST_REDIS_URL") or None,
        help="Redis for the gateway's stores (default: CSM_TEST_REDIS_URL; else in memory)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=1, help="the workers' random seed")
    parser.add_argument("--note", default="", help="a remark kept with the results (JSON)")
    parser.add_argument("--json", type=Path, help="where to write the results")
    args = parser.parse_args(argv)
    if args.duration is None:
        args.duration = 30.0 if args.quick else 120.0
    if args.duration <= 0 or args.workers < 1:
        parser.error("--duration and --workers must be positive")
    if args.json is None:
        stamp = datetime.date.today().isoformat() + ("-quick" if args.quick else "")
        args.json = Path(__file__).with_name("results") / f"soak-{stamp}.json"
    args.redis_prefix = f"csm-soak:{secrets.token_hex(6)}:"
    return args


async def forget_redis_keys(url: str, prefix: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        for start_ in range(0, len(keys), 1000):
            await client.delete(*keys[start_ : start_ + 1000])
    finally:
        await client.aclose()


async def check_redis(url: str) -> None:
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError

    client = aioredis.Redis.from_url(url, socket_connect_timeout=1.0)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        sys.exit(f"soak: Redis at {url} does not answer ({exc})")
    finally:
        await client.aclose()


async def soak(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    if args.redis:
        await check_redis(args.redis)
    with services(args, workdir) as (sandbox, gateway, key_path):
        timeout = aiohttp.ClientTimeout(total=30)
        connector = aiohttp.TCPConnector(limit=args.workers + 16)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
            ttl = int(args.duration + args.settle_seconds + 3600)
            agent_only = tokens_for(key_path, [], ttl)
            run = Run(args, secrets.token_hex(4), gateway, sandbox, http, agent_only, [], [])
            run.payers = await find_payers(run, args.payers)
            customers = [p.customer for p in run.payers]
            run.viewers = customers
            run.tokens = tokens_for(key_path, customers, ttl)
            run.tally = Tally()  # the setup's query is not part of the figures
            print(
                f"soak: {len(run.payers)} paying customers, {args.workers} workers, "
                f"{args.duration:g} s of load",
                file=sys.stderr,
            )

            run.started_at = time.monotonic()
            run.stop_at = run.started_at + args.duration
            sampler = asyncio.create_task(sample_memory(run))
            listener = asyncio.create_task(listen(run, customers[0]))
            faults = asyncio.create_task(inject_faults(run))
            await asyncio.gather(*(worker(run, n) for n in range(args.workers)))
            load_seconds = time.monotonic() - run.started_at
            await faults
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
            print("soak: load done; settling payments of unknown outcome", file=sys.stderr)
            settled = await settle(run)
            await asyncio.sleep(2.5)  # a last memory sample after the settling
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
            print("soak: auditing the sandbox's records", file=sys.stderr)
            checked = await audit(run)
            figures = await gateway_metrics(run)
        logs = log_summary(gateway.log)
    if args.redis:
        await forget_redis_keys(args.redis, args.redis_prefix)
    table, rows = kinds_table(run.tally)
    return {
        "table": table,
        "kinds": rows,
        "load_seconds": round(load_seconds, 1),
        "statuses": dict(run.tally.statuses),
        "error_codes": dict(run.tally.codes),
        "user_error_codes": dict(run.tally.user_codes),
        "payments": checked,
        "settle": settled,
        "faults": run.faults,
        "live": dict(run.live),
        "gateway_metrics": figures,
        "gateway_log": logs,
        "memory": memory_points(run.memory, load_seconds),
        "memory_samples": run.memory,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.datetime.now(datetime.UTC)
    with contextlib.ExitStack() as stack:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            workdir = args.keep
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="csm-soak-")))
        try:
            result = asyncio.run(soak(args, workdir))
        except SystemExit as exc:  # a service did not start, no payable bills...
            print(exc.code, file=sys.stderr)
            return 2
        except (OSError, RuntimeError, aiohttp.ClientError, decimal.InvalidOperation) as exc:
            print(f"soak: the run failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 2
    paid = result["payments"]
    memory = result["memory"]
    print()
    print(result["table"])
    print()
    print(f"- answers by HTTP status: {counts(Counter(result['statuses']))}")
    print(f"- GraphQL error codes: {counts(Counter(result['error_codes']))}")
    print(f"- user error codes: {counts(Counter(result['user_error_codes']))}")
    print(
        f"- payments: {paid['keys']:,} keys, {paid['paid_keys']:,} paid, "
        f"{paid['sandbox_payments']:,} made at the sandbox; LOST {paid['lost']}, "
        f"DUPLICATED {paid['duplicated']}, inconsistent answers {paid['inconsistent_answers']}, "
        f"unacknowledged {paid['unacknowledged']}, unknown after settling "
        f"{result['settle']['still_unknown']}, not asked for {paid['foreign']}, "
        f"bill balances off {paid['balance_mismatches']}"
    )
    print(
        f"- tickets: {paid['tickets_answered']:,} created ({paid['tickets_missing']} missing), "
        f"{paid['notes_answered']:,} notes ({paid['notes_missing']} missing); "
        f"live subscriber: {counts(Counter(result['live']))}"
    )
    if memory:
        print(
            f"- gateway RSS MiB: start {memory['start']['gateway_mib']:.0f}, middle "
            f"{memory['middle']['gateway_mib']:.0f}, end {memory['end']['gateway_mib']:.0f}, "
            f"max {memory['gateway_max_mib']:.0f} (sandbox: "
            f"{memory['start']['sandbox_mib']:.0f} -> {memory['end']['sandbox_mib']:.0f})"
        )
    metrics = result["gateway_metrics"]
    print(f"- gateway counters: {', '.join(f'{k} {v:,.0f}' for k, v in metrics.items())}")
    log = result["gateway_log"]
    print(f"- gateway log: {log['bytes'] / 2**20:,.1f} MiB, lines {counts(Counter(log['levels']))}")
    for message, count in log["top"]:
        print(f"    {count:>6,}  {message}")
    report = {
        "date": started.isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).as_posix(), *(argv or sys.argv[1:])]),
        "machine": machine(),
        "git": git_state(),
        "note": args.note,
        "settings": {
            "duration_s": args.duration,
            "workers": args.workers,
            "customers": args.customers,
            "payers": args.payers,
            "fault_seconds": args.fault_seconds,
            "calm_seconds": args.calm_seconds,
            "settle_seconds": args.settle_seconds,
            "stores": "redis" if args.redis else "memory",
            "mix": MIX,
            "seed": args.seed,
        },
        **{k: v for k, v in result.items() if k != "table"},
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"- results: {args.json}")
    failed = paid["lost"] + paid["duplicated"] + paid["inconsistent_answers"]
    if failed:
        print(f"soak: FAILED: {failed} lost, duplicated or inconsistent payments", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
