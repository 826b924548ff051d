"""Contact-detail inputs, defined once for every action that takes them (``registerCustomer``,
``updateContactMedium``): a field means the same thing, and is checked by the same rules
(:mod:`graph.actions.contact`), wherever it is given."""

from __future__ import annotations

import strawberry

from graph.actions import contact

__all__ = ["EmailInput", "PhoneInput", "PostalAddressInput"]

_CONTACT_TYPE = (
    "Which one of its kind, e.g. home, work, mobile (a new medium defaults to email, mobile "
    "or home). A change replaces the medium of that contact type (or adds it); without one, "
    "the preferred (else the first) medium of its kind."
)


@strawberry.input(description="An e-mail address.")
class EmailInput:
    address: str = strawberry.field(
        description="The address, e.g. name@example.com (at most 254 characters); the domain "
        "is stored in lower case."
    )
    contact_type: str | None = strawberry.field(default=None, description=_CONTACT_TYPE)


@strawberry.input(description="A phone number.")
class PhoneInput:
    number: str = strawberry.field(
        description="The number, international (+49 151 23456789, 0049...) or, with `country`, "
        "national (0151 23456789); stored in E.164 (+4915123456789)."
    )
    country: str | None = strawberry.field(
        default=None,
        description="Country (ISO 3166-1 alpha-2) of a number given in national form; "
        "default: the country of `postalAddress`, if given.",
    )
    contact_type: str | None = strawberry.field(default=None, description=_CONTACT_TYPE)


@strawberry.input(description="A postal address.")
class PostalAddressInput:
    street1: str = strawberry.field(description="Street and number (at most 100 characters).")
    street2: str | None = strawberry.field(
        default=None, description="Additional address line (at most 100 characters)."
    )
    post_code: str = strawberry.field(
        description="Postal code, in the country's format where it is known (e.g. DE 10115, "
        "NL 1012 AB, GB SW1A 1AA, US 94105)."
    )
    city: str = strawberry.field(description="City (at most 80 characters).")
    state_or_province: str | None = strawberry.field(
        default=None, description="State or province; required in the US."
    )
    country: str = strawberry.field(description="Country: ISO 3166-1 alpha-2 code, e.g. DE.")
    contact_type: str | None = strawberry.field(default=None, description=_CONTACT_TYPE)

    def given(self) -> contact.PostalAddress:
        """The address as it was given, to be checked (:func:`contact.postal_address`)."""
        return contact.PostalAddress(
            street1=self.street1,
            street2=self.street2,
            post_code=self.post_code,
            city=self.city,
            state_or_province=self.state_or_province,
            country=self.country,
            contact_type=self.contact_type,
        )
