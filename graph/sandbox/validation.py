"""Request-body checks for POST and PATCH, from the specification's ``_Create``/``_Update``.

A real TMF server refuses what it does not understand; so does the sandbox: attributes outside
the create/update model (including a subtype's, chosen by ``@type``), missing required ones and
values of the wrong JSON kind are a 400 with a TMF Error naming the attribute.
"""

from __future__ import annotations

from typing import Any, Final

from .errors import TmfError
from .registry import CollectionSpec

__all__ = ["check_create", "check_patch", "merge_patch"]

Record = dict[str, Any]

# Specification defects the sandbox does not enforce (see docs/sandbox.md, "Deviations").
NOT_REQUIRED_ON_CREATE: Final[dict[str, frozenset[str]]] = {
    # TMF639 Resource_Create lists id and href as required but does not define them.
    "resource": frozenset({"id", "href"}),
}
SERVER_ASSIGNED: Final = frozenset({"id", "href"})

_KIND_CHECKS: Final[dict[str, tuple[type, ...]]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def _subtype_properties(spec: CollectionSpec, body: Record) -> dict[str, str]:
    declared = body.get("@type")
    if not isinstance(declared, str):
        return {}
    for name, props in spec.model["subtypes"].items():
        if name.lower() == declared.lower():
            return props
    return {}


def _check_kinds(spec: CollectionSpec, body: Record, kinds: dict[str, str]) -> None:
    for key, value in body.items():
        if value is None:
            continue
        expected = kinds.get(key, "any")
        allowed = _KIND_CHECKS.get(expected)
        bad_bool = isinstance(value, bool) and expected in ("number", "integer")
        if allowed is not None and (not isinstance(value, allowed) or bad_bool):
            raise TmfError(
                400, "Invalid attribute value", f"{spec.type_name}.{key} must be a JSON {expected}"
            )


def _require_object(body: Any) -> Record:
    if not isinstance(body, dict):
        raise TmfError(400, "Invalid body", "the request body must be a JSON object")
    return body


def check_create(spec: CollectionSpec, body: Any) -> Record:
    record = _require_object(body)
    subtype = _subtype_properties(spec, record)
    allowed = set(spec.model["create_properties"]) | set(subtype)
    if not spec.model["create_properties"]:
        allowed |= set(spec.model["properties"])
    allowed -= SERVER_ASSIGNED
    unknown = sorted(k for k in record if k not in allowed)
    if unknown:
        raise TmfError(
            400, "Unknown attribute", f"{spec.type_name} has no attribute {unknown[0]!r}"
        )
    exempt = NOT_REQUIRED_ON_CREATE.get(spec.name, frozenset())
    missing = [k for k in spec.model["create_required"] if k not in record and k not in exempt]
    if missing:
        raise TmfError(400, "Missing attribute", f"{spec.type_name} requires {missing[0]!r}")
    _check_kinds(spec, record, {**spec.model["properties"], **subtype})
    return record


def check_patch(spec: CollectionSpec, body: Any, current: Record) -> Record:
    patch = _require_object(body)
    subtype = _subtype_properties(spec, current)
    allowed = (set(spec.model["update_properties"]) | set(subtype)) - SERVER_ASSIGNED
    refused = sorted(k for k in patch if k not in allowed)
    if refused:
        raise TmfError(
            400, "Attribute not updatable", f"{spec.type_name}.{refused[0]} cannot be patched"
        )
    _check_kinds(spec, patch, {**spec.model["properties"], **subtype})
    return patch


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: objects merge recursively, null removes, anything else
    (arrays included) replaces."""
    if not isinstance(patch, dict):
        return patch
    result: Record = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result
