"""Channel-agnostic consistency: the same operation for the same customer gives identical
data on every channel allowed to run it."""

from __future__ import annotations

import pytest

from graph.auth import CHANNELS
from graph.auth.policy import CHANNEL_POLICY
from graph.operations import load_manifest
from tests.gateway.conftest import GQL

CUSTOMER = "cus-000004"
CUSTOMER_CHANNELS = sorted(c for c in CHANNELS if "customer" in CHANNEL_POLICY[c].roles)


@pytest.mark.parametrize("operation", sorted(op.name for op in load_manifest().values()))
async def test_a_trusted_operation_answers_the_same_on_every_channel_that_admits_it(
    gql: GQL, operation: str
) -> None:
    document = next(op.document for op in load_manifest().values() if op.name == operation)
    answers: dict[str, object] = {}
    refused: dict[str, str] = {}
    for channel in CUSTOMER_CHANNELS:
        result = await gql(document, principal=f"customer:{CUSTOMER}@{channel}")
        if "errors" in result:
            refused[channel] = result["errors"][0]["extensions"]["code"]
        else:
            answers[channel] = result["data"]
    # Every customer channel runs manifest operations unless the channel's assurance level is
    # too low for a field in them (only ever the IVR's PIN login).
    assert set(refused) <= {"ivr"}, refused
    assert set(refused.values()) <= {"FORBIDDEN"}
    assert len(answers) >= 4, (answers.keys(), refused)
    first = next(iter(answers.values()))
    assert first, operation
    for channel, data in answers.items():
        assert data == first, f"{operation} differs on {channel}"
