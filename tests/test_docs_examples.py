"""The docs' GraphQL examples stay true: every example in docs/actions.md and
docs/live-updates.md is valid against the schema, and every mutation and subscription the
schema has is shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import OperationDefinitionNode, OperationType, parse, validate

from graph.schema import build_schema

DOCS = Path(__file__).resolve().parents[1] / "docs"
BLOCK = re.compile(r"```graphql\n(.*?)```", re.DOTALL)


def _examples(name: str = "actions.md") -> list[str]:
    return BLOCK.findall((DOCS / name).read_text("utf-8"))


def test_the_document_has_examples() -> None:
    assert len(_examples()) >= 10


@pytest.mark.parametrize("example", _examples() + _examples("live-updates.md"))
def test_every_example_is_valid_against_the_schema(example: str) -> None:
    schema = build_schema()._schema
    assert validate(schema, parse(example)) == []


def test_every_mutation_has_an_example() -> None:
    schema = build_schema()._schema
    assert schema.mutation_type is not None
    shown: set[str] = set()
    for example in _examples():
        for definition in parse(example).definitions:
            if (
                isinstance(definition, OperationDefinitionNode)
                and definition.operation is OperationType.MUTATION
            ):
                shown |= {s.name.value for s in definition.selection_set.selections}  # type: ignore[attr-defined]
    assert set(schema.mutation_type.fields) <= shown


def test_every_subscription_is_named_in_the_live_updates_doc() -> None:
    schema = build_schema()._schema
    assert schema.subscription_type is not None
    text = (DOCS / "live-updates.md").read_text("utf-8")
    assert all(f"`{name}(" in text for name in schema.subscription_type.fields)
