"""What the listener takes from a backend: :func:`graph.events.parse_event` accepts the TMF
events the gateway listens to, shaped as the sandbox (after the specifications) sends them, and
refuses everything else with a reason; :class:`ChangeEvent` survives the broadcast's JSON."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from graph.events import LISTENED, TOPICS, ChangeEvent, InvalidEvent, parse_event
from graph.sandbox.events import event_body
from graph.sandbox.registry import COLLECTIONS

TICKET = "troubleTicketStatusChangeEvent"


def body_of(event_name: str, record_id: str = "tt-000001-1") -> dict[str, Any]:
    """The body the sandbox's hub posts to ``listener/{event_name}``."""
    resource = LISTENED[event_name]
    record = {"id": record_id, "href": f"http://backend/{resource}/{record_id}", "status": "x"}
    return event_body(COLLECTIONS[resource], event_name, record)


def test_every_listened_event_is_one_the_specification_of_its_api_defines() -> None:
    for api, (resource, names) in TOPICS.items():
        spec = COLLECTIONS[resource]
        assert spec.api.key == api, resource
        for name in names:
            assert name in spec.model["events"], name
            assert LISTENED[name] == resource


@pytest.mark.parametrize("event_name", sorted(LISTENED))
def test_each_listened_event_is_accepted(event_name: str) -> None:
    body = body_of(event_name, "rec-1.a_b:c@d")
    event = parse_event(event_name, body)
    assert event.event_id == body["eventId"]
    assert event.event_type == event_name[0].upper() + event_name[1:]
    assert event.resource == LISTENED[event_name]
    assert event.record_id == "rec-1.a_b:c@d"
    assert event.record == body["event"][LISTENED[event_name]]
    assert event.time == body["eventTime"]


def test_a_hand_written_tmf_body_is_accepted_and_event_time_is_optional() -> None:
    body = {
        "eventId": "00000000-0000-4000-8000-000000000001",
        "eventType": "ProductOrderStateChangeEvent",
        "domain": "TMF622",
        "event": {"productOrder": {"id": "po-000001-1", "state": "inProgress"}},
    }
    event = parse_event("productOrderStateChangeEvent", body)
    assert (event.resource, event.record_id, event.time) == ("productOrder", "po-000001-1", None)
    assert event.record == {"id": "po-000001-1", "state": "inProgress"}
    assert parse_event("productOrderStateChangeEvent", body | {"eventTime": 12}).time is None


@pytest.mark.parametrize(
    "event_name",
    [
        "troubleTicketDeleteEvent",  # a TMF event, but not one listened to
        "serviceOrderCreateEvent",  # neither for subscriptions nor for the cache
        "TroubleTicketStatusChangeEvent",  # the eventType's spelling, not the listener's
        "",
        "x" * 500,
    ],
)
def test_an_event_name_not_listened_to_is_refused(event_name: str) -> None:
    with pytest.raises(InvalidEvent, match="not an event this gateway listens to") as refused:
        parse_event(event_name, body_of(TICKET))
    assert len(str(refused.value)) < 200  # the name is cut in the reason


@pytest.mark.parametrize("body", [None, [], "event", 42, [body_of(TICKET)]])
def test_a_body_that_is_not_an_object_is_refused(body: Any) -> None:
    with pytest.raises(InvalidEvent, match="not a JSON object"):
        parse_event(TICKET, body)


@pytest.mark.parametrize(
    "event_id",
    [None, "", 7, ["a"], "a b", "a,b", "a/b", "a\nb", "é", "x" * 129, {"id": "a"}],
)
def test_a_missing_or_malformed_event_id_is_refused(event_id: Any) -> None:
    body = body_of(TICKET)
    if event_id is None:
        del body["eventId"]
    else:
        body["eventId"] = event_id
    with pytest.raises(InvalidEvent, match="eventId"):
        parse_event(TICKET, body)


def test_the_longest_event_id_is_accepted() -> None:
    assert parse_event(TICKET, body_of(TICKET) | {"eventId": "e" * 128}).event_id == "e" * 128


@pytest.mark.parametrize(
    "event_type",
    [
        None,
        "",
        TICKET,  # the listener's spelling, not the eventType's
        "TroubleTicketCreateEvent",  # another listened event
        "TroubleTicketDeleteEvent",
        "troubleticketstatuschangeevent",
    ],
)
def test_an_event_type_not_matching_the_listener_is_refused(event_type: str | None) -> None:
    body = body_of(TICKET)
    if event_type is None:
        del body["eventType"]
    else:
        body["eventType"] = event_type
    with pytest.raises(InvalidEvent, match="eventType"):
        parse_event(TICKET, body)


@pytest.mark.parametrize(
    "event",
    [
        None,
        "troubleTicket",
        [],
        {},
        {"troubleTicket": None},
        {"troubleTicket": [{"id": "tt-1"}]},
        {"troubleTicket": "tt-1"},
        {"productOrder": {"id": "po-1"}},  # another API's resource
    ],
)
def test_a_missing_resource_is_refused(event: Any) -> None:
    body = body_of(TICKET)
    if event is None:
        del body["event"]
    else:
        body["event"] = event
    with pytest.raises(InvalidEvent, match=r"event\.troubleTicket is missing"):
        parse_event(TICKET, body)


@pytest.mark.parametrize(
    "record_id",
    [None, "", 12, "tt-1,tt-2", "tt/1", "../tt-1", "tt 1", "tt-1?x=1", "t" * 129, ["tt-1"]],
)
def test_a_missing_or_malformed_record_id_is_refused(record_id: Any) -> None:
    body = body_of(TICKET)
    record = body["event"]["troubleTicket"]
    if record_id is None:
        del record["id"]
    else:
        record["id"] = record_id
    with pytest.raises(InvalidEvent, match=r"event\.troubleTicket\.id"):
        parse_event(TICKET, body)


def test_parsing_does_not_change_the_body() -> None:
    body = body_of(TICKET)
    before = copy.deepcopy(body)
    parse_event(TICKET, body)
    assert body == before


def test_a_change_event_survives_the_json_round_trip() -> None:
    event = ChangeEvent(
        event_id="ev-1",
        event_type="TroubleTicketStatusChangeEvent",
        resource="troubleTicket",
        record_id="tt-000001-1",
        record={"id": "tt-000001-1", "note": [{"text": "Jürgen — 支付 ✓"}], "n": 1.5, "x": None},
        time="2026-11-26T10:00:00.000Z",
    )
    assert ChangeEvent.from_json(event.to_json()) == event
    untimed = ChangeEvent("ev-2", "PaymentCreateEvent", "payment", "pay-1", {"id": "pay-1"})
    assert ChangeEvent.from_json(untimed.to_json()) == untimed


def test_a_parsed_event_survives_the_json_round_trip() -> None:
    event = parse_event("customerBillStateChangeEvent", body_of("customerBillStateChangeEvent"))
    assert ChangeEvent.from_json(event.to_json()) == event


@pytest.mark.parametrize(
    "payload", [b"{}", b'{"eventId": "e"}', b"[]", b"not json", b'{"eventId": "e", "id": "x"}']
)
def test_a_malformed_broadcast_message_is_refused_with_the_errors_the_fanout_catches(
    payload: bytes,
) -> None:
    with pytest.raises((ValueError, KeyError, TypeError)):
        ChangeEvent.from_json(payload)
