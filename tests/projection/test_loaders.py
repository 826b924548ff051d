"""Loaders pass the operation's projection as ``fields=``, one set per resource, and never
serve a record cut to another operation's needs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from graph.loaders import Loaders
from graph.sources import ResourceSource, TmfClient

Record = dict[str, Any]


class Recording(ResourceSource[Record]):
    """A source whose records hold every attribute asked for (all if none is named), and
    which keeps the ``fields`` of every request."""

    def __init__(self, resource: str) -> None:
        super().__init__(cast(TmfClient, None), resource)
        self.asked: list[list[str] | None] = []

    def _record(self, record_id: str, fields: list[str] | None) -> Record:
        whole = {"id": record_id, "name": "n", "state": "s", "account": {"id": "a1"}}
        return {k: v for k, v in whole.items() if fields is None or k in fields or k == "id"}

    async def by_ids(
        self,
        ids: Sequence[str],
        fields: Iterable[str] | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> list[Record]:
        asked = list(fields) if fields is not None else None
        self.asked.append(asked)
        return [self._record(i, asked) for i in ids]

    async def by_ref(
        self,
        path: str,
        values: Sequence[str],
        fields: Iterable[str] | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> list[Record]:
        asked = list(fields) if fields is not None else None
        self.asked.append(asked)
        return [self._record(f"r-{v}", asked) for v in values]


async def test_without_a_projection_whole_records_are_asked_for() -> None:
    loaders, bills = Loaders(), Recording("customerBill")
    assert await loaders.by_id(bills).load("b1") == {
        "id": "b1", "name": "n", "state": "s", "account": {"id": "a1"},
    }  # fmt: skip
    assert bills.asked == [None]


async def test_one_request_per_resource_with_the_projected_attributes() -> None:
    loaders, bills, other = Loaders(), Recording("customerBill"), Recording("usage")
    loaders.project({"customerBill": frozenset({"id", "state"})})
    found = await loaders.by_id(bills).load_many(["b1", "b2"])
    assert found == [{"id": "b1", "state": "s"}, {"id": "b2", "state": "s"}]
    assert bills.asked == [["id", "state"]]
    await loaders.by_id(other).load("u1")
    assert other.asked == [None]  # a resource the projection does not name: whole


async def test_by_reference_adds_the_attribute_it_groups_by_and_primes_by_id() -> None:
    loaders, payments = Loaders(), Recording("payment")
    loaders.project({"payment": frozenset({"id", "name"})})
    grouped = await loaders.by_ref(payments, "account.id").load("a1")
    assert grouped == [{"id": "r-a1", "name": "n", "account": {"id": "a1"}}]
    assert payments.asked == [["account", "id", "name"]]
    assert await loaders.by_id(payments).load("r-a1") == grouped[0]
    assert len(payments.asked) == 1  # primed: no second request


async def test_a_later_operation_needing_more_gets_fresh_loaders() -> None:
    """One set of loaders serving several operations (a WebSocket connection)."""
    loaders, bills = Loaders(), Recording("customerBill")
    loaders.project({"customerBill": frozenset({"id", "state"})})
    assert await loaders.by_id(bills).load("b1") == {"id": "b1", "state": "s"}
    loaders.project({"customerBill": frozenset({"id", "name"})})
    assert await loaders.by_id(bills).load("b1") == {"id": "b1", "name": "n", "state": "s"}
    assert bills.asked == [["id", "state"], ["id", "name", "state"]]
    # A mutation (no projection): whole records from now on, never the cut ones.
    loaders.project(None)
    assert (await loaders.by_id(bills).load("b1") or {}).get("account") == {"id": "a1"}
    loaders.project({"customerBill": frozenset({"id"})})
    assert bills.asked[-1] is None


async def test_loaders_made_before_the_first_projection_stay_whole() -> None:
    loaders, bills, usage = Loaders(), Recording("customerBill"), Recording("usage")
    await loaders.by_id(bills).load("b1")
    loaders.project({"customerBill": frozenset({"id"}), "usage": frozenset({"id"})})
    await loaders.by_id(bills).load("b2")
    await loaders.by_id(usage).load("u1")
    assert bills.asked == [None, None]
    assert usage.asked == [None]


async def test_a_projection_that_adds_nothing_keeps_the_loaders_and_their_cache() -> None:
    loaders, bills = Loaders(), Recording("customerBill")
    loaders.project({"customerBill": frozenset({"id", "state"})})
    await loaders.by_id(bills).load("b1")
    loaders.project({"customerBill": frozenset({"state"})})
    await loaders.by_id(bills).load("b1")
    assert bills.asked == [["id", "state"]]
