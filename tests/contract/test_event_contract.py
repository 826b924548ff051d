"""TMF event notifications against the official specification files.

One scenario (run once for the module, on its own sandbox) subscribes a real listener to the
hub of every API, then causes create, attribute-value-change, state/status-change and delete
events across the collections -- through POST, PATCH and DELETE, a payment that settles a bill,
a product order that completes and provisions inventory, a trouble ticket that is resolved --
and records every notification received. The tests then check, per collection, that each
received event is the specification's event (its listener path exists, its body validates
against ``<Type><Kind>Event``), and that every event the scenario caused arrived.
"""

from __future__ import annotations

import asyncio
import datetime
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp
import pytest

from graph.sandbox import SandboxConfig, running_sandbox
from graph.sandbox.registry import APIS, COLLECTIONS
from graph.sandbox.tmf_model import MODEL
from tests.contract.bodies import (
    CREATE_BODIES,
    MERGE,
    PATCHES,
    STATE_PATCHES,
    Record,
    Seeded,
    load_seeded,
)
from tests.support.listener import Listener, running_listener
from tests.support.tmf_client import call, url_of
from tests.support.tmf_specs import _document, definition_for, require_specs, spec_dir, validate

CONFIG: Final = SandboxConfig(
    customers=20,
    seed=7,
    today=datetime.date(2026, 11, 26),
    order_step_seconds=0.05,
    delivery_backoff_seconds=0.02,
)
WAIT_SECONDS: Final = 5.0

# TMF678 v4 defines no events; the sandbox publishes those of the v5 supplement.
EVENT_FILES: Final = {"customerBill": "TMF678_CustomerBillManagement_v5.0.0.oas.yaml"}
CORE_KINDS: Final = re.compile(
    r"(Create|AttributeValueChange|StateChange|StatusChange|Delete)Event$"
)
# Core events of the specifications that no client action can cause in the sandbox.
NOT_TRIGGERABLE: Final = {
    "customerBillCreateEvent": "TMF678 has no POST /customerBill; bills are only seeded",
    "paymentAttributeValueChangeEvent": "TMF676 has no PATCH /payment/{id}",
    "paymentStateChangeEvent": "payments are created succeeded; TMF676 has no PATCH",
    "paymentDeleteEvent": "TMF676 has no DELETE /payment/{id}",
}
COLLECTION_OF_EVENT: Final = {name: c for c, model in MODEL.items() for name in model["events"]}


@dataclass
class Outcome:
    """What the scenario did and what the listener received."""

    received: list[tuple[str, Record]] = field(default_factory=list)
    triggered: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    refused: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    seeded: dict[str, Record] = field(default_factory=dict)
    created: dict[str, Record] = field(default_factory=dict)

    def expect(self, collection: str, kind: str) -> None:
        name = COLLECTIONS[collection].event_name(kind)
        if name is not None:
            self.triggered[collection].add(name)

    def events(self, name: str, record_id: str | None = None) -> list[Record]:
        """Received events called ``name`` (about ``record_id``, if given)."""
        collection = COLLECTION_OF_EVENT[name]
        return [
            body
            for got, body in self.received
            if got == name
            and (record_id is None or _resource(body, collection).get("id") == record_id)
        ]

    def missing(self) -> set[str]:
        names = {name for name, _ in self.received}
        return {n for expected in self.triggered.values() for n in expected} - names


def _resource(body: Record, collection: str) -> Record:
    payload = body.get("event")
    record = payload.get(collection) if isinstance(payload, dict) else None
    return record if isinstance(record, dict) else {}


async def _wait_until(
    listener: Listener, done: Callable[[], bool], within: float = WAIT_SECONDS
) -> bool:
    """Wait, on the listener's own arrivals (bounded), until ``done()``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not done():
        remaining = deadline - loop.time()
        if remaining <= 0:
            return False
        try:
            await listener.wait_for(len(listener.received) + 1, within=remaining)
        except TimeoutError:
            return done()
    return True


async def _write(
    out: Outcome, http: aiohttp.ClientSession, collection: str, method: str, url: str, **kw: Any
) -> Record | None:
    reply = await call(http, method, url, **kw)
    if reply.status not in (200, 201, 204):
        out.refused[collection].append(f"{method} {url}: {reply.status} {reply.body}")
        return None
    result: Record = reply.body if isinstance(reply.body, dict) else {}
    return result


async def _scenario(out: Outcome, http: aiohttp.ClientSession, base: str, seeded: Seeded) -> None:
    # creates (the customer's body registers an individual first)
    for collection, build in CREATE_BODIES.items():
        body = await build(seeded)
        record = await _write(out, http, collection, "POST", url_of(base, collection), json=body)
        if record is not None:
            out.created[collection] = record
            out.expect(collection, "Create")
    if "payment" in out.created:  # it settles the bill, and the account balance follows
        out.expect("customerBill", "StateChange")
        out.expect("billingAccount", "AttributeValueChange")
    if "productOrder" in out.created:  # acknowledged -> inProgress -> completed
        out.expect("productOrder", "StateChange")
    # attribute-value changes, then state changes, of what was created
    for patches, kind in ((PATCHES, "AttributeValueChange"), (STATE_PATCHES, "StateChange")):
        for collection, patch in patches.items():
            if collection in out.created:
                href = out.created[collection]["href"]
                patched = await _write(
                    out, http, collection, "PATCH", href, json=patch, content_type=MERGE
                )
                if patched is not None:
                    out.expect(collection, kind)
    # the ticket needs information, is worked on and resolved
    ticket = out.created.get("troubleTicket")
    steps = (("pending", "InformationRequired"), ("inProgress", None), ("resolved", "Resolved"))
    for status, also in steps:
        if ticket is None:
            break
        patch = {"status": status}
        patched = await _write(
            out, http, "troubleTicket", "PATCH", ticket["href"], json=patch, content_type=MERGE
        )
        if patched is None:
            break
        out.expect("troubleTicket", "StateChange")
        if also is not None:
            out.expect("troubleTicket", also)


async def _run() -> Outcome:
    out = Outcome()
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        running_sandbox(CONFIG) as sandbox,
        aiohttp.ClientSession(timeout=timeout) as http,
        running_listener() as listener,
    ):
        out.received = listener.received  # live while the scenario runs; copied at the end
        for api in APIS:
            hub = await call(
                http, "POST", f"{sandbox.url}{api.base_path}/hub", json={"callback": listener.url}
            )
            assert hub.status == 201, f"{api.key} hub: {hub.status} {hub.body}"
        seeded = await load_seeded(http, sandbox.url)
        out.seeded = {"bill": seeded.bill, "account": seeded.account}
        await _scenario(out, http, sandbox.url, seeded)
        order = out.created.get("productOrder")
        if order is not None:  # delete only what the completed order no longer needs
            await _wait_until(
                listener,
                lambda: any(
                    _resource(body, "productOrder").get("state") == "completed"
                    for body in out.events("productOrderStateChangeEvent", order["id"])
                ),
            )
        for collection, record in out.created.items():
            if (
                COLLECTIONS[collection].allows("DELETE", True)
                and await _write(out, http, collection, "DELETE", record["href"]) is not None
            ):
                out.expect(collection, "Delete")
        await _wait_until(listener, lambda: not out.missing())
        out.received = list(listener.received)
    return out


@pytest.fixture(scope="module")
def outcome() -> Outcome:
    require_specs()  # module scope: runs before the function-scoped skip of the conftest
    return asyncio.run(_run())


def _listener_names(file: str) -> set[str]:
    paths = _document(spec_dir() / file)["paths"]
    return {p.removeprefix("/listener/") for p in paths if p.startswith("/listener/")}


def _check_event(collection: str, file: str, name: str, body: Record) -> None:
    """One received notification is the specification's event ``name``."""
    assert name in _listener_names(file), f"/listener/{name} is not a path of {file}"
    definition = name[0].upper() + name[1:]
    assert body.get("eventType") == definition, f"eventType {body.get('eventType')!r}"
    validate(file, definition, body)
    assert set(body["event"]) == {collection}, f"payload holds {sorted(body['event'])}"
    record = body["event"][collection]
    assert record.get("id"), f"no record id: {record}"
    assert record.get("href"), f"no record href: {record}"
    subtype = definition_for(file, MODEL[collection]["definition"], record)
    validate(file, subtype, record)


@pytest.mark.parametrize("collection", list(COLLECTIONS))
def test_events_match_the_specification(outcome: Outcome, collection: str) -> None:
    model = MODEL[collection]
    file = EVENT_FILES.get(collection, model["file"])
    received = [
        (name, body)
        for name, body in outcome.received
        if COLLECTION_OF_EVENT.get(name) == collection
    ]
    problems: dict[str, str] = {}  # the first violation per event name
    for name, body in received:
        try:
            _check_event(collection, file, name, body)
        except AssertionError as exc:
            problems.setdefault(name, f"{name} (event {body.get('eventId')}): {exc}")
    if problems:
        pytest.fail("\n".join(problems.values()), pytrace=False)
    if outcome.refused.get(collection):
        pytest.fail(
            f"the scenario could not cause every {collection} event: "
            + "; ".join(outcome.refused[collection]),
            pytrace=False,
        )
    core = {name for name in model["events"] if CORE_KINDS.search(name)}
    untriggered = core - outcome.triggered.get(collection, set()) - set(NOT_TRIGGERABLE)
    assert not untriggered, f"the scenario does not cause {sorted(untriggered)}"
    missing = outcome.triggered.get(collection, set()) - {name for name, _ in received}
    assert not missing, f"caused but never received within {WAIT_SECONDS} s: {sorted(missing)}"


def test_every_received_event_is_a_specified_event(outcome: Outcome) -> None:
    assert outcome.received, "the listener received nothing"
    unknown = sorted({name for name, _ in outcome.received} - set(COLLECTION_OF_EVENT))
    assert not unknown, f"events no specification defines: {unknown}"


def test_a_payment_settles_the_bill_and_updates_the_account(outcome: Outcome) -> None:
    bill, account = outcome.seeded["bill"], outcome.seeded["account"]
    states = [
        _resource(body, "customerBill").get("state")
        for body in outcome.events("customerBillStateChangeEvent", bill["id"])
    ]
    assert "settled" in states, f"bill {bill['id']} states announced: {states}"
    changes = outcome.events("billingAccountAttributeValueChangeEvent", account["id"])
    assert changes, f"no billingAccountAttributeValueChangeEvent for {account['id']}"


def test_a_completed_product_order_announces_its_new_inventory(outcome: Outcome) -> None:
    order = outcome.created.get("productOrder")
    assert order is not None, f"the order was refused: {outcome.refused.get('productOrder')}"
    states = [
        _resource(body, "productOrder").get("state")
        for body in outcome.events("productOrderStateChangeEvent", order["id"])
    ]
    assert states[-2:] == ["inProgress", "completed"], states
    products = [
        _resource(body, "product")
        for body in outcome.events("productCreateEvent")
        if any(
            item.get("productOrderId") == order["id"]
            for item in _resource(body, "product").get("productOrderItem", [])
        )
    ]
    assert len(products) == 1, f"products created for {order['id']}: {products}"
    for ref, event in (
        *((ref, "serviceCreateEvent") for ref in products[0].get("realizingService", [])),
        *((ref, "resourceCreateEvent") for ref in products[0].get("realizingResource", [])),
    ):
        assert outcome.events(event, ref["id"]), f"no {event} for {ref['id']}"
    assert products[0].get("realizingService"), products[0]
    assert products[0].get("realizingResource"), products[0]


def test_a_resolved_ticket_is_announced(outcome: Outcome) -> None:
    ticket = outcome.created.get("troubleTicket")
    assert ticket is not None, f"the ticket was refused: {outcome.refused.get('troubleTicket')}"
    resolved = outcome.events("troubleTicketResolvedEvent", ticket["id"])
    assert [_resource(body, "troubleTicket").get("status") for body in resolved] == ["resolved"]
    statuses = [
        _resource(body, "troubleTicket").get("status")
        for body in outcome.events("troubleTicketStatusChangeEvent", ticket["id"])
    ]
    assert statuses == ["pending", "inProgress", "resolved"], statuses
