"""Validate JSON bodies against the official TM Forum specification files.

The files live outside the repository (``../shared/tmf``, or ``$CSM_TMF_SPEC_DIR``), so tests
that need them call :func:`require_specs` and skip with a clear reason when they are absent.
A Swagger 2.0 definition is a JSON Schema draft 4 subset, and an OAS 3.0 component is close
enough to it, so one :class:`jsonschema.Draft4Validator` per (file, definition) serves both:
its root embeds the document's own definitions so that ``#/definitions/...`` (or
``#/components/schemas/...``) references resolve inside the file. Formats are checked for
``date-time`` and ``date`` only, with no optional dependency, so results do not depend on
which packages happen to be installed.
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

__all__ = ["ENV_VAR", "definition_for", "require_specs", "spec_dir", "validate", "validator"]

ENV_VAR = "CSM_TMF_SPEC_DIR"

_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def spec_dir() -> Path:
    """Where the specification files are: ``$CSM_TMF_SPEC_DIR``, else ``../shared/tmf``
    beside the repository."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2].parent / "shared" / "tmf"


def require_specs() -> Path:
    """The specification directory, or skip the calling test when it is missing."""
    path = spec_dir()
    if not path.is_dir():
        pytest.skip(f"TMF specification files not found at {path}; set {ENV_VAR}")
    return path


@functools.cache
def _document(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        if path.suffix in (".yaml", ".yml"):
            loaded = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        else:
            loaded = json.load(handle)
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} is not a JSON object")
    return loaded


def _schemas(file: str) -> tuple[dict[str, Any], str]:
    """The named schemas of a spec file and the JSON pointer prefix they live under."""
    document = _document(spec_dir() / file)
    if "definitions" in document:  # Swagger 2.0
        return document["definitions"], "#/definitions/"
    return document["components"]["schemas"], "#/components/schemas/"  # OAS 3


def _check_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if _DATE_TIME.fullmatch(value) is None:
        return False
    datetime.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    return True


def _check_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if _DATE.fullmatch(value) is None:
        return False
    datetime.date.fromisoformat(value)
    return True


def _format_checker() -> Any:
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("date-time", raises=ValueError)(_check_date_time)
    checker.checks("date", raises=ValueError)(_check_date)
    return checker


@functools.cache
def validator(file: str, definition: str) -> Any:
    """A cached draft 4 validator for ``definition`` in spec ``file`` (a name in the spec
    directory, e.g. ``TMF629_CustomerManagement_v4.0.0.swagger.json``)."""
    schemas, pointer = _schemas(file)
    if definition not in schemas:
        raise KeyError(f"{file} defines no {definition!r}")
    if pointer == "#/definitions/":
        root: dict[str, Any] = {"definitions": schemas}
    else:
        root = {"components": {"schemas": schemas}}
    root["$ref"] = pointer + definition
    return jsonschema.Draft4Validator(root, format_checker=_format_checker())


def definition_for(file: str, definition: str, instance: Any) -> str:
    """The subtype to validate ``instance`` against: its ``@type`` when the file defines it
    (``tokenizedCard`` -> ``TokenizedCard``, ``PhysicalResource``), else ``definition``.
    Polymorphic resources carry their subtype's attributes, which only it describes."""
    kind = instance.get("@type") if isinstance(instance, dict) else None
    if isinstance(kind, str) and kind:
        candidate = kind[0].upper() + kind[1:]
        if candidate in _schemas(file)[0]:
            return candidate
    return definition


def validate(file: str, definition: str, instance: Any) -> None:
    """Raise an AssertionError listing every violation of ``definition`` by ``instance``."""
    errors = sorted(
        validator(file, definition).iter_errors(instance),
        key=lambda error: [str(part) for part in error.absolute_path],
    )
    if not errors:
        return
    lines = []
    for error in errors:
        where = "/".join(str(part) for part in error.absolute_path) or "<root>"
        message = error.message if len(error.message) <= 300 else error.message[:297] + "..."
        lines.append(f"  {where}: {message}")
    label = instance.get("id", "") if isinstance(instance, dict) else ""
    raise AssertionError(
        f"{definition} {label} violates {file} ({len(errors)} errors):\n" + "\n".join(lines)
    )
