"""The sandbox's collections: which TMF API serves each, where, and how it is indexed.

One declarative table drives the generic engine; nothing here is per-collection code. Facts that
come from the specifications (attributes, operations, events) live in :mod:`.tmf_model`; this
table adds what a running server decides for itself: base paths, id prefixes, the state attribute,
the reference paths that get an index, the references checked on writes, and whether the records
belong to one customer (materialized lazily per customer) or are shared (the catalogue).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from .tmf_model import MODEL, ResourceModel

__all__ = [
    "APIS",
    "COLLECTIONS",
    "Api",
    "CollectionSpec",
    "Reference",
    "owner_of",
]


@dataclass(frozen=True, slots=True)
class Api:
    """One TMF Open API as the sandbox serves it."""

    key: str  # "TMF629"
    base_path: str  # "/tmf-api/customerManagement/v4" (no trailing slash)


@dataclass(frozen=True, slots=True)
class Reference:
    """A reference attribute whose ids must exist in ``target`` when a client writes it."""

    path: str  # dotted path to the id, e.g. "engagedParty.id"
    target: str  # collection name, e.g. "individual"
    referred_type: str | None = None  # only refs with this @referredType are checked


@dataclass(frozen=True, slots=True)
class CollectionSpec:
    """A collection: resource name (path segment and event prefix) plus its serving rules."""

    name: str
    api: Api
    id_prefix: str
    state_field: str | None
    owned: bool  # True: belongs to one customer; False: shared (catalogue)
    indexes: tuple[str, ...] = ()
    references: tuple[Reference, ...] = ()
    model: ResourceModel = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", MODEL[self.name])

    @property
    def type_name(self) -> str:
        return self.model["definition"]

    @property
    def path(self) -> str:
        return f"{self.api.base_path}/{self.name}"

    def event_name(self, kind: str) -> str | None:
        """The listener event name for ``kind`` (Create, AttributeValueChange, StateChange,
        Delete, Resolved...), or None when the specification defines no such event. TMF621,
        TMF670 and TMF683 call their state event ``...StatusChangeEvent``."""
        candidates = [f"{self.name}{kind}Event"]
        if kind == "StateChange":
            candidates.append(f"{self.name}StatusChangeEvent")
        for name in candidates:
            if name in self.model["events"]:
                return name
        return None

    def allows(self, method: str, on_item: bool) -> bool:
        methods = self.model["item_methods"] if on_item else self.model["collection_methods"]
        return method.lower() in methods


def _api(key: str, base_path: str) -> Api:
    return Api(key=key, base_path=base_path)


TMF629 = _api("TMF629", "/tmf-api/customerManagement/v4")
TMF632 = _api("TMF632", "/tmf-api/party/v4")
TMF666 = _api("TMF666", "/tmf-api/accountManagement/v4")
TMF683 = _api("TMF683", "/tmf-api/partyInteraction/v4")
TMF678 = _api("TMF678", "/tmf-api/customerBillManagement/v4")
# The spec declares /payment/v4/; implementations (and csm-graph) use the TMF naming scheme.
TMF676 = _api("TMF676", "/tmf-api/paymentManagement/v4")
TMF670 = _api("TMF670", "/tmf-api/paymentMethod/v4")
TMF635 = _api("TMF635", "/tmf-api/usageManagement/v4")
TMF621 = _api("TMF621", "/tmf-api/troubleTicket/v4")
TMF656 = _api("TMF656", "/tmf-api/serviceProblemManagement/v4")
TMF620 = _api("TMF620", "/tmf-api/productCatalogManagement/v4")
TMF622 = _api("TMF622", "/tmf-api/productOrderingManagement/v4")
TMF637 = _api("TMF637", "/tmf-api/productInventory/v4")
TMF641 = _api("TMF641", "/tmf-api/serviceOrdering/v4")
TMF638 = _api("TMF638", "/tmf-api/serviceInventory/v4")
TMF639 = _api("TMF639", "/tmf-api/resourceInventoryManagement/v4")

APIS: Final[tuple[Api, ...]] = (
    TMF629, TMF632, TMF666, TMF683, TMF678, TMF676, TMF670, TMF635,
    TMF621, TMF656, TMF620, TMF622, TMF637, TMF641, TMF638, TMF639,
)  # fmt: skip

_PARTY = "relatedParty.id"

COLLECTIONS: Final[dict[str, CollectionSpec]] = {
    spec.name: spec
    for spec in (
        CollectionSpec(
            "individual", TMF632, "ind", "status", owned=True,
            indexes=(
                "familyName",
                "contactMedium.characteristic.emailAddress",
                "contactMedium.characteristic.phoneNumber",
            ),
        ),
        CollectionSpec(
            "customer", TMF629, "cus", "status", owned=True,
            indexes=("engagedParty.id", _PARTY, "account.id", "name"),
            references=(Reference("engagedParty.id", "individual", "Individual"),),
        ),
        CollectionSpec(
            "billingAccount", TMF666, "ba", "state", owned=True, indexes=(_PARTY,),
            references=(Reference(_PARTY, "customer", "Customer"),),
        ),
        CollectionSpec(
            "partyInteraction", TMF683, "pi", "status", owned=True,
            indexes=(_PARTY, "interactionItem.item.id"),
        ),
        CollectionSpec(
            "customerBill", TMF678, "cb", "state", owned=True,
            indexes=("billingAccount.id", _PARTY),
        ),
        CollectionSpec(
            "appliedCustomerBillingRate", TMF678, "acbr", None, owned=True,
            indexes=("bill.id", "billingAccount.id", "product.id"),
        ),
        CollectionSpec(
            "payment", TMF676, "pay", "status", owned=True,
            indexes=("account.id", "paymentItem.item.id", "payer.id", "paymentMethod.id"),
            references=(
                Reference("account.id", "billingAccount"),
                Reference("paymentMethod.id", "paymentMethod"),
                Reference("paymentItem.item.id", "customerBill", "CustomerBill"),
            ),
        ),
        CollectionSpec(
            "paymentMethod", TMF670, "pm", "status", owned=True, indexes=(_PARTY, "account.id"),
            references=(Reference(_PARTY, "customer", "Customer"),),
        ),
        CollectionSpec(
            "usage", TMF635, "usg", "status", owned=True,
            indexes=(_PARTY, "ratedProductUsage.productRef.id"),
        ),
        CollectionSpec(
            "troubleTicket", TMF621, "tt", "status", owned=True,
            indexes=(_PARTY, "relatedEntity.id"),
            references=(
                Reference(_PARTY, "customer", "Customer"),
                Reference("relatedEntity.id", "product", "Product"),
                Reference("relatedEntity.id", "service", "Service"),
                Reference("relatedEntity.id", "customerBill", "CustomerBill"),
            ),
        ),
        CollectionSpec(
            "serviceProblem", TMF656, "sp", "status", owned=True,
            indexes=("affectedService.id", _PARTY, "troubleTicket.id"),
        ),
        CollectionSpec(
            "productOffering", TMF620, "off", "lifecycleStatus", owned=False,
            indexes=("category.id", "productOfferingPrice.id"),
        ),
        CollectionSpec("productOfferingPrice", TMF620, "pop", "lifecycleStatus", owned=False),
        CollectionSpec("category", TMF620, "cat", "lifecycleStatus", owned=False),
        CollectionSpec(
            "productOrder", TMF622, "ord", "state", owned=True,
            indexes=(_PARTY, "billingAccount.id", "productOrderItem.product.id"),
            references=(
                Reference(_PARTY, "customer", "Customer"),
                Reference("billingAccount.id", "billingAccount"),
                Reference("productOrderItem.productOffering.id", "productOffering"),
                Reference("productOrderItem.product.id", "product"),
            ),
        ),
        CollectionSpec(
            "product", TMF637, "prd", "status", owned=True,
            indexes=(
                _PARTY, "billingAccount.id", "productOffering.id",
                "realizingService.id", "realizingResource.id",
            ),
        ),
        CollectionSpec(
            "serviceOrder", TMF641, "so", "state", owned=True,
            indexes=(_PARTY, "serviceOrderItem.service.id"),
        ),
        CollectionSpec(
            "service", TMF638, "svc", "state", owned=True,
            indexes=(_PARTY, "supportingResource.id", "supportingService.id"),
        ),
        CollectionSpec(
            "resource", TMF639, "res", "resourceStatus", owned=True, indexes=(_PARTY,)
        ),
    )
}  # fmt: skip

_OWNER_ID = re.compile(
    "^(?:" + "|".join(s.id_prefix for s in COLLECTIONS.values() if s.owned) + r")-(\d+)(?:-|$)"
)


def owner_of(record_id: str) -> int | None:
    """The customer index a seeded id belongs to (``ba-000042-1`` -> 42), else None.

    Seeded ids carry their owner so a request scoped by any id or reference can materialize
    just that customer's records; ids minted by POST start with ``n`` and never match.
    """
    match = _OWNER_ID.match(record_id)
    return int(match.group(1)) if match else None
