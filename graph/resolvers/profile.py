"""Keeping contact details current: the e-mail address, phone number and postal address of the
person behind a customer (TMF632 Individual ``contactMedium``).

The details come checked and normalized by :mod:`graph.actions.contact` (the rules registration
uses too). A change replaces the medium of its kind (and contact type, when one is given) and
keeps all others; as a JSON merge patch replaces arrays, the whole list is sent. The same
details again write nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from graph.actions import ActionRefused, Actor, Done, ProblemCode, Touched, contact
from graph.sources.crm import Individual

__all__ = ["UpdateContactMedium", "update_contact_medium"]


@dataclass(frozen=True, slots=True)
class UpdateContactMedium:
    email: contact.Email | None
    phone: contact.Phone | None
    address: contact.PostalAddress | None

    def changes(self) -> list[contact.Medium]:
        return [m for m in (self.email, self.phone, self.address) if m is not None]


async def _person(actor: Actor) -> Individual:
    customer = await actor.loaders.by_id(actor.sources.customer).load(actor.customer_id)
    party = ((customer or {}).get("engagedParty") or {}).get("id")
    person = await actor.loaders.by_id(actor.sources.individual).load(party) if party else None
    if person is None:
        raise ActionRefused.one(
            ProblemCode.NOT_FOUND, "There is no person on record for this customer.", "customer"
        )
    return person


async def update_contact_medium(actor: Actor, request: UpdateContactMedium) -> Done:
    changes = request.changes()
    if not changes:
        raise ActionRefused.one(
            ProblemCode.INVALID_INPUT, "Give at least one of email, phone or postalAddress."
        )
    person = await _person(actor)
    before = [dict(m) for m in person.get("contactMedium") or []]
    media = before
    for medium in changes:
        media = contact.replace_medium(media, medium)
    what = " and ".join(contact.what(medium) for medium in changes)
    if media == before:
        return Done(outcome={"person": person["id"]}, summary=f"confirmed their {what}")
    await actor.sources.individual.patch(person["id"], {"contactMedium": media})
    return Done(
        outcome={"person": person["id"]},
        summary=f"changed their {what}",
        touched=[Touched("individual", person["id"], "contact details changed")],
    )
