"""Profile actions: keeping one's contact details current (TMF632 Individual contactMedium)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from graph.actions import ActionRefused, ProblemCode, contact
from graph.actions.directory import people
from graph.actions.records import record_locks
from graph.auth.permissions import CanAct
from graph.context import Info
from graph.resolvers import profile

from .contact_inputs import EmailInput, PhoneInput, PostalAddressInput
from .customer import Person
from .payloads import ASSISTED_CUSTOMER, UserError, act, reloaded, respond

__all__ = [
    "ProfileActions",
    "UpdateContactMediumInput",
    "UpdateContactMediumPayload",
]


@strawberry.input(
    description="New contact details: at least one of e-mail, phone and postal address."
)
class UpdateContactMediumInput:
    email: EmailInput | None = strawberry.field(default=None, description="A new e-mail address.")
    phone: PhoneInput | None = strawberry.field(default=None, description="A new phone number.")
    postal_address: PostalAddressInput | None = strawberry.field(
        default=None, description="A new postal address."
    )
    customer: strawberry.ID | None = strawberry.field(default=None, description=ASSISTED_CUSTOMER)


@strawberry.type(description="The result of `updateContactMedium`.")
class UpdateContactMediumPayload:
    person: Person | None = strawberry.field(
        default=None, description="The person, with the contact details as they now are."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing was changed; empty on success."
    )


def _request(given: UpdateContactMediumInput) -> profile.UpdateContactMedium:
    """Every medium checked, every problem reported at once."""
    problems = contact.Problems()
    email = phone = address = None
    if (e := given.email) is not None:
        email = contact.email(e.address, problems, "email", "address", contact_type=e.contact_type)
    if (a := given.postal_address) is not None:
        address = contact.postal_address(a.given(), problems, "postalAddress")
    if (p := given.phone) is not None:
        phone = contact.phone(
            p.number,
            problems,
            "phone",
            "number",
            country=p.country,
            default_country=a.country if a is not None else None,
            contact_type=p.contact_type,
        )
    problems.raise_any()
    if email is None and phone is None and address is None:
        raise ActionRefused.one(
            ProblemCode.INVALID_INPUT, "Give at least one of email, phone or postalAddress."
        )
    return profile.UpdateContactMedium(email=email, phone=phone, address=address)


async def _update(info: Info, given: UpdateContactMediumInput) -> UpdateContactMediumPayload:
    request = _request(given)
    locks, directory = record_locks(info), people(info)
    actor, outcome = await act(
        info,
        given.customer,
        "updateContactMedium",
        lambda actor: profile.update_contact_medium(actor, request, locks, directory),
    )
    return UpdateContactMediumPayload(
        person=await reloaded(
            actor, actor.sources.individual, outcome["person"], Person.from_record
        )
    )


@strawberry.type
class ProfileActions:
    @strawberry.mutation(
        description=(
            "Change the e-mail address, phone number or postal address of the person behind a "
            "customer (TMF632). Each is validated (INVALID_EMAIL, INVALID_PHONE, "
            "INVALID_ADDRESS, with the field) and replaces the medium of its kind and contact "
            "type; the others stay. An e-mail address another person has is refused "
            "(ALREADY_REGISTERED). Permission: the customer, or an agent assisting them; "
            "needs a full sign-in."
        ),
        permission_classes=[CanAct],
    )
    async def update_contact_medium(
        self,
        info: Info,
        input: Annotated[
            UpdateContactMediumInput, strawberry.argument(description="The new details.")
        ],
    ) -> UpdateContactMediumPayload:
        return await respond(UpdateContactMediumPayload, _update(info, input))
