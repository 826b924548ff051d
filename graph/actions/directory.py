"""Who holds an e-mail address: the one question an action may ask about other people.

An e-mail address identifies a person: registration refuses one that somebody has already
(``ALREADY_REGISTERED``), and a change of contact details must not take another person's. A
customer's own sources see only their own person (:mod:`graph.auth.scope`), so the question
goes to :class:`PeopleDirectory`, which searches every TMF632 individual -- the raw source,
wired into the request's context for customers, agents and anonymous callers alike -- and
answers with ids only: never a name, a medium or anything else of another person's.

Registering an address and changing to one also take turns on the address (a turn of
:class:`~graph.actions.records.RecordLocks` on ``email`` :func:`address_id`), so two people
cannot take it at the same moment.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

from graph.context import Info
from graph.sources import ResourceSource

__all__ = ["EMAIL_FIELD", "PeopleDirectory", "address_id", "people"]

EMAIL_FIELD: Final = "contactMedium.characteristic.emailAddress"


class PeopleDirectory:
    def __init__(self, individuals: ResourceSource[Any]) -> None:
        self._individuals = individuals  # raw: every person, never handed out

    async def holders(self, email: str) -> list[str]:
        """The ids of the people with ``email`` (in lower case, as the gateway stores it)."""
        found = await self._individuals.search({EMAIL_FIELD: email}, ["id"])
        return [str(record["id"]) for record in found]

    async def holder_of(self, email: str, *, other_than: str | None = None) -> str | None:
        """The id of a person with ``email`` other than ``other_than``; None if nobody else."""
        return next((h for h in await self.holders(email) if h != other_than), None)


def address_id(address: str) -> str:
    """What stands for an e-mail address in the idempotency store (never the address)."""
    return hashlib.sha256(address.encode()).hexdigest()


def people(info: Info) -> PeopleDirectory:
    """The request's directory (``Context.people``, set for every request)."""
    directory = info.context.people
    if directory is None:
        raise RuntimeError("the request's context has no people directory")
    return directory
