"""Customers and the people behind them."""

from __future__ import annotations

import re
from typing import Final

from graph.auth import Role
from graph.context import Info
from graph.errors import Code, GraphError
from graph.sources.crm import Customer, Individual

__all__ = ["customer_by_id", "customers_page", "me", "person_of", "search_customers"]

_CUSTOMER_ID: Final = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_PHONE: Final = re.compile(r"^\+?[0-9 ()/-]{6,20}$")
MAX_SEARCH: Final = 200


async def me(info: Info) -> Customer:
    """The principal's customer (the field's permission guarantees a customer principal)."""
    ctx = info.context
    customer_id = ctx.principal.customer_id
    if customer_id is None:
        raise GraphError("This principal is not bound to a customer.", Code.FORBIDDEN)
    record = await ctx.loaders.by_id(ctx.sources.customer).load(customer_id)
    if record is None:
        raise GraphError("Customer not found.", Code.NOT_FOUND)
    return record


async def customer_by_id(info: Info, customer_id: str) -> Customer:
    ctx = info.context
    record = await ctx.loaders.by_id(ctx.sources.customer).load(customer_id)
    if record is None:
        raise GraphError("Customer not found.", Code.NOT_FOUND)
    return record


async def customers_page(info: Info, offset: int, limit: int) -> tuple[list[Customer], int]:
    """One page of all customers, paged at the CRM (a list of every customer would be read --
    and, for agents, recorded as viewed -- in full otherwise)."""
    return await info.context.sources.customer.page({}, offset, limit)


async def search_customers(info: Info, search: str | None) -> list[Customer]:
    """Customers matching ``search``: a customer id, an e-mail address, a phone number, or an
    exact full or family name."""
    ctx = info.context
    sources = ctx.sources
    text = (search or "").strip()
    if not text:
        raise GraphError("`search` must not be empty.", Code.BAD_USER_INPUT)
    if ctx.principal.role is Role.ANALYST:
        # Analysts see personal data masked; finding a customer by e-mail, phone or name
        # would undo that. They look customers up by CRM reference only.
        if not _CUSTOMER_ID.match(text):
            return []
        record = await ctx.loaders.by_id(sources.customer).load(text)
        return [record] if record else []
    if len(text) > 100:
        raise GraphError("`search` is at most 100 characters.", Code.BAD_USER_INPUT)
    people: list[Individual]
    if "@" in text:
        people = await sources.individual.search(
            {"contactMedium.characteristic.emailAddress": text}
        )
    elif _PHONE.match(text):
        number = re.sub(r"[ ()/-]", "", text)
        people = await sources.individual.search(
            {"contactMedium.characteristic.phoneNumber": number}
        )
    else:
        found: dict[str, Customer] = {}
        if _CUSTOMER_ID.match(text):
            by_id = await ctx.loaders.by_id(sources.customer).load(text)
            if by_id is not None:
                found[by_id["id"]] = by_id
        for record in await sources.customer.search({"name": text}):
            found.setdefault(record["id"], record)
        people = await sources.individual.search({"familyName": text})
        for record in await sources.customer.by_ref("engagedParty.id", [p["id"] for p in people]):
            found.setdefault(record["id"], record)
        return list(found.values())[:MAX_SEARCH]
    records = await sources.customer.by_ref("engagedParty.id", [p["id"] for p in people])
    return records[:MAX_SEARCH]


async def person_of(info: Info, customer: Customer) -> Individual | None:
    party = customer.get("engagedParty") or {}
    if not party.get("id"):
        return None
    ctx = info.context
    return await ctx.loaders.by_id(ctx.sources.individual).load(party["id"])
