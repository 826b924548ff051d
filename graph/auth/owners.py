"""Who owns records that do not name their customer: looked up after the request, for the
audit, so that an agent reading a person, a payment, a bill line or a service problem on its
own is recorded against the right customer."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from graph.sources import Sources
from graph.sources.paths import ids_at

__all__ = ["OwnerFinder"]


def _customers_of(records: Iterable[Mapping[str, Any]]) -> dict[str, set[str]]:
    """record id -> the customers its relatedParty names (role-agnostic, as scoping)."""
    owners: dict[str, set[str]] = {}
    for record in records:
        parties = record.get("relatedParty") or []
        parties = [parties] if isinstance(parties, Mapping) else parties
        named = {
            p["id"] for p in parties
            if isinstance(p, Mapping) and p.get("@referredType") == "Customer" and p.get("id")
        }  # fmt: skip
        owners[str(record.get("id"))] = named
    return owners


class OwnerFinder:
    """Backend lookups from a record kind to its customers, one batched request per step."""

    def __init__(self, sources: Sources) -> None:
        self.sources = sources

    async def owners(self, unattributed: Mapping[str, set[str]]) -> dict[str, dict[str, set[str]]]:
        """customer id -> {resource: ids} for the records that could be attributed."""
        found: dict[str, dict[str, set[str]]] = {}

        def add(resource: str, record_id: str, customers: Iterable[str]) -> None:
            for customer in customers:
                found.setdefault(customer, {}).setdefault(resource, set()).add(record_id)

        people = sorted(unattributed.get("individual", ()))
        if people:
            for customer in await self.sources.customer.by_ref("engagedParty.id", people):
                for person in ids_at(customer, "engagedParty.id") & set(people):
                    add("individual", person, [customer["id"]])
        for resource, source, path in (
            ("payment", self.sources.payment, "account.id"),
            ("appliedCustomerBillingRate", self.sources.bill_rate, "billingAccount.id"),
        ):
            ids = sorted(unattributed.get(resource, ()))
            if not ids:
                continue
            records = await source.by_ids(ids)
            accounts = {r["id"]: ids_at(r, path) for r in records}
            account_ids = sorted({a for linked in accounts.values() for a in linked})
            account_owners = _customers_of(await self.sources.billing_account.by_ids(account_ids))
            for record_id, linked in accounts.items():
                add(resource, record_id, {c for a in linked for c in account_owners.get(a, ())})
        problems = sorted(unattributed.get("serviceProblem", ()))
        if problems:
            found_problems = await self.sources.service_problem.by_ids(problems)
            services = {r["id"]: ids_at(r, "affectedService.id") for r in found_problems}
            service_ids = sorted({s for linked in services.values() for s in linked})
            service_owners = _customers_of(await self.sources.service.by_ids(service_ids))
            for record_id, linked in services.items():
                add(
                    "serviceProblem", record_id,
                    {c for s in linked for c in service_owners.get(s, ())},
                )  # fmt: skip
        return found
