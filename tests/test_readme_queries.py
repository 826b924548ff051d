"""The README's example operations are real: each one validates against the schema."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import parse, validate

from graph.schema import build_schema

README = Path(__file__).resolve().parents[1] / "README.md"


def examples() -> list[str]:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```graphql\n(.*?)```", text, re.S)
    inline = re.findall(r"^gql '(.*?)'", text, re.S | re.M)
    inline += re.findall(r"`(\{ productOfferings.*?\})`", text)
    return blocks + inline


def test_the_readme_has_its_examples() -> None:
    assert len(examples()) >= 5


@pytest.mark.parametrize("document", examples())
def test_readme_example_validates(document: str) -> None:
    schema = build_schema()._schema
    errors = validate(schema, parse(document))
    assert not errors, errors


def test_the_readme_kiosk_example_is_the_trusted_operation() -> None:
    from graph.operations import load_manifest

    kiosk = next(op for op in load_manifest().values() if op.name == "KioskBill")
    assert kiosk.document.strip() in README.read_text(encoding="utf-8")
