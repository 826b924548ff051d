"""The contact-detail rules that registering and changing one's details share: what each check
accepts and how it normalizes it, what it refuses (code and field path), and how the details
become TMF632 contact media."""

from __future__ import annotations

import datetime
from dataclasses import replace
from typing import Any

import pytest

from graph.actions import Problem, contact
from graph.actions.checks import contains_card_number

CARD_NUMBER = "4111111111111111"
TODAY = datetime.date(2026, 11, 26)


def address(**parts: Any) -> contact.PostalAddress:
    """A valid German address, with ``parts`` replaced (as given, not yet checked)."""
    given: dict[str, Any] = {
        "street1": "Kaiser-Joseph-Straße 1",
        "street2": None,
        "post_code": "79098",
        "city": "Freiburg im Breisgau",
        "state_or_province": None,
        "country": "DE",
        "contact_type": None,
        **parts,
    }
    return contact.PostalAddress(**given)


def codes(problems: list[Problem]) -> list[tuple[str, tuple[str, ...]]]:
    return [(p.code.value, p.field) for p in problems]


def with_postcode(
    country: str, post_code: str, problems: list[Problem]
) -> contact.PostalAddress | None:
    """A valid address in ``country`` (a US one with its state), with ``post_code``."""
    state = "CA" if country == "US" else None
    given = address(country=country, post_code=post_code, state_or_province=state)
    return contact.postal_address(given, problems, "postalAddress")


# -- e-mail addresses ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (" Marlene.Weber+Home@Example.ORG ", "marlene.weber+home@example.org"),
        ("a@example.com.", "a@example.com"),  # the root's dot dropped
        ("o'hara!#$%&*/=?^_`{|}~-@sub.example.co.uk", "o'hara!#$%&*/=?^_`{|}~-@sub.example.co.uk"),
        ("a@example.xn--p1ai", "a@example.xn--p1ai"),  # an internationalized top-level domain
        (f"{'a' * 64}@example.com", f"{'a' * 64}@example.com"),
    ],
)
def test_an_email_address_is_accepted_in_lower_case(given: str, stored: str) -> None:
    problems: list[Problem] = []
    assert contact.email(given, problems, "email", "address") == contact.Email(stored)
    assert problems == []


def test_an_email_address_is_all_lower_case() -> None:
    problems: list[Problem] = []
    found = contact.email("Ada.Lovelace@Example.org", problems, "email")
    assert found == contact.Email("ada.lovelace@example.org")


@pytest.mark.parametrize(
    "given",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("no-at-sign.example.com", id="no @"),
        pytest.param("@example.com", id="no local part"),
        pytest.param("marlene@@example", id="two @"),
        pytest.param("a..b@example.com", id="double dot"),
        pytest.param(".ab@example.com", id="leading dot"),
        pytest.param("ab.@example.com", id="trailing dot"),
        pytest.param("a b@example.com", id="space"),
        pytest.param('"ab"@example.com', id="quotes"),
        pytest.param("ab@localhost", id="no domain"),
        pytest.param("ab@-bad.example.com", id="label starts with -"),
        pytest.param("ab@exa_mple.com", id="underscore in domain"),
        pytest.param("ab@example.c0m", id="digit in top-level domain"),
        pytest.param("ab@example.c", id="one-letter top-level domain"),
        pytest.param(f"{'a' * 65}@example.com", id="local part > 64"),
        pytest.param(f"a@{'b' * 64}.com", id="label > 63"),
        pytest.param(f"a@{'b' * 63}.{'c' * 63}.{'d' * 63}.{'e' * 63}.com", id="> 254"),
        pytest.param("a\n@example.com", id="line break"),
    ],
)
def test_a_bad_email_address_is_refused(given: str) -> None:
    problems: list[Problem] = []
    assert contact.email(given, problems, "email", "address") is None
    assert codes(problems) == [("INVALID_EMAIL", ("email", "address"))]


def test_an_email_problem_names_the_field_it_is_given_in() -> None:
    problems: list[Problem] = []
    assert contact.email("nope", problems, "email") is None
    assert codes(problems) == [("INVALID_EMAIL", ("email",))]


def test_an_email_contact_type_is_a_short_word_beside_the_address() -> None:
    problems: list[Problem] = []
    kept = contact.email("a@example.com", problems, "email", "address", contact_type=" work ")
    assert kept == contact.Email("a@example.com", "work")
    refused = contact.email("a@example.com", problems, "email", "address", contact_type="w; x")
    assert refused is None
    assert codes(problems) == [("INVALID_EMAIL", ("email", "contactType"))]


# -- phone numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "country", "stored"),
    [
        ("+49 (151) 234-567-89", None, "+4915123456789"),
        ("0049 151 23456789", None, "+4915123456789"),
        ("+44.20.7946.0018", "DE", "+442079460018"),  # international: the country is not used
        ("0151 23456789", "DE", "+4915123456789"),
        ("0151/23456789", "de", "+4915123456789"),
        ("0664 1234567", "AT", "+436641234567"),
        ("044 668 18 00", "CH", "+41446681800"),
        ("01 23 45 67 89", "FR", "+33123456789"),
        ("06 12345678", "NL", "+31612345678"),
        ("06 69812345", "IT", "+390669812345"),  # Italy keeps its 0
        ("612 345 678", "ES", "+34612345678"),  # no trunk prefix
        ("32 12 34 56", "DK", "+4532123456"),
        ("020 7946 0018", "GB", "+442079460018"),
        ("(415) 555-0100", "US", "+14155550100"),
        ("1 415 555 0100", "US", "+14155550100"),  # the NANP trunk 1
        ("416 555 0100", "CA", "+14165550100"),
    ],
)
def test_a_phone_number_is_stored_in_e164(given: str, country: str | None, stored: str) -> None:
    problems: list[Problem] = []
    found = contact.phone(given, problems, "phone", "number", country=country)
    assert found == contact.Phone(stored)
    assert problems == []


def test_a_national_number_is_read_in_the_default_country_unless_one_is_given() -> None:
    problems: list[Problem] = []
    assert contact.phone("06 12345678", problems, "phone", default_country="nl") == contact.Phone(
        "+31612345678"
    )
    assert contact.phone(
        "0151 23456789", problems, "phone", country="DE", default_country="NL"
    ) == contact.Phone("+4915123456789")
    assert problems == []


@pytest.mark.parametrize(
    ("given", "country", "default"),
    [
        pytest.param("", None, None, id="empty"),
        pytest.param("0151 23456789", None, None, id="national without country"),
        pytest.param("0151 23456789", None, "DEU", id="default country not a code"),
        pytest.param("03-1234-5678", "JP", None, id="national in a country not known"),
        pytest.param("0612 345 678", "ES", None, id="trunk 0 where there is none"),
        pytest.param("+49 151", None, None, id="7 digits"),
        pytest.param("+49 151 2345 6789 0123", None, None, id="16 digits"),
        pytest.param("+4915x23456789", None, None, id="letters"),
        pytest.param("+0151234567", None, None, id="country code 0"),
        pytest.param("+", None, None, id="plus alone"),
        pytest.param("0151 12", "DE", None, id="too short, national"),
    ],
)
def test_a_bad_phone_number_is_refused(
    given: str, country: str | None, default: str | None
) -> None:
    problems: list[Problem] = []
    found = contact.phone(
        given, problems, "phone", "number", country=country, default_country=default
    )
    assert found is None
    assert codes(problems) == [("INVALID_PHONE", ("phone", "number"))]


def test_a_phone_country_that_is_no_iso_code_is_refused_beside_the_number() -> None:
    problems: list[Problem] = []
    assert contact.phone("0151 23456789", problems, "phone", "number", country="ZZ") is None
    assert codes(problems) == [("INVALID_PHONE", ("phone", "country"))]


def test_a_phone_contact_type_is_kept_or_refused() -> None:
    problems: list[Problem] = []
    found = contact.phone("+43 664 1234567", problems, "phone", "number", contact_type="work")
    assert found == contact.Phone("+436641234567", "work")
    assert contact.phone("+43 664 1234567", problems, "phone", "number", contact_type="1") is None
    assert codes(problems) == [("INVALID_PHONE", ("phone", "contactType"))]


# -- postal addresses ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "given", "stored"),
    [
        ("DE", "79098", "79098"),
        ("AT", "1010", "1010"),
        ("CH", "8001", "8001"),
        ("LI", "9490", "9490"),
        ("FR", "75001", "75001"),
        ("MC", "98000", "98000"),
        ("NL", "1012lg", "1012 LG"),
        ("NL", "1012  ab", "1012 AB"),
        ("BE", "1000", "1000"),
        ("LU", "1009", "1009"),
        ("DK", "1050", "1050"),
        ("IT", "00118", "00118"),
        ("ES", "28001", "28001"),
        ("PL", "00-001", "00-001"),
        ("SE", "11122", "111 22"),
        ("PT", "1000-001", "1000-001"),
        ("GB", "sw1a1aa", "SW1A 1AA"),
        ("GB", "M1 1AE", "M1 1AE"),
        ("US", "94105-1234", "94105-1234"),
        ("JP", "100-0001", "100-0001"),  # no known format: letters, digits, spaces, hyphens
        ("CA", "k1a 0b1", "K1A 0B1"),
    ],
)
def test_a_postcode_is_stored_in_its_countrys_format(country: str, given: str, stored: str) -> None:
    problems: list[Problem] = []
    found = with_postcode(country, given, problems)
    assert problems == []
    assert found is not None
    assert found.post_code == stored


@pytest.mark.parametrize(
    ("country", "given"),
    [
        ("DE", "7910"),
        ("DE", "791000"),
        ("AT", "123"),
        ("CH", "80001"),
        ("LI", "9500"),
        ("FR", "7500"),
        ("MC", "97000"),
        ("NL", "0123 AB"),
        ("NL", "1012"),
        ("BE", "0999"),
        ("ES", "53001"),
        ("PL", "00001"),
        ("SE", "1112"),
        ("PT", "1000"),
        ("GB", "SW1A"),
        ("US", "9410"),
        ("JP", "#1"),
        ("JP", "-100"),
        ("DE", "   "),
        ("DE", "1234567890123"),  # over 12 characters
    ],
)
def test_a_postcode_not_of_its_country_is_refused(country: str, given: str) -> None:
    problems: list[Problem] = []
    assert with_postcode(country, given, problems) is None
    assert codes(problems) == [("INVALID_ADDRESS", ("postalAddress", "postCode"))]


def test_an_address_is_normalized() -> None:
    problems: list[Problem] = []
    given = address(street1=" Damrak  1 ", street2="  ", city="Amsterdam", contact_type="work")
    found = contact.postal_address(replace(given, country=" nl ", post_code="1012lg"), problems)
    assert problems == []
    assert found == contact.PostalAddress(
        "Damrak 1", None, "1012 LG", "Amsterdam", None, "NL", "work"
    )


@pytest.mark.parametrize(
    ("parts", "code", "field"),
    [
        pytest.param({"street1": ""}, "INVALID_ADDRESS", "street1", id="street1 missing"),
        pytest.param({"street1": "x" * 101}, "INVALID_ADDRESS", "street1", id="street1 long"),
        pytest.param({"street1": "A 1\nB 2"}, "INVALID_ADDRESS", "street1", id="line break"),
        pytest.param({"street2": "x" * 101}, "INVALID_ADDRESS", "street2", id="street2 long"),
        pytest.param({"city": " "}, "INVALID_ADDRESS", "city", id="city missing"),
        pytest.param({"city": "x" * 81}, "INVALID_ADDRESS", "city", id="city > 80"),
        pytest.param(
            {"state_or_province": "x" * 81}, "INVALID_ADDRESS", "stateOrProvince", id="state"
        ),
        pytest.param({"country": "XX"}, "INVALID_ADDRESS", "country", id="not assigned"),
        pytest.param({"country": "DEU"}, "INVALID_ADDRESS", "country", id="alpha-3"),
        pytest.param(
            {"country": "US", "post_code": "94105"},
            "INVALID_ADDRESS",
            "stateOrProvince",
            id="US without a state",
        ),
        pytest.param({"contact_type": "-x"}, "INVALID_ADDRESS", "contactType", id="contact type"),
        pytest.param(
            {"street1": f"Card {CARD_NUMBER}"}, "CARD_NUMBER_REFUSED", "street1", id="card"
        ),
        pytest.param(
            {"city": "4111 1111 1111 1111"}, "CARD_NUMBER_REFUSED", "city", id="card in city"
        ),
    ],
)
def test_a_bad_part_of_an_address_is_refused(parts: dict[str, Any], code: str, field: str) -> None:
    problems: list[Problem] = []
    assert contact.postal_address(address(**parts), problems, "postalAddress") is None
    assert codes(problems) == [(code, ("postalAddress", field))]


def test_every_problem_of_an_address_is_reported_at_once() -> None:
    problems: list[Problem] = []
    given = address(street1="", post_code="!", city="x" * 81, country="DEU")
    assert contact.postal_address(given, problems, "postalAddress") is None
    assert codes(problems) == [
        ("INVALID_ADDRESS", ("postalAddress", "country")),
        ("INVALID_ADDRESS", ("postalAddress", "street1")),
        ("INVALID_ADDRESS", ("postalAddress", "city")),
        ("INVALID_ADDRESS", ("postalAddress", "postCode")),
    ]


def test_the_countries_are_iso_3166() -> None:
    assert len(contact.COUNTRIES) == 249
    assert {"DE", "AX", "SS", "XK"} & contact.COUNTRIES == {"DE", "AX", "SS"}


# -- names and dates of birth -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        (" Ada ", "Ada"),
        ("Lovelace-Byron", "Lovelace-Byron"),
        ("O'Brien", "O'Brien"),
        ("O\u2019Brien", "O\u2019Brien"),
        ("José María", "José María"),
        ("Zoë", "Zoë"),
        ("Владимир", "Владимир"),
        ("李", "李"),
        ("J. R. R.", "J. R. R."),
        ("x" * 100, "x" * 100),
    ],
)
def test_a_name_is_letters_with_separators(given: str, kept: str) -> None:
    problems: list[Problem] = []
    assert contact.person_name(given, problems, "givenName") == kept
    assert problems == []


@pytest.mark.parametrize(
    ("given", "code"),
    [
        pytest.param("", "INVALID_INPUT", id="empty"),
        pytest.param("  ", "INVALID_INPUT", id="blank"),
        pytest.param("R2D2", "INVALID_INPUT", id="digits"),
        pytest.param("-Ada", "INVALID_INPUT", id="leading hyphen"),
        pytest.param("Ada_", "INVALID_INPUT", id="underscore"),
        pytest.param("Ada\tLove", "INVALID_INPUT", id="tab"),
        pytest.param("Ada\x00", "INVALID_INPUT", id="control character"),
        pytest.param("Ada <script>", "INVALID_INPUT", id="markup"),
        pytest.param("x" * 101, "TOO_LONG", id="too long"),
        pytest.param(f"Ada {CARD_NUMBER}", "CARD_NUMBER_REFUSED", id="card number"),
    ],
)
def test_a_bad_name_is_refused(given: str, code: str) -> None:
    problems: list[Problem] = []
    assert contact.person_name(given, problems, "familyName") is None
    assert codes(problems) == [(code, ("familyName",))]


@pytest.mark.parametrize(
    "born",
    [
        pytest.param(datetime.date(2008, 11, 26), id="18 today"),
        pytest.param(datetime.date(1990, 12, 10), id="adult"),
        pytest.param(datetime.date(1896, 11, 26), id="130"),
    ],
)
def test_a_customer_is_an_adult(born: datetime.date) -> None:
    problems: list[Problem] = []
    assert contact.birth_date(born, problems, "birthDate", today=TODAY) == born
    assert problems == []


@pytest.mark.parametrize(
    ("born", "message"),
    [
        pytest.param(datetime.date(2008, 11, 27), "Customers are 18 or older.", id="17"),
        pytest.param(datetime.date(2026, 11, 26), "Customers are 18 or older.", id="born today"),
        pytest.param(datetime.date(2026, 11, 27), "Not a possible date of birth.", id="future"),
        pytest.param(datetime.date(1895, 11, 26), "Not a possible date of birth.", id="131"),
    ],
)
def test_a_minor_or_an_impossible_birth_date_is_refused(born: datetime.date, message: str) -> None:
    problems: list[Problem] = []
    assert contact.birth_date(born, problems, "birthDate", today=TODAY) is None
    assert [(p.code.value, p.message, p.field) for p in problems] == [
        ("INVALID_INPUT", message, ("birthDate",))
    ]
    assert contact.MIN_AGE == 18


# -- card numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "check",
    [
        pytest.param(lambda p: contact.email(f"{CARD_NUMBER}@example.com", p, "email"), id="email"),
        pytest.param(lambda p: contact.person_name(CARD_NUMBER, p, "givenName"), id="name"),
        pytest.param(
            lambda p: contact.postal_address(
                address(street2=f"c/o {CARD_NUMBER[:4]} {CARD_NUMBER[4:]}"), p, "postalAddress"
            ),
            id="street2",
        ),
    ],
)
def test_a_card_number_is_refused_in_every_text_and_never_echoed(check: Any) -> None:
    problems: list[Problem] = []
    assert check(problems) is None
    assert [p.code.value for p in problems] == ["CARD_NUMBER_REFUSED"]
    assert "4111" not in " ".join(p.message for p in problems)


def test_a_phone_number_that_passes_luhn_is_still_a_phone_number() -> None:
    problems: list[Problem] = []
    # It passes the Luhn check, as about one phone number in ten does, but no card network
    # issues 13-digit numbers: it is not taken for a card.
    assert not contains_card_number("4915123456787")
    assert contact.phone("+49 151 23456787", problems, "phone") == contact.Phone("+4915123456787")
    assert problems == []


# -- as TMF632 contact media --------------------------------------------------------------------

EMAIL = contact.Email("ada@example.org")
PHONE = contact.Phone("+4915123456789")
HOME = contact.PostalAddress("Analytical Lane 1", None, "10115", "Berlin", None, "DE")


def test_a_new_medium_has_the_crms_shape_and_default_contact_types() -> None:
    assert contact.new_medium(EMAIL, preferred=True) == {
        "mediumType": "email",
        "preferred": True,
        "characteristic": {"contactType": "email", "emailAddress": "ada@example.org"},
    }
    assert contact.new_medium(PHONE) == {
        "mediumType": "phone",
        "preferred": False,
        "characteristic": {"contactType": "mobile", "phoneNumber": "+4915123456789"},
    }
    assert contact.new_medium(HOME) == {
        "mediumType": "postalAddress",
        "preferred": False,
        "characteristic": {  # parts not given are left out, not null
            "contactType": "home",
            "street1": "Analytical Lane 1",
            "postCode": "10115",
            "city": "Berlin",
            "country": "DE",
        },
    }
    assert [contact.what(m) for m in (EMAIL, PHONE, HOME)] == [
        "e-mail address",
        "phone number",
        "postal address",
    ]
    work = contact.new_medium(contact.Phone("+4915123456789", "work"))
    assert work["characteristic"]["contactType"] == "work"


def test_a_medium_added_by_a_change_is_a_new_medium() -> None:
    """What registration builds (new media) and what a change adds are the same records."""
    media: list[dict[str, Any]] = []
    for medium in (EMAIL, PHONE, HOME):
        media = contact.replace_medium(media, medium)
    assert media == [contact.new_medium(m) for m in (EMAIL, PHONE, HOME)]


def test_a_change_replaces_the_preferred_medium_of_its_kind_keeping_preference_and_type() -> None:
    media = [
        {"mediumType": "phone", "preferred": False, "characteristic": {"contactType": "work"}},
        {
            "id": "cm-1",
            "mediumType": "phone",
            "preferred": True,
            "validFor": {"startDateTime": "2020-01-01T00:00:00Z"},
            "characteristic": {"contactType": "private", "phoneNumber": "+491511111111"},
        },
        contact.new_medium(EMAIL, preferred=True),
    ]
    changed = contact.replace_medium(media, PHONE)
    assert changed[0] == media[0]
    assert changed[2] == media[2]
    assert changed[1] == {
        "id": "cm-1",
        "mediumType": "phone",
        "preferred": True,
        "characteristic": {"contactType": "private", "phoneNumber": "+4915123456789"},
    }


def test_a_change_with_a_contact_type_replaces_that_one_or_adds_it() -> None:
    media = [contact.new_medium(HOME)]
    work = contact.PostalAddress("Bertoldstraße 5", None, "79098", "Freiburg", None, "DE", "Work")
    added = contact.replace_medium(media, work)
    assert added == [media[0], contact.new_medium(work)]
    moved = contact.PostalAddress("Damrak 1", None, "1012 LG", "Amsterdam", None, "NL", "work")
    replaced = contact.replace_medium(added, moved)
    assert replaced[0] == media[0]
    assert replaced[1]["characteristic"]["street1"] == "Damrak 1"
    assert replaced[1]["characteristic"]["contactType"] == "work"
    assert len(replaced) == 2
