"""Keeping contact details current: the e-mail address, phone number and postal address of the
person behind a customer (TMF632 Individual ``contactMedium``).

The details come checked and normalized by :mod:`graph.actions.contact` (the rules registration
uses too). A change replaces the medium of its kind (and contact type, when one is given) and
keeps all others; as a JSON merge patch replaces arrays, the whole list is sent -- so the
gateway's writers of one person take turns (:class:`~graph.actions.records.RecordLocks`), each
reading the media afresh in its turn and reading back afterwards that its change is there. The
same details again write nothing.

An e-mail address identifies a person (registration refuses one already held): a change to an
address that another person holds is refused with ``ALREADY_REGISTERED``
(:class:`~graph.actions.directory.PeopleDirectory`), and changes to an address take turns with
registrations of it, so two people cannot take it at the same moment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from graph.actions import ActionRefused, Actor, Done, ProblemCode, Touched, contact
from graph.actions.directory import PeopleDirectory, address_id
from graph.actions.records import RecordLocks, lost_write
from graph.sources.crm import Individual

__all__ = ["UpdateContactMedium", "update_contact_medium"]


@dataclass(frozen=True, slots=True)
class UpdateContactMedium:
    email: contact.Email | None
    phone: contact.Phone | None
    address: contact.PostalAddress | None

    def changes(self) -> list[contact.Medium]:
        return [m for m in (self.email, self.phone, self.address) if m is not None]


def _not_found() -> ActionRefused:
    return ActionRefused.one(
        ProblemCode.NOT_FOUND, "There is no person on record for this customer.", "customer"
    )


async def _person_id(actor: Actor) -> str:
    customer = await actor.loaders.by_id(actor.sources.customer).load(actor.customer_id)
    party = ((customer or {}).get("engagedParty") or {}).get("id")
    if not isinstance(party, str):
        raise _not_found()
    return party


def _holds(media: Sequence[Mapping[str, Any]], medium: contact.Medium) -> bool:
    """Whether ``media`` hold ``medium`` (its kind, and every part of it as given)."""
    wanted = contact.characteristic(medium)
    return any(
        str(m.get("mediumType") or "").lower() == contact.medium_type(medium).lower()
        and wanted.items() <= dict(m.get("characteristic") or {}).items()
        for m in media
    )


async def update_contact_medium(
    actor: Actor, request: UpdateContactMedium, locks: RecordLocks, people: PeopleDirectory
) -> Done:
    changes = request.changes()
    if not changes:
        raise ActionRefused.one(
            ProblemCode.INVALID_INPUT, "Give at least one of email, phone or postalAddress."
        )
    person_id = await _person_id(actor)
    what = " and ".join(contact.what(medium) for medium in changes)
    async with AsyncExitStack() as turns:
        if request.email is not None:  # first the address, then the person: always this order
            address = address_id(request.email.address)
            await turns.enter_async_context(locks.turn("email", address, "email", "address"))
        await turns.enter_async_context(locks.turn("individual", person_id, "customer"))
        person = await _fresh(actor, person_id)
        before = [dict(m) for m in person.get("contactMedium") or []]
        if request.email is not None and not _holds(before, request.email):
            await _not_anothers(people, request.email, person_id)
        media = before
        for medium in changes:
            media = contact.replace_medium(media, medium)
        if media == before:
            return Done(outcome={"person": person_id}, summary=f"confirmed their {what}")
        await actor.sources.individual.patch(person_id, {"contactMedium": media})
        after = (await _fresh(actor, person_id)).get("contactMedium") or []
        if not all(_holds(after, medium) for medium in changes):
            raise lost_write(f"The change of your {what}", "your record")
    return Done(
        outcome={"person": person_id},
        summary=f"changed their {what}",
        touched=[Touched("individual", person_id, "contact details changed")],
    )


async def _fresh(actor: Actor, person_id: str) -> Individual:
    """The person as now stored (read in the writer's turn: not from the request's loaders)."""
    person = await actor.sources.individual.get(person_id)
    if person is None:
        raise _not_found()
    return person


async def _not_anothers(people: PeopleDirectory, email: contact.Email, person_id: str) -> None:
    if await people.holder_of(email.address, other_than=person_id) is not None:
        raise ActionRefused.one(
            ProblemCode.ALREADY_REGISTERED,
            "Another person is registered with this e-mail address; give one of your own.",
            "email",
            "address",
        )
