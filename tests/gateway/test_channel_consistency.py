"""Channel-agnostic consistency: the same operation for the same customer gives identical
data on every channel allowed to run it, and trusted-only channels run only their own."""

from __future__ import annotations

import pytest

from graph.auth import CHANNELS
from graph.auth.policy import CHANNEL_POLICY
from graph.operations import load_manifest
from tests.gateway.conftest import GQL

CUSTOMER = "cus-000004"
CUSTOMER_CHANNELS = sorted(c for c in CHANNELS if "customer" in CHANNEL_POLICY[c].roles)


# Reads: an action changes what the next channel would see (actions per channel are tested in
# test_actions_channels.py).
QUERIES = sorted(
    op.name for op in load_manifest().values() if op.document.lstrip().startswith("query")
)


def test_the_manifest_has_reads_to_compare() -> None:
    assert len(QUERIES) >= 4


@pytest.mark.parametrize("operation", QUERIES)
async def test_a_trusted_operation_answers_the_same_on_every_channel_that_admits_it(
    gql: GQL, operation: str
) -> None:
    trusted = next(op for op in load_manifest().values() if op.name == operation)
    admitting = {
        c for c in CUSTOMER_CHANNELS
        if not CHANNEL_POLICY[c].trusted_only or not trusted.channels or c in trusted.channels
    }  # fmt: skip
    answers: dict[str, object] = {}
    for channel in CUSTOMER_CHANNELS:
        result = await gql(trusted.document, principal=f"customer:{CUSTOMER}@{channel}")
        if channel not in admitting:
            assert result["errors"][0]["extensions"]["code"] == "OPERATION_NOT_ALLOWED", channel
            continue
        assert "errors" not in result, (channel, result["errors"])
        answers[channel] = result["data"]
    assert len(answers) >= 4, answers.keys()
    first = next(iter(answers.values()))
    assert first
    for channel, data in answers.items():
        assert data == first, f"{operation} differs on {channel}"
