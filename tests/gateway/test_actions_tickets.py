"""Trouble ticket actions end to end: a real gateway with real development-IdP tokens, on the
sandbox's TMF621 backend, whose records (and request counts) the tests read directly.

Tickets in a given status are made through the sandbox's own TMF621 API (created, then moved
along the life cycle as customer care would), so each test starts from a known ticket."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from graph.auth.devidp import load_or_create_key, mint
from graph.operations.manifest import MANIFEST_PATH, add_operation
from graph.resolvers.tickets import CUSTOMER_MOVES, TERMINAL_STATUSES
from graph.sandbox import RunningSandbox
from graph.sandbox.errors import TmfError
from graph.sandbox.rules import TICKET_TRANSITIONS, TroubleTicketRules
from tests.gateway.actions_support import (
    gid,
    interactions_of,
    merge_patch,
    post_graphql,
    record_of,
)
from tests.gateway.conftest import (
    GQL,
    RunningGateway,
    running_gateway,
    settings_for,
    token_for,
)
from tests.support.tmf_client import call, url_of

ME = "cus-000001"
OTHER = "cus-000002"
CUSTOMER = f"customer:{ME}"
AGENT = "agent:a1"

TICKET_FIELDS = """
  id reference name description ticketType severity priority status channel isOpen
  statusHistory { status reason }
  notes { text author }
  relatedEntities { role referredType reference name }
"""

CREATE = f"""mutation($input: CreateTroubleTicketInput!) {{
  createTroubleTicket(input: $input) {{
    ticket {{ {TICKET_FIELDS} }}
    errors {{ code message field }}
  }}
}}"""
NOTE = f"""mutation($input: AddTicketNoteInput!) {{
  addTicketNote(input: $input) {{ ticket {{ {TICKET_FIELDS} }} errors {{ code message field }} }}
}}"""
CANCEL = f"""mutation($input: CancelTroubleTicketInput!) {{
  cancelTroubleTicket(input: $input) {{
    ticket {{ {TICKET_FIELDS} }} errors {{ code message field }}
  }}
}}"""
CONFIRM = f"""mutation($input: ConfirmTicketResolutionInput!) {{
  confirmTicketResolution(input: $input) {{
    ticket {{ {TICKET_FIELDS} }} errors {{ code message field }}
  }}
}}"""
REOPEN = f"""mutation($input: ReopenTroubleTicketInput!) {{
  reopenTroubleTicket(input: $input) {{
    ticket {{ {TICKET_FIELDS} }} errors {{ code message field }}
  }}
}}"""
MY_TICKETS = """query { me { troubleTickets(first: 3) { totalCount edges { node {
  id reference status notes { text author }
} } } } }"""
# What an IVR's "report a fault" prompt sends: a trusted operation (the IVR runs no other).
IVR_REPORT = """mutation IvrReportFault($subject: ID!, $description: String!) {
  createTroubleTicket(input: {subject: $subject, description: $description}) {
    ticket { id reference status channel }
    errors { code message field }
  }
}
"""

# Each status a ticket reaches, by the way customer care moves it there (as the seed does).
PATH_TO: dict[str, tuple[str, ...]] = {
    "acknowledged": (),
    "inProgress": ("inProgress",),
    "pending": ("inProgress", "pending"),
    "held": ("held",),
    "resolved": ("inProgress", "resolved"),
    "closed": ("inProgress", "resolved", "closed"),
    "cancelled": ("cancelled",),
    "rejected": ("rejected",),
}


# -- helpers ---------------------------------------------------------------------------------


async def owned(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, collection: str, customer: str
) -> list[dict[str, Any]]:
    reply = await call(
        http, "GET", url_of(sandbox.url, collection), params={"relatedParty.id": customer}
    )
    assert reply.status in (200, 206), reply.body
    records: list[dict[str, Any]] = reply.body
    assert records, f"{customer} has no {collection} in the seeded data"
    return records


async def ticket_record(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, ticket_id: str
) -> dict[str, Any]:
    return await record_of(http, sandbox, "troubleTicket", ticket_id)


async def ticket_in(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, status: str, customer: str = ME
) -> str:
    """A new ticket of ``customer``'s about their first product, moved to ``status``."""
    product = (await owned(http, sandbox, "product", customer))[0]
    body = {
        "name": "No mobile data",
        "description": "No mobile data since this morning.",
        "ticketType": "incident",
        "severity": "Major",
        "note": [{"author": "Customer care", "text": "Ticket opened."}],
        "relatedEntity": [
            {"id": product["id"], "role": "affectedProduct", "@referredType": "Product"}
        ],
        "relatedParty": [{"id": customer, "role": "reporter", "@referredType": "Customer"}],
    }
    reply = await call(http, "POST", url_of(sandbox.url, "troubleTicket"), json=body)
    assert reply.status == 201, reply.body
    ticket_id: str = reply.body["id"]
    for step in PATH_TO[status]:
        await merge_patch(http, sandbox, "troubleTicket", ticket_id, {"status": step})
    return ticket_id


def tt(ticket_id: str) -> str:
    return gid("TroubleTicket", ticket_id)


def writes(sandbox: RunningSandbox) -> int:
    """Writes the sandbox's TMF621 has received so far."""
    methods = sandbox.faults.by_method
    return sum(methods[("TMF621", m)] for m in ("POST", "PATCH", "PUT", "DELETE"))


def payload(result: dict[str, Any], field: str) -> dict[str, Any]:
    assert "errors" not in result, result["errors"]
    data: dict[str, Any] = result["data"][field]
    return data


def ok(result: dict[str, Any], field: str) -> dict[str, Any]:
    """The payload's ticket, asserting the action succeeded."""
    data = payload(result, field)
    assert data["errors"] == [], data["errors"]
    ticket: dict[str, Any] = data["ticket"]
    return ticket


def refused(result: dict[str, Any], field: str) -> dict[str, Any]:
    """The payload's one user error, asserting the action was refused."""
    data = payload(result, field)
    assert data["ticket"] is None
    assert len(data["errors"]) == 1, data["errors"]
    error: dict[str, Any] = data["errors"][0]
    return error


def graphql_error(result: dict[str, Any]) -> str:
    assert result.get("errors"), result
    code: str = result["errors"][0]["extensions"]["code"]
    return code


# -- the gateway's rules against the ticketing system's ---------------------------------------


def test_the_moves_a_customer_makes_are_moves_the_ticketing_system_allows() -> None:
    for target, sources in CUSTOMER_MOVES.items():
        for source in sources:
            assert target in TICKET_TRANSITIONS[source], (source, target)
    # Every status the ticketing system allows cancelling from is one the gateway does too.
    assert {s for s, to in TICKET_TRANSITIONS.items() if "cancelled" in to} == set(
        CUSTOMER_MOVES["cancelled"]
    )
    assert {s for s, to in TICKET_TRANSITIONS.items() if not to} == TERMINAL_STATUSES


# -- createTroubleTicket ---------------------------------------------------------------------


async def test_a_customer_reports_a_fault_on_a_product_and_their_ticket_list_shows_it(
    gql: GQL, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    product = (await owned(http, sandbox, "product", ME))[0]
    text = "No mobile data since this morning, restarted the phone twice."
    ticket = ok(
        await gql(
            CREATE,
            {"input": {"subject": gid("Product", product["id"]), "description": text}},
            CUSTOMER,
        ),
        "createTroubleTicket",
    )
    assert ticket["status"] == "ACKNOWLEDGED"
    assert ticket["isOpen"] is True
    assert ticket["description"] == text
    assert ticket["ticketType"] == "incident"
    assert ticket["severity"] == "Major"
    assert ticket["priority"] == "Medium"
    assert ticket["channel"] == "Web portal"
    assert ticket["name"] == f"Fault: {product['name']}"
    assert ticket["relatedEntities"] == [
        {
            "role": "affectedProduct",
            "referredType": "Product",
            "reference": product["id"],
            "name": product["name"],
        }
    ]
    # What the ticketing system holds: the customer as reporter, the product referenced.
    record = await ticket_record(http, sandbox, ticket["reference"])
    assert record["relatedParty"][0]["id"] == ME
    assert record["relatedParty"][0]["role"] == "reporter"
    assert record["relatedParty"][0]["@referredType"] == "Customer"
    assert record["relatedEntity"][0]["href"] == product["href"]
    assert record["channel"] == {"id": "web", "name": "Web portal"}
    # Read-your-writes: the next query lists it first.
    listed = (await gql(MY_TICKETS, principal=CUSTOMER))["data"]["me"]["troubleTickets"]
    assert listed["edges"][0]["node"]["id"] == ticket["id"]


async def test_reports_about_a_bill_and_a_service_refer_to_them_as_the_backend_expects(
    gql: GQL, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    bill = (await owned(http, sandbox, "customerBill", ME))[0]
    ticket = ok(
        await gql(
            CREATE,
            {"input": {"subject": gid("Bill", bill["id"]), "description": "Charged twice."}},
            CUSTOMER,
        ),
        "createTroubleTicket",
    )
    assert ticket["ticketType"] == "complaint"
    assert ticket["severity"] == "Minor"
    assert ticket["relatedEntities"][0]["referredType"] == "CustomerBill"
    assert ticket["relatedEntities"][0]["role"] == "disputedBill"
    assert ticket["relatedEntities"][0]["name"] == bill["billNo"]

    service = (await owned(http, sandbox, "service", ME))[0]
    given = {
        "subject": gid("Service", service["id"]),
        "description": "How do I set up voicemail?",
        "ticketType": "REQUEST",
        "severity": "CRITICAL",
        "name": "Voicemail set-up",
    }
    ticket = ok(await gql(CREATE, {"input": given}, CUSTOMER), "createTroubleTicket")
    assert (ticket["ticketType"], ticket["severity"], ticket["priority"]) == (
        "request",
        "Critical",
        "High",
    )
    assert ticket["name"] == "Voicemail set-up"
    assert ticket["relatedEntities"][0]["referredType"] == "Service"
    assert ticket["relatedEntities"][0]["role"] == "relatedService"


async def test_another_customers_product_is_not_found_and_nothing_is_written(
    gql: GQL, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    theirs = (await owned(http, sandbox, "product", OTHER))[0]
    before = writes(sandbox)
    error = refused(
        await gql(
            CREATE,
            {"input": {"subject": gid("Product", theirs["id"]), "description": "Broken."}},
            CUSTOMER,
        ),
        "createTroubleTicket",
    )
    assert error["code"] == "NOT_FOUND"
    assert error["field"] == ["subject"]
    assert writes(sandbox) == before


async def test_bad_reports_are_refused_before_any_backend_request(
    gql: GQL, gateway: RunningGateway, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    product = gid("Product", (await owned(http, sandbox, "product", ME))[0]["id"])
    cases = [
        ({"subject": product, "description": "x" * 2001}, "TOO_LONG", ["description"]),
        ({"subject": product, "description": "   "}, "INVALID_INPUT", ["description"]),
        ({"subject": product, "description": "ok", "name": "n" * 101}, "TOO_LONG", ["name"]),
        (
            {"subject": product, "description": "my card 4111 1111 1111 1111 was charged"},
            "CARD_NUMBER_REFUSED",
            ["description"],
        ),
        ({"subject": tt("tt-000001-01"), "description": "ok"}, "INVALID_INPUT", ["subject"]),
        ({"subject": "not-an-id", "description": "ok"}, "INVALID_INPUT", ["subject"]),
    ]
    await gql(MY_TICKETS, principal=CUSTOMER)  # signing in is not what is counted
    for given, code, field in cases:
        before = gateway.backend_requests()
        error = refused(await gql(CREATE, {"input": given}, CUSTOMER), "createTroubleTicket")
        assert (error["code"], error["field"]) == (code, field), given
        assert gateway.backend_requests() == before, given
    assert "4111" not in str(error)


async def test_the_same_idempotency_key_raises_one_ticket(
    gql: GQL, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    product = gid("Product", (await owned(http, sandbox, "product", ME))[0]["id"])
    given = {"subject": product, "description": "Calls drop.", "idempotencyKey": "report-0001"}
    posts = sandbox.faults.by_method[("TMF621", "POST")]
    first = ok(await gql(CREATE, {"input": given}, CUSTOMER), "createTroubleTicket")
    again = ok(await gql(CREATE, {"input": given}, CUSTOMER), "createTroubleTicket")
    assert again["id"] == first["id"]
    assert sandbox.faults.by_method[("TMF621", "POST")] == posts + 1
    # The same key for a different report is refused, not answered with the first ticket.
    other = {**given, "description": "Calls drop, and no data."}
    error = refused(await gql(CREATE, {"input": other}, CUSTOMER), "createTroubleTicket")
    assert error["code"] == "IDEMPOTENCY_KEY_REUSED"


async def test_a_repeat_whose_first_outcome_was_lost_finds_the_ticket_raised(
    gql: GQL, http: aiohttp.ClientSession, sandbox: RunningSandbox, dev_idp_key: Path
) -> None:
    """A second gateway that never saw the first answer (its own idempotency store, as after
    a restart without Redis) finds the ticket by the correlator it carries."""
    product = gid("Product", (await owned(http, sandbox, "product", ME))[0]["id"])
    given = {"subject": product, "description": "Calls drop.", "idempotencyKey": "report-0002"}
    first = ok(await gql(CREATE, {"input": given}, CUSTOMER), "createTroubleTicket")
    posts = sandbox.faults.by_method[("TMF621", "POST")]
    token = token_for(CUSTOMER, dev_idp_key)
    async with running_gateway(settings_for(sandbox, events=False)) as other:
        result = await post_graphql(http, other.url, CREATE, {"input": given}, token)
        again = ok(result, "createTroubleTicket")
    assert again["id"] == first["id"]
    assert sandbox.faults.by_method[("TMF621", "POST")] == posts
    record = await ticket_record(http, sandbox, first["reference"])
    assert record["externalId"].startswith("csm-")
    assert "report-0002" not in record["externalId"]


async def test_a_key_reused_for_another_report_is_refused_after_its_outcome_was_forgotten(
    gql: GQL, http: aiohttp.ClientSession, sandbox: RunningSandbox, dev_idp_key: Path
) -> None:
    """The store that remembered the key's request is gone (a second gateway, its own store):
    the ticket its correlator finds is about another subject or in other words, so the key was
    reused -- refused, not answered with that ticket, and nothing raised."""
    first, second = (gid("Product", p["id"]) for p in await owned(http, sandbox, "product", ME))
    given = {"subject": first, "description": "Calls drop.", "idempotencyKey": "report-0003"}
    ok(await gql(CREATE, {"input": given}, CUSTOMER), "createTroubleTicket")
    posts = sandbox.faults.by_method[("TMF621", "POST")]
    token = token_for(CUSTOMER, dev_idp_key)
    others = [{"description": "No data at all."}, {"subject": second}]
    async with running_gateway(settings_for(sandbox, events=False)) as other:
        for changed in others:
            result = await post_graphql(
                http, other.url, CREATE, {"input": {**given, **changed}}, token
            )
            error = refused(result, "createTroubleTicket")
            assert (error["code"], error["field"]) == ("IDEMPOTENCY_KEY_REUSED", ["idempotencyKey"])
    assert sandbox.faults.by_method[("TMF621", "POST")] == posts


async def test_an_ivr_pin_sign_in_may_report_a_fault(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, dev_idp_key: Path, tmp_path: Path
) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_bytes(MANIFEST_PATH.read_bytes())
    add_operation("IvrReportFault", IVR_REPORT, manifest, channels=["ivr"])
    product = (await owned(http, sandbox, "product", ME))[0]
    token = mint(
        load_or_create_key(dev_idp_key), role="customer", channel="ivr", customer_id=ME, subject=ME
    )
    body = {
        "query": IVR_REPORT,
        "variables": {"subject": gid("Product", product["id"]), "description": "No dial tone."},
    }
    settings = settings_for(sandbox, operations_manifest=manifest)
    async with (
        running_gateway(settings) as gateway,
        http.post(
            f"{gateway.url}/graphql",
            data=orjson.dumps(body),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        ) as resp,
    ):
        result = orjson.loads(await resp.read())
    data = payload(result, "createTroubleTicket")
    assert data["errors"] == []
    assert data["ticket"]["channel"] == "IVR"
    assert data["ticket"]["status"] == "ACKNOWLEDGED"


# -- the other actions need a full sign-in ---------------------------------------------------


async def test_changing_a_ticket_needs_more_than_a_pin(
    gateway: RunningGateway,
    http: aiohttp.ClientSession,
    sandbox: RunningSandbox,
    dev_idp_key: Path,
) -> None:
    ticket = tt(await ticket_in(http, sandbox, "resolved"))
    token = mint(
        load_or_create_key(dev_idp_key),
        role="customer",
        channel="web",
        customer_id=ME,
        subject=ME,
        acr="low",
    )
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    before = writes(sandbox)
    for query, given in [
        (NOTE, {"ticket": ticket, "text": "Still broken."}),
        (CANCEL, {"ticket": ticket}),
        (CONFIRM, {"ticket": ticket}),
        (REOPEN, {"ticket": ticket, "reason": "Still broken."}),
    ]:
        body = orjson.dumps({"query": query, "variables": {"input": given}})
        async with http.post(f"{gateway.url}/graphql", data=body, headers=headers) as resp:
            result = orjson.loads(await resp.read())
        assert graphql_error(result) == "FORBIDDEN", query
        assert "needs assurance level substantial" in result["errors"][0]["message"]
    assert writes(sandbox) == before


async def test_analysts_and_anonymous_callers_cannot_act(
    gql: GQL, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    product = gid("Product", (await owned(http, sandbox, "product", ME))[0]["id"])
    ticket = tt(await ticket_in(http, sandbox, "inProgress"))
    before = writes(sandbox)
    create = {"input": {"subject": product, "description": "Broken.", "customer": ME}}
    note = {"input": {"ticket": ticket, "text": "Hello.", "customer": ME}}
    assert graphql_error(await gql(CREATE, create, "analyst:x1")) == "FORBIDDEN"
    assert graphql_error(await gql(NOTE, note, "analyst:x1")) == "FORBIDDEN"
    assert graphql_error(await gql(CREATE, create)) == "UNAUTHENTICATED"
    assert graphql_error(await gql(NOTE, note)) == "UNAUTHENTICATED"
    assert writes(sandbox) == before


# -- addTicketNote ---------------------------------------------------------------------------


async def test_a_note_is_appended_to_the_notes_and_the_next_query_shows_it(
    gql: GQL, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    ticket_id = await ticket_in(http, sandbox, "pending")
    given = {"ticket": tt(ticket_id), "text": "Restarted the router; still no connection."}
    ticket = ok(await gql(NOTE, {"input": given}, CUSTOMER), "addTicketNote")
    assert ticket["notes"] == [
        {"text": "Ticket opened.", "author": "Customer care"},
        {"text": given["text"], "author": "customer"},
    ]
    assert ticket["status"] == "PENDING"
    record = await ticket_record(http, sandbox, ticket_id)
    assert [n["text"] for n in record["note"]] == ["Ticket opened.", given["text"]]
    assert all(n.get("date") for n in record["note"])
    # A second note keeps both earlier ones (a merge patch replaces the whole array).
    ok(await gql(NOTE, {"input": {**given, "text": "Any news?"}}, CUSTOMER), "addTicketNote")
    edges = (await gql(MY_TICKETS, principal=CUSTOMER))["data"]["me"]["troubleTickets"]["edges"]
    mine = next(e["node"] for e in edges if e["node"]["reference"] == ticket_id)
    assert [n["text"] for n in mine["notes"]] == ["Ticket opened.", given["text"], "Any news?"]


async def test_notes_sent_at_once_are_all_kept(
    gql: GQL, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    """Each note rewrites the whole notes array (a merge patch replaces arrays): five notes
    sent at the same moment take turns, and none overwrites another."""
    ticket_id = await ticket_in(http, sandbox, "inProgress")
    texts = [f"Note {n}: still no signal." for n in range(5)]
    results = await asyncio.gather(
        *(gql(NOTE, {"input": {"ticket": tt(ticket_id), "text": t}}, CUSTOMER) for t in texts)
    )
    for result in results:
        ok(result, "addTicketNote")
    record = await ticket_record(http, sandbox, ticket_id)
    assert record["note"][0]["text"] == "Ticket opened."
    assert sorted(n["text"] for n in record["note"][1:]) == texts


class _NotesLost(TroubleTicketRules):
    """Another system rewrites the notes at the same moment: the gateway's note is gone."""

    def prepare_update(self, backend: Any, old: Any, new: Any) -> Any:
        return {**new, "note": old.get("note", [])}


async def test_a_note_the_ticket_does_not_keep_is_reported(
    gql: GQL, http: aiohttp.ClientSession, sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket_id = await ticket_in(http, sandbox, "inProgress")
    monkeypatch.setitem(sandbox.backend.rules, "troubleTicket", _NotesLost())
    result = await gql(NOTE, {"input": {"ticket": tt(ticket_id), "text": "Hello?"}}, CUSTOMER)
    error = refused(result, "addTicketNote")
    assert error["code"] == "INCOMPLETE"
    assert "The note was sent and accepted, but the ticket does not show it" in error["message"]
    assert "send it again" in error["message"]


async def test_an_oversized_note_is_refused_and_nothing_is_sent(
    gql: GQL, gateway: RunningGateway, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    ticket = tt(await ticket_in(http, sandbox, "inProgress"))
    await gql(MY_TICKETS, principal=CUSTOMER)
    before = gateway.backend_requests()
    error = refused(
        await gql(NOTE, {"input": {"ticket": ticket, "text": "y" * 2001}}, CUSTOMER),
        "addTicketNote",
    )
    assert error["code"] == "TOO_LONG"
    assert error["field"] == ["text"]
    assert "2001" in error["message"]
    assert gateway.backend_requests() == before
    # 2000 characters are fine.
    ok(
        await gql(NOTE, {"input": {"ticket": ticket, "text": "y" * 2000}}, CUSTOMER),
        "addTicketNote",
    )


@pytest.mark.parametrize("status", ["closed", "cancelled", "rejected"])
async def test_a_closed_ticket_takes_no_note(
    status: str, gql: GQL, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    ticket_id = await ticket_in(http, sandbox, status)
    stored = await ticket_record(http, sandbox, ticket_id)
    before = writes(sandbox)
    error = refused(
        await gql(NOTE, {"input": {"ticket": tt(ticket_id), "text": "Hello?"}}, CUSTOMER),
        "addTicketNote",
    )
    assert error["code"] == "TICKET_CLOSED"
    assert error["field"] == ["ticket"]
    assert status in error["message"]
    assert writes(sandbox) == before
    assert await ticket_record(http, sandbox, ticket_id) == stored


async def test_another_customers_ticket_is_not_found_for_every_action(
    gql: GQL, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    theirs_id = await ticket_in(http, sandbox, "resolved", customer=OTHER)
    theirs = tt(theirs_id)
    stored = await ticket_record(http, sandbox, theirs_id)
    before = writes(sandbox)
    for query, field, given in [
        (NOTE, "addTicketNote", {"ticket": theirs, "text": "Hi."}),
        (CANCEL, "cancelTroubleTicket", {"ticket": theirs}),
        (CONFIRM, "confirmTicketResolution", {"ticket": theirs}),
        (REOPEN, "reopenTroubleTicket", {"ticket": theirs, "reason": "No."}),
    ]:
        error = refused(await gql(query, {"input": given}, CUSTOMER), field)
        assert (error["code"], error["field"]) == ("NOT_FOUND", ["ticket"]), field
    assert writes(sandbox) == before
    assert await ticket_record(http, sandbox, theirs_id) == stored
    # Naming another customer explicitly is refused too.
    error = refused(
        await gql(NOTE, {"input": {"ticket": theirs, "text": "Hi.", "customer": OTHER}}, CUSTOMER),
        "addTicketNote",
    )
    assert (error["code"], error["field"]) == ("NOT_FOUND", ["customer"])


# -- cancelTroubleTicket ---------------------------------------------------------------------


@pytest.mark.parametrize("status", ["acknowledged", "inProgress", "pending", "held"])
async def test_a_ticket_still_being_handled_is_cancelled(
    status: str, gql: GQL, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    ticket_id = await ticket_in(http, sandbox, status)
    given = {"ticket": tt(ticket_id), "reason": "It works again."}
    ticket = ok(await gql(CANCEL, {"input": given}, CUSTOMER), "cancelTroubleTicket")
    assert ticket["status"] == "CANCELLED"
    assert ticket["isOpen"] is False
    assert ticket["statusHistory"][-1] == {
        "status": "CANCELLED",
        "reason": "Cancelled at the customer's request",
    }
    assert ticket["notes"][-1] == {"text": "It works again.", "author": "customer"}
    edges = (await gql(MY_TICKETS, principal=CUSTOMER))["data"]["me"]["troubleTickets"]["edges"]
    assert next(e["node"] for e in edges if e["node"]["reference"] == ticket_id)["status"] == (
        "CANCELLED"
    )


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("resolved", "INVALID_TRANSITION"),
        ("closed", "TICKET_CLOSED"),
        ("cancelled", "TICKET_CLOSED"),
        ("rejected", "TICKET_CLOSED"),
    ],
)
async def test_a_ticket_no_longer_handled_is_not_cancelled(
    status: str, code: str, gql: GQL, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    ticket_id = await ticket_in(http, sandbox, status)
    before = writes(sandbox)
    error = refused(
        await gql(CANCEL, {"input": {"ticket": tt(ticket_id)}}, CUSTOMER), "cancelTroubleTicket"
    )
    assert (error["code"], error["field"]) == (code, ["ticket"])
    assert writes(sandbox) == before
    assert (await ticket_record(http, sandbox, ticket_id))["status"] == status


# -- confirmTicketResolution and reopenTroubleTicket -----------------------------------------


async def test_confirming_a_resolution_closes_the_ticket(
    gql: GQL, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    ticket_id = await ticket_in(http, sandbox, "resolved")
    ticket = ok(
        await gql(CONFIRM, {"input": {"ticket": tt(ticket_id), "note": "Thanks!"}}, CUSTOMER),
        "confirmTicketResolution",
    )
    assert ticket["status"] == "CLOSED"
    assert ticket["statusHistory"][-1]["reason"] == "Confirmed by the customer"
    assert ticket["notes"][-1] == {"text": "Thanks!", "author": "customer"}
    assert (await ticket_record(http, sandbox, ticket_id))["status"] == "closed"
    # Without a note, no note is added.
    other = await ticket_in(http, sandbox, "resolved")
    ticket = ok(
        await gql(CONFIRM, {"input": {"ticket": tt(other)}}, CUSTOMER), "confirmTicketResolution"
    )
    assert [n["text"] for n in ticket["notes"]] == ["Ticket opened."]


async def test_reopening_a_resolution_puts_the_ticket_back_in_progress(
    gql: GQL, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    ticket_id = await ticket_in(http, sandbox, "resolved")
    given = {"ticket": tt(ticket_id), "reason": "The connection drops again every evening."}
    ticket = ok(await gql(REOPEN, {"input": given}, CUSTOMER), "reopenTroubleTicket")
    assert ticket["status"] == "IN_PROGRESS"
    assert ticket["isOpen"] is True
    assert ticket["statusHistory"][-1] == {
        "status": "IN_PROGRESS",
        "reason": "Reopened by the customer",
    }
    assert ticket["notes"][-1] == {"text": given["reason"], "author": "customer"}
    edges = (await gql(MY_TICKETS, principal=CUSTOMER))["data"]["me"]["troubleTickets"]["edges"]
    assert next(e["node"] for e in edges if e["node"]["reference"] == ticket_id)["status"] == (
        "IN_PROGRESS"
    )


async def test_reopening_needs_a_reason_within_limits(
    gql: GQL, gateway: RunningGateway, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    ticket = tt(await ticket_in(http, sandbox, "resolved"))
    await gql(MY_TICKETS, principal=CUSTOMER)
    before = gateway.backend_requests()
    for reason, code in [("", "INVALID_INPUT"), ("z" * 2001, "TOO_LONG")]:
        error = refused(
            await gql(REOPEN, {"input": {"ticket": ticket, "reason": reason}}, CUSTOMER),
            "reopenTroubleTicket",
        )
        assert (error["code"], error["field"]) == (code, ["reason"])
    for query, field, given in [
        (CANCEL, "cancelTroubleTicket", {"ticket": ticket, "reason": "w" * 2001}),
        (CONFIRM, "confirmTicketResolution", {"ticket": ticket, "note": "w" * 2001}),
    ]:
        error = refused(await gql(query, {"input": given}, CUSTOMER), field)
        assert error["code"] == "TOO_LONG", field
    error = refused(
        await gql(CONFIRM, {"input": {"ticket": gid("Bill", "bill-1")}}, CUSTOMER),
        "confirmTicketResolution",
    )
    assert (error["code"], error["field"]) == ("INVALID_INPUT", ["ticket"])
    assert gateway.backend_requests() == before


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("acknowledged", "INVALID_TRANSITION"),
        ("inProgress", "INVALID_TRANSITION"),
        ("pending", "INVALID_TRANSITION"),
        ("closed", "TICKET_CLOSED"),
        ("cancelled", "TICKET_CLOSED"),
        ("rejected", "TICKET_CLOSED"),
    ],
)
async def test_only_a_resolved_ticket_is_confirmed_or_reopened(
    status: str, code: str, gql: GQL, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    ticket_id = await ticket_in(http, sandbox, status)
    before = writes(sandbox)
    for query, field, given in [
        (CONFIRM, "confirmTicketResolution", {"ticket": tt(ticket_id)}),
        (REOPEN, "reopenTroubleTicket", {"ticket": tt(ticket_id), "reason": "Still broken."}),
    ]:
        error = refused(await gql(query, {"input": given}, CUSTOMER), field)
        assert (error["code"], error["field"]) == (code, ["ticket"]), field
        assert status in error["message"]
    assert writes(sandbox) == before
    assert (await ticket_record(http, sandbox, ticket_id))["status"] == status


# -- the ticketing system's own refusal ------------------------------------------------------


class _RefusingRules(TroubleTicketRules):
    """Customer care's system refuses changes for a reason the gateway cannot know."""

    def prepare_update(self, backend: Any, old: Any, new: Any) -> Any:
        raise TmfError(422, "Ticket locked", "ticket is being merged into another one")


async def test_a_refusal_of_the_ticketing_system_is_a_user_error_with_its_reason(
    gql: GQL, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    ticket_id = await ticket_in(http, sandbox, "resolved")
    sandbox.backend.rules["troubleTicket"] = _RefusingRules()
    for query, field, given in [
        (NOTE, "addTicketNote", {"ticket": tt(ticket_id), "text": "Hi."}),
        (REOPEN, "reopenTroubleTicket", {"ticket": tt(ticket_id), "reason": "Still broken."}),
    ]:
        error = refused(await gql(query, {"input": given}, CUSTOMER), field)
        assert error["code"] == "BACKEND_REFUSED", field
        assert "Ticket locked: ticket is being merged into another one" in error["message"]
        assert error["field"] == ["ticket"]
    record = await ticket_record(http, sandbox, ticket_id)
    assert record["status"] == "resolved"
    assert len(record["note"]) == 1


# -- assisted service ------------------------------------------------------------------------


async def test_an_agent_acts_for_the_customer_and_the_interaction_records_the_agent(
    gql: GQL, gateway: RunningGateway, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    product = (await owned(http, sandbox, "product", ME))[0]
    subject = gid("Product", product["id"])
    # The agent must say whom they assist.
    error = refused(
        await gql(CREATE, {"input": {"subject": subject, "description": "Down."}}, AGENT),
        "createTroubleTicket",
    )
    assert (error["code"], error["field"]) == ("INVALID_INPUT", ["customer"])
    # ... and assisting one customer does not reach another's product.
    given = {"subject": subject, "description": "Down.", "customer": OTHER}
    error = refused(await gql(CREATE, {"input": given}, AGENT), "createTroubleTicket")
    assert (error["code"], error["field"]) == ("NOT_FOUND", ["subject"])

    customer = gid("Customer", ME)
    given = {"subject": subject, "description": "Customer reports no data.", "customer": customer}
    created = ok(await gql(CREATE, {"input": given}, AGENT), "createTroubleTicket")
    assert created["channel"] == "Call centre"
    noted = ok(
        await gql(
            NOTE,
            {"input": {"ticket": created["id"], "text": "Called back.", "customer": ME}},
            AGENT,
        ),
        "addTicketNote",
    )
    assert noted["notes"][-1] == {"text": "Called back.", "author": "a1"}
    record = await ticket_record(http, sandbox, created["reference"])
    assert record["relatedParty"][0]["id"] == ME

    recorded = await interactions_of(
        http, sandbox, gateway, ME, "Assisted service: createTroubleTicket"
    ) + await interactions_of(http, sandbox, gateway, ME, "Assisted service: addTicketNote")
    assert len(recorded) == 2
    for interaction in recorded:
        parties = {(p["role"], p["id"]) for p in interaction["relatedParty"]}
        assert parties == {("customer", ME), ("agent", "a1")}
        assert interaction["channel"][0]["id"] == "agent-desktop"
        items = {(i["item"]["id"], i["item"]["role"]) for i in interaction["interactionItem"]}
        assert (created["reference"], "created") in items or (
            created["reference"],
            "noted",
        ) in items


async def test_a_customers_own_action_is_recorded_as_self_service(
    gql: GQL, gateway: RunningGateway, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    ticket_id = await ticket_in(http, sandbox, "resolved")
    ok(
        await gql(CONFIRM, {"input": {"ticket": tt(ticket_id)}}, CUSTOMER),
        "confirmTicketResolution",
    )
    recorded = await interactions_of(
        http, sandbox, gateway, ME, "Self-service: confirmTicketResolution"
    )
    assert len(recorded) == 1
    assert [p["role"] for p in recorded[0]["relatedParty"]] == ["customer"]
    assert recorded[0]["interactionItem"][0]["item"]["id"] == ticket_id
    assert recorded[0]["channel"][0]["name"] == "Web portal"
