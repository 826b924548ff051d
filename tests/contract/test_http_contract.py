"""The sandbox's HTTP answers against the official specification files, per collection.

Lists, single reads, creates, merge patches, TMF Error bodies and hub subscriptions are
validated against the definitions of each collection's specification file (the subtype named by
``@type`` for polymorphic resources). Request bodies are checked against the ``_Create`` /
``_Update`` models first, so a failure names the sandbox, not a wrong test body.
"""

from __future__ import annotations

from typing import Any, Final

import aiohttp
import pytest

from graph.sandbox import RunningSandbox
from graph.sandbox.registry import COLLECTIONS
from graph.sandbox.tmf_model import MODEL
from tests.contract.bodies import CREATE_BODIES, MERGE, PATCHES, Record, load_seeded
from tests.support.tmf_client import Reply, call, url_of
from tests.support.tmf_specs import _schemas, definition_for, validate, validator

ALL: Final = list(COLLECTIONS)
POSTABLE: Final = [name for name, spec in COLLECTIONS.items() if spec.allows("POST", False)]
PATCHABLE: Final = [name for name, spec in COLLECTIONS.items() if spec.allows("PATCH", True)]

# Seeded records a client may still patch (closed tickets refuse every change, 422).
PATCH_TARGETS: Final[dict[str, dict[str, str]]] = {
    "troubleTicket": {"status": "acknowledged,inProgress,pending,held"},
    "customerBill": {"state": "new,sent"},
}


def check_resource(collection: str, record: Any) -> None:
    """``record`` is a valid resource of ``collection`` (of its ``@type`` subtype, if any)."""
    model = MODEL[collection]
    assert isinstance(record, dict), f"{collection}: not a JSON object: {record!r}"
    validate(model["file"], definition_for(model["file"], model["definition"], record), record)


def check_request(collection: str, suffix: str, body: Record) -> None:
    """The test's own body is valid for ``<Definition>_Create`` / ``_Update`` (and its subtype).

    A required attribute the model does not even define (TMF639 ``Resource_Create`` requires
    ``id`` and ``href``, a known specification defect) is server-assigned: the checked copy
    carries a placeholder, the body sent does not. A merge patch is partial by definition
    (RFC 7396, TMF630), so the ``required`` lists some ``_Update`` models carry (TMF629
    ``engagedParty``, TMF666 ``name``/``relatedParty``, TMF670 ``name``, TMF622
    ``productOrderItem``, TMF639 ``id``/``href``) do not apply to it.
    """
    model = MODEL[collection]
    file, name = model["file"], model["definition"] + suffix
    schema = _schemas(file)[0][name]
    undefined = set(schema.get("required", [])) - set(schema.get("properties", {}))
    checked = {**{key: f"placeholder-{key}" for key in undefined}, **body}
    subtype = definition_for(file, name, checked)
    for definition in dict.fromkeys((name, subtype)):
        problems = [
            f"  {'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
            for error in validator(file, definition).iter_errors(checked)
            if not (suffix == "_Update" and error.validator == "required" and not error.path)
        ]
        assert not problems, f"test body is not a valid {definition} of {file}:\n" + "\n".join(
            problems
        )


def check_error(collection: str, reply: Reply, status: int) -> None:
    assert reply.status == status, f"expected {status}, got {reply.status}: {reply.body}"
    validate(MODEL[collection]["file"], "Error", reply.body)
    assert reply.body["status"] == str(status), reply.body
    assert reply.body["code"], reply.body
    assert reply.body["reason"], reply.body


def values_at(record: Any, path: list[str]) -> list[Any]:
    """The values at a dotted path; arrays on the way fan out."""
    if isinstance(record, list):
        return [value for item in record for value in values_at(item, path)]
    if not path:
        return [record]
    if not isinstance(record, dict) or path[0] not in record:
        return []
    return values_at(record[path[0]], path[1:])


async def list_page(http: aiohttp.ClientSession, url: str, **params: str) -> list[Record]:
    reply = await call(http, "GET", url, params={"limit": "5", **params})
    assert reply.status in (200, 206), f"GET {url} {params}: {reply.status} {reply.body}"
    total, count = reply.headers.get("X-Total-Count"), reply.headers.get("X-Result-Count")
    assert total is not None, f"X-Total-Count missing: {reply.headers}"
    assert count is not None, f"X-Result-Count missing: {reply.headers}"
    assert int(count) == len(reply.body) <= 5, (count, len(reply.body))
    assert int(total) >= int(count), (total, count)
    assert (reply.status == 206) == (int(total) > int(count)), (reply.status, total, count)
    assert isinstance(reply.body, list)
    return reply.body


def test_every_writable_collection_has_a_body_in_the_tables() -> None:
    assert sorted(CREATE_BODIES) == sorted(POSTABLE)
    assert sorted(PATCHES) == sorted(PATCHABLE)


@pytest.mark.parametrize("collection", ALL)
async def test_list(sandbox: RunningSandbox, http: aiohttp.ClientSession, collection: str) -> None:
    url = url_of(sandbox.url, collection)
    page = await list_page(http, url)
    assert page, f"the seeded data has no {collection}"
    for record in page:
        check_resource(collection, record)
    references = [p for p in COLLECTIONS[collection].indexes if p.endswith(".id")]
    for path in references:  # the first reference the page carries is the representative one
        found = [v for record in page for v in values_at(record, path.split("."))]
        if found:
            filtered = await list_page(http, url, **{path: str(found[0])})
            assert filtered, f"{collection}?{path}={found[0]} found nothing"
            for record in filtered:
                assert found[0] in values_at(record, path.split(".")), record["id"]
                check_resource(collection, record)
            break
    else:
        assert not references, f"no {collection} on the first page carries {references}"


@pytest.mark.parametrize("collection", ALL)
async def test_get(sandbox: RunningSandbox, http: aiohttp.ClientSession, collection: str) -> None:
    listed = (await list_page(http, url_of(sandbox.url, collection)))[0]
    reply = await call(http, "GET", url_of(sandbox.url, collection, listed["id"]))
    assert reply.status == 200, reply.body
    check_resource(collection, reply.body)
    assert reply.body == listed


@pytest.mark.parametrize("collection", POSTABLE)
async def test_create(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, collection: str
) -> None:
    body = await CREATE_BODIES[collection](await load_seeded(http, sandbox.url))
    check_request(collection, "_Create", body)
    reply = await call(http, "POST", url_of(sandbox.url, collection), json=body)
    model = MODEL[collection]
    subtype = definition_for(model["file"], model["definition"], body)
    assert reply.status == 201, (
        f"POST {collection} refused a body valid for {model['definition']}_Create"
        + (f" and {subtype}" if subtype != model["definition"] else "")
        + f" of {model['file']}: {reply.status} {reply.body}"
    )
    check_resource(collection, reply.body)
    assert reply.headers.get("Location") == reply.body["href"]
    again = await call(http, "GET", reply.body["href"])
    assert again.status == 200, again.body
    assert again.body == reply.body


@pytest.mark.parametrize("collection", PATCHABLE)
async def test_patch(sandbox: RunningSandbox, http: aiohttp.ClientSession, collection: str) -> None:
    url = url_of(sandbox.url, collection)
    target = (await list_page(http, url, **PATCH_TARGETS.get(collection, {})))[0]
    patch = PATCHES[collection]
    check_request(collection, "_Update", patch)
    reply = await call(http, "PATCH", target["href"], json=patch, content_type=MERGE)
    assert reply.status == 200, f"PATCH {target['id']}: {reply.status} {reply.body}"
    check_resource(collection, reply.body)
    assert {key: reply.body.get(key) for key in patch} == patch


@pytest.mark.parametrize("collection", ALL)
async def test_not_found_is_a_tmf_error(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, collection: str
) -> None:
    missing = f"{COLLECTIONS[collection].id_prefix}-nmissing"
    reply = await call(http, "GET", url_of(sandbox.url, collection, missing))
    check_error(collection, reply, 404)


@pytest.mark.parametrize("collection", ALL)
async def test_bad_request_is_a_tmf_error(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, collection: str
) -> None:
    """An unknown attribute on POST; where the spec has no POST, in a list filter."""
    url = url_of(sandbox.url, collection)
    if collection in CREATE_BODIES:
        body = await CREATE_BODIES[collection](await load_seeded(http, sandbox.url))
        reply = await call(http, "POST", url, json={**body, "favouriteColour": "blue"})
    else:
        reply = await call(http, "GET", url, params={"favouriteColour": "blue"})
    check_error(collection, reply, 400)
    assert "favouriteColour" in reply.body.get("message", ""), reply.body


@pytest.mark.parametrize("collection", ALL)
async def test_method_not_allowed_is_a_tmf_error(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, collection: str
) -> None:
    """The first operation the specification does not declare (PUT: none declares it)."""
    spec = COLLECTIONS[collection]
    listed = (await list_page(http, url_of(sandbox.url, collection)))[0]
    method, on_item = next(
        (method, on_item)
        for method, on_item in (("POST", False), ("PATCH", True), ("DELETE", True), ("PUT", True))
        if not spec.allows(method, on_item)
    )
    url = url_of(sandbox.url, collection, listed["id"] if on_item else None)
    reply = await call(http, method, url, json={"name": "x"})
    check_error(collection, reply, 405)


@pytest.mark.parametrize("collection", ALL)
async def test_hub_subscription(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, collection: str
) -> None:
    spec = COLLECTIONS[collection]
    file = MODEL[collection]["file"]
    events = MODEL[collection]["events"]
    query = f"eventType={events[0][0].upper()}{events[0][1:]}" if events else ""
    body = {"callback": "http://127.0.0.1:9/callback", "query": query}
    validate(file, "EventSubscriptionInput", body)
    hub = f"{sandbox.url}{spec.api.base_path}/hub"
    reply = await call(http, "POST", hub, json=body)
    assert reply.status == 201, reply.body
    validate(file, "EventSubscription", reply.body)
    assert {k: reply.body[k] for k in body} == body
    gone = await call(http, "DELETE", f"{hub}/{reply.body['id']}")
    assert gone.status == 204
