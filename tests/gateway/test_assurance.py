"""Trouble tickets, service problems, services and resources through the gateway's HTTP API,
compared with what the sandbox's TMF621/656/638/639 backends hold."""

from __future__ import annotations

import asyncio
import datetime
import re
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any, cast

import aiohttp

from graph.context import Info
from graph.loaders import Loaders
from graph.resolvers.assurance import trouble_tickets_of
from graph.resolvers.inventory import services_of_customer
from graph.sandbox import RunningSandbox
from graph.schema.common import encode_global_id
from graph.sources import APIS, Sources, open_clients
from tests.gateway.conftest import GQL, RunningGateway
from tests.support.tmf_client import call, url_of

CLOSED = {"resolved", "closed", "cancelled", "rejected"}

TICKET = """
query($id: ID!) { node(id: $id) { id ... on TroubleTicket {
  reference name description severity priority ticketType status statusChangeReason
  creationDate lastUpdate expectedResolutionDate resolutionDate channel isOpen
  statusHistory { status changeDate reason }
  notes { text author date }
  relatedEntities { role referredType reference name }
} } }
"""

PROBLEM = """
query($id: ID!) { node(id: $id) { id ... on ServiceProblem {
  reference name description category priority reason status creationDate lastUpdate
  resolutionDate impactImportanceFactor isOpen
  affectedServices { reference name state }
  troubleTickets { reference status }
} } }
"""

SERVICE = """
query($id: ID!) { node(id: $id) { id ... on Service {
  reference name description category serviceType state startDate endDate
  isServiceEnabled hasStarted specificationName health
  characteristics { name value }
  supportingResources {
    id reference name description category kind resourceStatus operationalState
    administrativeState usageState startOperatingDate endOperatingDate value serialNumber
    characteristics { name value }
  }
  problems { reference status isOpen priority }
} } }
"""

HEALTH = """
query($id: ID!) { node(id: $id) { ... on Service { health problems { reference } } } }
"""


def first(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The first record, failing the test (not raising StopIteration) when there is none."""
    for record in records:
        return record
    raise AssertionError("the seeded data has no such record")


def enum_name(tmf: str | None) -> str | None:
    """The GraphQL enum value for a TMF value: inProgress -> IN_PROGRESS."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", tmf).upper() if tmf is not None else None


def instant(value: str | None) -> datetime.datetime | None:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


async def everything(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, collection: str
) -> list[dict[str, Any]]:
    reply = await call(http, "GET", url_of(sandbox.url, collection), params={"limit": "1000"})
    assert reply.status == 200, reply.body
    records: list[dict[str, Any]] = reply.body
    return records


async def node(gql: GQL, query: str, type_name: str, tmf_id: str) -> dict[str, Any]:
    result = await gql(query, {"id": encode_global_id(type_name, tmf_id)}, principal="agent:a1")
    assert "errors" not in result, result
    found: dict[str, Any] = result["data"]["node"]
    assert found is not None, tmf_id
    return found


def assert_ticket(got: dict[str, Any], ticket: dict[str, Any]) -> None:
    assert got["id"] == encode_global_id("TroubleTicket", ticket["id"])
    assert got["reference"] == ticket["id"]
    for field in ("name", "description", "severity", "priority", "ticketType"):
        assert got[field] == ticket.get(field), field
    assert got["status"] == enum_name(ticket["status"])
    assert got["statusChangeReason"] == ticket.get("statusChangeReason")
    for field in ("creationDate", "lastUpdate", "expectedResolutionDate", "resolutionDate"):
        assert instant(got[field]) == instant(ticket.get(field)), field
    assert got["channel"] == ticket["channel"]["name"]
    assert got["isOpen"] is (ticket["status"] not in CLOSED)
    changes = sorted(ticket["statusChange"], key=lambda c: str(instant(c["changeDate"])))
    assert [(c["status"], instant(c["changeDate"]), c["reason"]) for c in got["statusHistory"]] == [
        (enum_name(c["status"]), instant(c["changeDate"]), c.get("changeReason")) for c in changes
    ]
    assert [(n["text"], n["author"], instant(n["date"])) for n in got["notes"]] == [
        (n["text"], n["author"], instant(n["date"])) for n in ticket["note"]
    ]
    assert got["relatedEntities"] == [
        {
            "role": e.get("role"),
            "referredType": e.get("@referredType"),
            "reference": e["id"],
            "name": e.get("name"),
        }
        for e in ticket["relatedEntity"]
    ]


async def test_trouble_tickets_are_what_the_ticketing_system_holds(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    tickets = await everything(http, sandbox, "troubleTicket")
    open_ = first(
        t
        for t in tickets
        if t["status"] == "inProgress" and len(t["note"]) > 1 and len(t["statusChange"]) > 1
    )
    closed = first(t for t in tickets if t["status"] == "closed")
    for ticket in (open_, closed):
        assert_ticket(await node(gql, TICKET, "TroubleTicket", ticket["id"]), ticket)

    # A change in the ticketing system shows in the next query.
    url = url_of(sandbox.url, "troubleTicket", open_["id"])
    patch = {"status": "resolved", "statusChangeReason": "Fixed remotely"}
    reply = await call(http, "PATCH", url, json=patch, content_type="application/merge-patch+json")
    assert reply.status == 200, reply.body
    resolved = await node(gql, TICKET, "TroubleTicket", open_["id"])
    assert_ticket(resolved, reply.body)
    assert resolved["isOpen"] is False
    assert resolved["statusHistory"][-1]["status"] == "RESOLVED"
    assert resolved["statusHistory"][-1]["reason"] == "Fixed remotely"
    assert len(resolved["statusHistory"]) == len(open_["statusChange"]) + 1


async def test_service_problems_with_their_services_and_tickets(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    problems = await everything(http, sandbox, "serviceProblem")
    chosen = [
        first(p for p in problems if p["status"] not in CLOSED),
        first(p for p in problems if p.get("troubleTicket")),
    ]
    for problem in chosen:
        got = await node(gql, PROBLEM, "ServiceProblem", problem["id"])
        assert got["reference"] == problem["id"]
        for field in ("name", "description", "category", "priority", "reason"):
            assert got[field] == problem.get(field), field
        assert got["impactImportanceFactor"] == problem.get("impactImportanceFactor")
        assert got["status"] == enum_name(problem["status"])
        for field in ("creationDate", "lastUpdate", "resolutionDate"):
            assert instant(got[field]) == instant(problem.get(field)), field
        assert got["isOpen"] is (problem["status"] not in CLOSED)
        services = [
            (await call(http, "GET", ref["href"])).body for ref in problem["affectedService"]
        ]
        assert got["affectedServices"] == [
            {"reference": s["id"], "name": s["name"], "state": enum_name(s["state"])}
            for s in services
        ]
        tickets = [
            (await call(http, "GET", r["href"])).body for r in problem.get("troubleTicket", [])
        ]
        assert got["troubleTickets"] == [
            {"reference": t["id"], "status": enum_name(t["status"])} for t in tickets
        ]
    assert chosen[1]["troubleTicket"]  # the second one came from a ticket


def expected_health(service: dict[str, Any], problems: list[dict[str, Any]]) -> str:
    if service["state"] != "active":
        return "UNKNOWN"
    open_ = [p for p in problems if p["status"] not in CLOSED]
    if any(p.get("priority") == 1 for p in open_):
        return "DOWN"
    return "DEGRADED" if open_ else "HEALTHY"


async def test_a_service_with_its_resources_problems_and_health(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    problems = await everything(http, sandbox, "serviceProblem")
    affected = first(p for p in problems if p["status"] not in CLOSED)["affectedService"][0]["id"]
    services = {s["id"]: s for s in await everything(http, sandbox, "service")}
    mobile = first(
        s for s in services.values() if s["serviceType"] == "mobile" and s["state"] == "active"
    )
    resources = {r["id"]: r for r in await everything(http, sandbox, "resource")}
    seen_kinds: set[str] = set()
    for service in (services[affected], mobile):
        got = await node(gql, SERVICE, "Service", service["id"])
        assert got["reference"] == service["id"]
        for field in ("name", "description", "category", "serviceType"):
            assert got[field] == service.get(field), field
        assert got["state"] == enum_name(service["state"])
        assert instant(got["startDate"]) == instant(service.get("startDate"))
        assert instant(got["endDate"]) == instant(service.get("endDate"))
        assert got["isServiceEnabled"] == service.get("isServiceEnabled")
        assert got["hasStarted"] == service.get("hasStarted")
        assert got["specificationName"] == service["serviceSpecification"]["name"]
        supporting = [resources[r["id"]] for r in service["supportingResource"]]
        assert [r["reference"] for r in got["supportingResources"]] == [r["id"] for r in supporting]
        for res, record in zip(got["supportingResources"], supporting, strict=True):
            seen_kinds.add(record["@type"])
            assert res["id"] == encode_global_id("Resource", record["id"])
            assert res["kind"] == record["@type"]
            for field in ("name", "description", "category", "value", "serialNumber"):
                assert res[field] == record.get(field), field
            for field in ("resourceStatus", "operationalState", "administrativeState"):
                assert res[field] == enum_name(record[field]), field
            assert res["usageState"] == enum_name(record["usageState"])
            assert instant(res["startOperatingDate"]) == instant(record["startOperatingDate"])
            assert instant(res["endOperatingDate"]) == instant(record.get("endOperatingDate"))
            assert res["characteristics"] == [
                {"name": c["name"], "value": str(c["value"])}
                for c in record.get("resourceCharacteristic", [])
            ]
        mine = [p for p in problems if any(a["id"] == service["id"] for a in p["affectedService"])]
        mine.sort(key=lambda p: str(instant(p["creationDate"])), reverse=True)
        assert [p["reference"] for p in got["problems"]] == [p["id"] for p in mine]
        assert got["health"] == expected_health(service, mine)
    assert seen_kinds == {"LogicalResource", "PhysicalResource"}
    # the first service has an open problem: the sandbox put a resource of it in alarm
    troubled = await node(gql, SERVICE, "Service", affected)
    assert troubled["health"] in ("DEGRADED", "DOWN")
    assert "ALARM" in [r["resourceStatus"] for r in troubled["supportingResources"]]


async def test_health_follows_the_open_problems_and_ignores_services_out_of_service(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    problems = await everything(http, sandbox, "serviceProblem")
    troubled = {a["id"] for p in problems for a in p["affectedService"]}
    services = await everything(http, sandbox, "service")
    healthy = first(s for s in services if s["state"] == "active" and s["id"] not in troubled)
    gone = first(s for s in services if s["state"] == "terminated" and s["id"] not in troubled)
    problems_url = url_of(sandbox.url, "serviceProblem")

    async def raise_problem(service: dict[str, Any], priority: int) -> dict[str, Any]:
        body = {
            "category": "connectivity",
            "priority": priority,
            "description": "No traffic",
            "reason": "Line card failure",
            "status": "inProgress",
            "creationDate": datetime.datetime.now(datetime.UTC).isoformat(),
            "originatorParty": {"id": "ops", "@referredType": "Organization"},
            "affectedService": [{"id": service["id"], "@referredType": "Service"}],
        }
        reply = await call(http, "POST", problems_url, json=body)
        assert reply.status == 201, reply.body
        created: dict[str, Any] = reply.body
        return created

    async def health(service: dict[str, Any]) -> str:
        got = await node(gql, HEALTH, "Service", service["id"])
        return str(got["health"])

    assert await health(healthy) == "HEALTHY"
    minor = await raise_problem(healthy, 3)
    assert await health(healthy) == "DEGRADED"
    major = await raise_problem(healthy, 1)
    assert await health(healthy) == "DOWN"
    got = await node(gql, HEALTH, "Service", healthy["id"])
    assert {p["reference"] for p in got["problems"]} == {minor["id"], major["id"]}
    reply = await call(
        http,
        "PATCH",
        url_of(sandbox.url, "serviceProblem", major["id"]),
        json={"status": "resolved"},
        content_type="application/merge-patch+json",
    )
    assert reply.status == 200, reply.body
    assert await health(healthy) == "DEGRADED"

    assert await health(gone) == "UNKNOWN"
    await raise_problem(gone, 1)
    assert await health(gone) == "UNKNOWN"  # a terminated service is not down


SERVICE_TREE = """
  s%d: node(id: $id%d) { ... on Service {
    reference health
    supportingResources { reference kind }
    problems { reference affectedServices { reference } troubleTickets { reference } }
  } }
"""
PROBLEM_TREE = """
  p%d: node(id: $id%d) { ... on ServiceProblem {
    reference
    troubleTickets { reference status }
    affectedServices { reference health supportingResources { reference }
                       problems { reference } }
  } }
"""


def aliased(tree: str, type_name: str, ids: list[str]) -> tuple[str, dict[str, Any]]:
    params = ", ".join(f"$id{n}: ID!" for n in range(len(ids)))
    body = "".join(tree % (n, n) for n in range(len(ids)))
    variables = {f"id{n}": encode_global_id(type_name, tmf_id) for n, tmf_id in enumerate(ids)}
    return f"query({params}) {{ {body} }}", variables


async def count_requests(
    gql: GQL, gateway: RunningGateway, query: str, variables: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    # Reads only: the agent's access records (TMF683 POSTs) are written after the answer.
    before = gateway.backend_requests("GET")
    result = await gql(query, variables, principal="agent:a1")
    assert "errors" not in result, result
    data: dict[str, Any] = result["data"]
    return gateway.backend_requests("GET") - before, data


async def test_services_batch_their_relations(
    gql: GQL, gateway: RunningGateway, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    problems = await everything(http, sandbox, "serviceProblem")
    linked = first(p for p in problems if p.get("troubleTicket"))["affectedService"][0]["id"]
    services = await everything(http, sandbox, "service")
    others = [s["id"] for s in services if s["state"] == "active" and s["id"] != linked]
    ids = [linked, *others[::9][:4]]
    assert len({i.split("-")[1] for i in ids}) > 2  # several customers

    one, data_one = await count_requests(gql, gateway, *aliased(SERVICE_TREE, "Service", ids[:1]))
    five, data_five = await count_requests(gql, gateway, *aliased(SERVICE_TREE, "Service", ids))
    assert [data_five[f"s{n}"]["reference"] for n in range(5)] == ids
    assert data_one["s0"]["problems"][0]["troubleTickets"]
    # service, resource, problem and ticket loads: one request per kind and level
    assert one == five == 4


async def test_service_problems_batch_their_relations(
    gql: GQL, gateway: RunningGateway, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    problems = await everything(http, sandbox, "serviceProblem")
    linked = first(p for p in problems if p.get("troubleTicket"))["id"]
    ids = [linked, *[p["id"] for p in problems if p["id"] != linked][:4]]
    assert len(ids) == 5
    query, variables = aliased(PROBLEM_TREE, "ServiceProblem", ids[:1])
    one, _ = await count_requests(gql, gateway, query, variables)
    query, variables = aliased(PROBLEM_TREE, "ServiceProblem", ids)
    five, data = await count_requests(gql, gateway, query, variables)
    assert [data[f"p{n}"]["reference"] for n in range(5)] == ids
    assert all(data[f"p{n}"]["affectedServices"] for n in range(5))
    # problems; then tickets and services; then resources and the services' problems
    assert one == five == 5


async def test_record_functions_for_customer_fields(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    """What the Customer fields will call: a customer's tickets newest first and services,
    one backend request per kind however many customers ask."""
    calls: list[str] = []
    urls = {api.key: sandbox.url + api.base_path for api in APIS}

    def observer(api: str, method: str, status: str, seconds: float) -> None:
        calls.append(api)

    async with open_clients(urls, 10, observer) as clients:
        context = SimpleNamespace(loaders=Loaders(), sources=Sources.on(clients))
        info = cast(Info, SimpleNamespace(context=context))
        customers = ["cus-000012", "cus-000013", "cus-000002"]
        tickets = await asyncio.gather(*(trouble_tickets_of(info, c) for c in customers))
        services = await asyncio.gather(*(services_of_customer(info, c) for c in customers))
    assert calls == ["TMF621", "TMF638"]
    for customer, theirs, their_services in zip(customers, tickets, services, strict=True):
        params = {"relatedParty.id": customer}
        expected = (
            await call(http, "GET", url_of(sandbox.url, "troubleTicket"), params=params)
        ).body
        expected.sort(key=lambda t: str(instant(t["creationDate"])), reverse=True)
        assert [t["id"] for t in theirs] == [t["id"] for t in expected]
        listed = (await call(http, "GET", url_of(sandbox.url, "service"), params=params)).body
        assert [s["id"] for s in their_services] == [s["id"] for s in listed]
    assert len(tickets[0]) > 1
    assert services[0]
