"""Generate ``graph/sandbox/tmf_model.py`` from the TM Forum specification files.

The sandbox must run without the specification files (a fresh clone has no ``../shared``), so the
few facts it needs from them -- each resource's attributes and their JSON kinds, what a create
requires, which operations and events exist -- are extracted here once and committed.
``tests/contract/test_tmf_model.py`` fails when the committed module drifts from the specs.

Usage: ``python tools/gen_tmf_model.py [SPEC_DIR] > graph/sandbox/tmf_model.py``
"""

from __future__ import annotations

import json
import os
import pprint
import re
import sys
from pathlib import Path
from typing import Any

import yaml

# resource (collection path segment) -> (spec file, definition name)
RESOURCES: dict[str, tuple[str, str]] = {
    "customer": ("TMF629_CustomerManagement_v4.0.0.swagger.json", "Customer"),
    "individual": ("TMF632_PartyManagement_v4.0.0.swagger.json", "Individual"),
    "billingAccount": ("TMF666_AccountManagement_v4.0.0.swagger.json", "BillingAccount"),
    "partyInteraction": ("TMF683_PartyInteraction_v4.0.0.swagger.json", "PartyInteraction"),
    "customerBill": ("TMF678_CustomerBillManagement_v4.0.0.swagger.json", "CustomerBill"),
    "appliedCustomerBillingRate": (
        "TMF678_CustomerBillManagement_v4.0.0.swagger.json",
        "AppliedCustomerBillingRate",
    ),
    "payment": ("TMF676_PaymentManagement_v4.0.0.swagger.json", "Payment"),
    "paymentMethod": ("TMF670_PaymentMethod_v4.0.0.swagger.json", "PaymentMethod"),
    "usage": ("TMF635_UsageManagement_v4.0.0.swagger.json", "Usage"),
    "troubleTicket": ("TMF621_TroubleTicket_v4.0.0.swagger.json", "TroubleTicket"),
    "serviceProblem": ("TMF656_ServiceProblemManagement_v4.0.0.swagger.json", "ServiceProblem"),
    "productOffering": ("TMF620_ProductCatalog_v4.1.0.swagger.json", "ProductOffering"),
    "productOfferingPrice": ("TMF620_ProductCatalog_v4.1.0.swagger.json", "ProductOfferingPrice"),
    "category": ("TMF620_ProductCatalog_v4.1.0.swagger.json", "Category"),
    "productOrder": ("TMF622_ProductOrdering_v4.0.0.swagger.json", "ProductOrder"),
    "product": ("TMF637_ProductInventory_v4.0.0.swagger.json", "Product"),
    "serviceOrder": ("TMF641_ServiceOrdering_v4.0.0.swagger.json", "ServiceOrder"),
    "service": ("TMF638_ServiceInventory_v4.0.0.swagger.json", "Service"),
    "resource": ("TMF639_ResourceInventory_v4.0.0.swagger.json", "Resource"),
}

# Subtypes that do not extend their base through allOf (TMF639 repeats Resource's properties).
STANDALONE_SUBTYPES: dict[str, tuple[str, ...]] = {
    "resource": ("LogicalResource", "PhysicalResource"),
}

# TMF678 v4 declares no events; the v5 supplement does.
V5_EVENTS = {"customerBill": "TMF678_CustomerBillManagement_v5.0.0.oas.yaml"}


def load(spec_dir: Path, name: str) -> dict[str, Any]:
    text = (spec_dir / name).read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text) if name.endswith(".yaml") else json.loads(text)
    return data


def kind(schema: dict[str, Any], definitions: dict[str, Any]) -> str:
    """The JSON kind of a property: string, number, integer, boolean, array or object."""
    if "$ref" in schema:
        target = definitions[schema["$ref"].rsplit("/", 1)[-1]]
        return kind(target, definitions)
    if "type" in schema:
        return str(schema["type"])
    if "allOf" in schema or "properties" in schema:
        return "object"
    return "any"


def properties(name: str, definitions: dict[str, Any]) -> dict[str, str]:
    """All properties of a definition, including those inherited through ``allOf``."""
    schema = definitions[name]
    props: dict[str, str] = {}
    for part in schema.get("allOf", []):
        if "$ref" in part:
            props.update(properties(part["$ref"].rsplit("/", 1)[-1], definitions))
    for prop, sub in schema.get("properties", {}).items():
        props[prop] = kind(sub, definitions)
    return props


def subtypes(
    name: str, definitions: dict[str, Any], standalone: tuple[str, ...] = ()
) -> dict[str, dict[str, str]]:
    """Definitions that extend ``name`` (through ``allOf``, or listed as ``standalone``), with
    the properties they add."""
    found: dict[str, dict[str, str]] = {}
    base = set(properties(name, definitions))
    for other, schema in definitions.items():
        refs = [p.get("$ref", "") for p in schema.get("allOf", [])]
        if f"#/definitions/{name}" in refs or other in standalone:
            extra = {k: v for k, v in properties(other, definitions).items() if k not in base}
            found[other] = dict(sorted(extra.items()))
    return dict(sorted(found.items()))


EVENT_KINDS = (
    "Create|AttributeValueChange|StateChange|StatusChange|Delete|Resolved|InformationRequired"
)


def listener_events(resource: str, paths: dict[str, Any]) -> list[str]:
    """Event names of the resource itself (``usage`` must not pick up ``usageSpecification``)."""
    pattern = re.compile(rf"^/listener/({resource}(?:{EVENT_KINDS})Event)$")
    return sorted(m.group(1) for p in paths if (m := pattern.match(p)))


def model(spec_dir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for resource, (file, definition) in RESOURCES.items():
        spec = load(spec_dir, file)
        defs = spec["definitions"]
        paths = spec["paths"]
        create = defs.get(f"{definition}_Create")
        update = defs.get(f"{definition}_Update")
        events = listener_events(resource, paths)
        if resource in V5_EVENTS:
            events = listener_events(resource, load(spec_dir, V5_EVENTS[resource])["paths"])
        out[resource] = {
            "definition": definition,
            "file": file,
            "properties": dict(sorted(properties(definition, defs).items())),
            "required": sorted(defs[definition].get("required", [])),
            "create_properties": sorted(properties(f"{definition}_Create", defs)) if create else [],
            "create_required": sorted(create.get("required", [])) if create else [],
            "update_properties": sorted(properties(f"{definition}_Update", defs)) if update else [],
            "subtypes": subtypes(definition, defs, STANDALONE_SUBTYPES.get(resource, ())),
            "collection_methods": sorted(
                m for m in paths.get(f"/{resource}", {}) if m != "parameters"
            ),
            "item_methods": sorted(
                m for m in paths.get(f"/{resource}/{{id}}", {}) if m != "parameters"
            ),
            "events": events,
        }
    return out


HEADER = '''"""What the sandbox knows of the TM Forum resource models, from the specifications.

GENERATED by ``tools/gen_tmf_model.py`` from ``../shared/tmf``; do not edit by hand.
``tests/contract/test_tmf_model.py`` fails when this file drifts from the specifications.
"""

from __future__ import annotations

from typing import Final, TypedDict

__all__ = ["MODEL", "ResourceModel"]


class ResourceModel(TypedDict):
    definition: str
    file: str
    properties: dict[str, str]
    required: list[str]
    create_properties: list[str]
    create_required: list[str]
    update_properties: list[str]
    subtypes: dict[str, dict[str, str]]
    collection_methods: list[str]
    item_methods: list[str]
    events: list[str]


'''


def render(spec_dir: Path) -> str:
    body = pprint.pformat(model(spec_dir), width=96, sort_dicts=False)
    return HEADER + f"MODEL: Final[dict[str, ResourceModel]] = {body}\n"


def main() -> None:
    default = os.environ.get("CSM_TMF_SPEC_DIR", "../shared/tmf")
    spec_dir = Path(sys.argv[1] if len(sys.argv) > 1 else default)
    sys.stdout.write(render(spec_dir))


if __name__ == "__main__":
    main()
