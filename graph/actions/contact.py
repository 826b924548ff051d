"""Contact details, checked and stored one way wherever they are given.

Registering a customer and changing one's details take the same things -- an e-mail address, a
phone number, a postal address -- and so check them by the same rules and store them as the same
TMF632 ``contactMedium``: a registered customer's media look exactly like changed ones. The
rules: an e-mail address by RFC 5321 shape and lengths, lowercased; a phone number
to E.164, one in national form read in its country; a postal address by its parts, an ISO
3166-1 country and, where known, the country's postcode format. Registration adds the person's
names and date of birth (customers are :data:`MIN_AGE` or older). A card number is refused in
every text (``CARD_NUMBER_REFUSED``) and never echoed.

Pure functions, no I/O. Each check appends its problems, with the input field's path, to the
caller's list and answers None, so that an action reports every problem at once (and raises
:class:`~graph.actions.problems.ActionRefused` with them) before anything is sent. That list
may be a :class:`Problems`, which also collects the problems of checks that raise them.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from .checks import contains_card_number, text
from .problems import ActionRefused, Problem, ProblemCode

__all__ = [
    "COUNTRIES",
    "DEFAULT_CONTACT_TYPE",
    "EMAIL",
    "MAX_AGE",
    "MIN_AGE",
    "NAME_LIMIT",
    "PHONE",
    "POSTAL_ADDRESS",
    "Email",
    "Medium",
    "Phone",
    "PostalAddress",
    "Problems",
    "birth_date",
    "characteristic",
    "country_code",
    "email",
    "medium_type",
    "new_medium",
    "person_name",
    "phone",
    "postal_address",
    "replace_medium",
    "what",
]

T = TypeVar("T")
_Field = tuple[str, ...]

# ISO 3166-1 alpha-2: the officially assigned codes.
_ISO_3166: Final = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
    DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
    GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
    KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
    MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
    VN VU WF WS YE YT ZA ZM ZW
"""
COUNTRIES: Final = frozenset(_ISO_3166.split())

# Postcode formats, as written after normalization (upper case, single spaces).
_POSTCODES: Final[Mapping[str, tuple[re.Pattern[str], str]]] = {
    country: (re.compile(pattern), example)
    for country, pattern, example in (
        ("DE", r"\d{5}", "10115"),
        ("AT", r"\d{4}", "1010"),
        ("CH", r"\d{4}", "8001"),
        ("LI", r"94(?:8[5-9]|9[0-8])", "9490"),
        ("FR", r"\d{5}", "75001"),
        ("MC", r"980\d{2}", "98000"),
        ("NL", r"[1-9]\d{3} [A-Z]{2}", "1012 AB"),
        ("BE", r"[1-9]\d{3}", "1000"),
        ("LU", r"\d{4}", "1009"),
        ("DK", r"\d{4}", "1050"),
        ("IT", r"\d{5}", "00118"),
        ("ES", r"(?:0[1-9]|[1-4]\d|5[0-2])\d{3}", "28001"),
        ("PL", r"\d{2}-\d{3}", "00-001"),
        ("SE", r"\d{3} \d{2}", "111 22"),
        ("PT", r"\d{4}-\d{3}", "1000-001"),
        ("GB", r"(?:[A-Z]{1,2}\d[A-Z\d]?|GIR) \d[A-Z]{2}", "SW1A 1AA"),
        ("US", r"\d{5}(?:-\d{4})?", "94105"),
    )
}
_GENERIC_POSTCODE: Final = re.compile(r"[A-Z0-9](?:[A-Z0-9 -]{0,8}[A-Z0-9])?")

# Country calling codes, for numbers given in national form (leading trunk 0, or none in NANP).
_CALLING_CODES: Final[Mapping[str, str]] = {
    "DE": "49", "AT": "43", "CH": "41", "LI": "423", "FR": "33", "MC": "377", "NL": "31",
    "BE": "32", "LU": "352", "DK": "45", "IT": "39", "ES": "34", "PL": "48", "SE": "46",
    "PT": "351", "GB": "44", "IE": "353", "NO": "47", "FI": "358", "CZ": "420", "US": "1",
    "CA": "1",
}  # fmt: skip
_KEEPS_TRUNK_ZERO: Final = frozenset({"IT"})  # Italian numbers keep their 0 after +39
_NO_TRUNK_PREFIX: Final = frozenset({"DK", "LU", "NO", "ES", "PT", "US", "CA"})

_LOCAL_ATOM: Final = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL_PART: Final = re.compile(rf"{_LOCAL_ATOM}(?:\.{_LOCAL_ATOM})*")
_DOMAIN_LABEL: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_TOP_LEVEL: Final = re.compile(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}")
_CONTACT_TYPE: Final = re.compile(r"[A-Za-z][A-Za-z0-9 _-]{0,29}")
_PHONE_SEPARATORS: Final = re.compile(r"[\s./()-]")
# Letters (any script), with spaces, apostrophes, hyphens and dots between them.
_NAME: Final = re.compile(r"[^\W\d_]+(?:[ '\u2019.\-]+[^\W\d_]+)*\.?")

NAME_LIMIT: Final = 100
MIN_AGE: Final = 18  # a contract needs an adult
MAX_AGE: Final = 130

# TMF632 medium types, and the contact type a new medium gets when none is given (as the CRM's
# records have them).
EMAIL: Final = "email"
PHONE: Final = "phone"
POSTAL_ADDRESS: Final = "postalAddress"
DEFAULT_CONTACT_TYPE: Final[Mapping[str, str]] = {
    EMAIL: "email",
    PHONE: "mobile",
    POSTAL_ADDRESS: "home",
}


# -- what the checks answer -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Email:
    address: str  # in lower case
    contact_type: str | None = None  # None: as it was, or the default of its kind


@dataclass(frozen=True, slots=True)
class Phone:
    number: str  # E.164: "+4915123456789"
    contact_type: str | None = None


@dataclass(frozen=True, slots=True)
class PostalAddress:
    street1: str
    street2: str | None
    post_code: str
    city: str
    state_or_province: str | None
    country: str  # ISO 3166-1 alpha-2
    contact_type: str | None = None


Medium = Email | Phone | PostalAddress
_KINDS: Final[Mapping[type[Medium], tuple[str, str]]] = {
    Email: (EMAIL, "e-mail address"),
    Phone: (PHONE, "phone number"),
    PostalAddress: (POSTAL_ADDRESS, "postal address"),
}


def medium_type(medium: Medium) -> str:
    """The TMF632 ``mediumType`` of ``medium``."""
    return _KINDS[type(medium)][0]


def what(medium: Medium) -> str:
    """What ``medium`` is, in words ("e-mail address")."""
    return _KINDS[type(medium)][1]


def characteristic(medium: Medium) -> dict[str, Any]:
    """The TMF632 characteristic of ``medium``, without its contact type; parts not given are
    left out (not null)."""
    match medium:
        case Email():
            return {"emailAddress": medium.address}
        case Phone():
            return {"phoneNumber": medium.number}
    parts = {
        "street1": medium.street1,
        "street2": medium.street2,
        "postCode": medium.post_code,
        "city": medium.city,
        "stateOrProvince": medium.state_or_province,
        "country": medium.country,
    }
    return {k: v for k, v in parts.items() if v is not None}


# -- the checks ---------------------------------------------------------------------------------


def _next_to(field: _Field, name: str) -> _Field:
    """The path of ``name`` beside the field at ``field`` (in the same input object)."""
    return (*field[:-1], name)


def _refused(problems: list[Problem], check: Callable[[], T]) -> T | None:
    """What ``check`` answers, or None after adding the problems it raised."""
    try:
        return check()
    except ActionRefused as refused:
        problems.extend(refused.problems)
        return None


class Problems(list[Problem]):
    """The caller's list, for checks of any kind: those here add to it, others (raising
    :class:`ActionRefused`) are run by :meth:`take`; then all are refused at once."""

    def take(self, check: Callable[[], T]) -> T | None:
        """What ``check`` answers, or None after adding the problems it raised."""
        return _refused(self, check)

    async def awaited(self, check: Awaitable[T]) -> T | None:
        """What the awaited ``check`` answers, or None after adding the problems it raised."""
        try:
            return await check
        except ActionRefused as refused:
            self.extend(refused.problems)
            return None

    def raise_any(self) -> None:
        if self:
            raise ActionRefused(self)


def _part(
    value: str | None, limit: int, code: ProblemCode, problems: list[Problem], field: _Field
) -> str | None:
    """A text: stripped, runs of spaces folded, at most ``limit`` characters, no control
    characters or line breaks, and no card number (CARD_NUMBER_REFUSED, whatever the medium).
    None when missing, empty or refused."""
    if value is None:
        return None
    found = re.sub(" {2,}", " ", value.strip())
    if any(ord(c) < 32 or ord(c) == 127 for c in found):
        problems.append(Problem(code, "Control characters or line breaks are not allowed.", field))
        return None
    if len(found) > limit:
        problems.append(Problem(code, f"At most {limit} characters ({len(found)} given).", field))
        return None
    if contains_card_number(found):
        problems.append(
            Problem(
                ProblemCode.CARD_NUMBER_REFUSED,
                "This looks like a card number: it was not stored.",
                field,
            )
        )
        return None
    return found or None


def _contact_type(
    value: str | None, code: ProblemCode, problems: list[Problem], field: _Field
) -> str | None:
    if value is None or not value.strip():
        return None
    found = value.strip()
    if not _CONTACT_TYPE.fullmatch(found):
        problems.append(
            Problem(code, "A contact type is a short word, e.g. home, work or mobile.", field)
        )
        return None
    return found


def country_code(
    value: str | None, code: ProblemCode, problems: list[Problem], *field: str
) -> str | None:
    """An ISO 3166-1 alpha-2 code (any case given), or None (a problem added if one was
    given)."""
    if value is None:
        return None
    found = value.strip().upper()
    if found not in COUNTRIES:
        problems.append(
            Problem(
                code, "A country is its ISO 3166-1 two-letter code, e.g. DE, AT, CH, FR.", field
            )
        )
        return None
    return found


def email(
    value: str,
    problems: list[Problem],
    *field: str,
    contact_type: str | None = None,
) -> Email | None:
    """The address in lower case: an e-mail address identifies a customer (registration
    searches for it as stored), and mail systems treat it case-insensitively in practice.
    ``field`` is the address's path; a contact type's is beside it (``contactType``)."""
    code = ProblemCode.INVALID_EMAIL
    start = len(problems)
    label = _contact_type(contact_type, code, problems, _next_to(field, "contactType"))
    before = len(problems)
    given = _part(value, 254, code, problems, field)
    if given is None:
        if len(problems) == before:
            problems.append(Problem(code, "Give an e-mail address.", field))
        return None
    local, at, domain = given.rpartition("@")
    domain = domain.lower().rstrip(".")
    labels = domain.split(".")
    if not at or not local:
        problems.append(Problem(code, "An e-mail address looks like name@example.com.", field))
    elif len(local) > 64 or not _LOCAL_PART.fullmatch(local):
        problems.append(
            Problem(
                code,
                "The part before @ is at most 64 letters, digits, dots and !#$%&'*+/=?^_`{|}~- "
                "(no spaces, no leading, trailing or double dots).",
                field,
            )
        )
    elif (
        len(domain) > 253
        or len(labels) < 2
        or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels)
        or not _TOP_LEVEL.fullmatch(labels[-1])
    ):
        problems.append(
            Problem(code, "The part after @ is not a valid domain, e.g. example.com.", field)
        )
    if len(problems) > start:
        return None
    address = f"{local}@{domain}"
    return Email(address.lower(), label)


def phone(
    value: str,
    problems: list[Problem],
    *field: str,
    country: str | None = None,
    default_country: str | None = None,
    contact_type: str | None = None,
) -> Phone | None:
    """The number in E.164. One in national form (0151 ...) is read in ``country`` (checked;
    its path is beside the number's, ``country``), else in ``default_country`` (e.g. that of
    the address given with it; not checked: a number in an unknown one is refused)."""
    code = ProblemCode.INVALID_PHONE
    before = len(problems)
    label = _contact_type(contact_type, code, problems, _next_to(field, "contactType"))
    home = default_country.strip().upper() if default_country is not None else None
    if country is not None:
        home = country_code(country, code, problems, *_next_to(field, "country"))
        if home is None:
            return None  # the number cannot be read without its country
    raw = _PHONE_SEPARATORS.sub("", value.strip())
    if raw.startswith("+"):
        digits: str | None = raw[1:]
    elif raw.startswith("00"):
        digits = raw[2:]
    elif raw and home is not None and home in _CALLING_CODES:
        digits = _national(raw, home)
    elif raw:
        problems.append(
            Problem(code, "Give the number in international form, e.g. +49 151 23456789.", field)
        )
        return None
    else:
        problems.append(Problem(code, "Give a phone number.", field))
        return None
    if digits is None or not digits.isdigit() or digits.startswith("0"):
        problems.append(Problem(code, "This is not a phone number, e.g. +49 151 23456789.", field))
    elif not 8 <= len(digits) <= 15:
        problems.append(
            Problem(
                code,
                f"A phone number has 8 to 15 digits with its country code ({len(digits)} given).",
                field,
            )
        )
    if len(problems) > before or digits is None:
        return None
    return Phone(f"+{digits}", label)


def _national(raw: str, country: str) -> str | None:
    """The international digits of a number in ``country``'s national form, or None."""
    code = _CALLING_CODES.get(country)
    if code is None or not raw.isdigit():
        return None
    if country in _KEEPS_TRUNK_ZERO:
        return code + raw
    if country in _NO_TRUNK_PREFIX:
        if code == "1" and len(raw) == 11 and raw.startswith("1"):
            raw = raw[1:]
        return None if raw.startswith("0") else code + raw
    return code + (raw[1:] if raw.startswith("0") else raw)


def postal_address(
    given: PostalAddress, problems: list[Problem], *field: str
) -> PostalAddress | None:
    """The address ``given`` (as it was given), checked and normalized; its parts' paths are
    below ``field``. Street and city are required, a state in the US, an ISO country, and the
    postcode in the country's format where it is known."""
    code = ProblemCode.INVALID_ADDRESS
    before = len(problems)
    label = _contact_type(given.contact_type, code, problems, (*field, "contactType"))
    land = country_code(given.country, code, problems, *field, "country")
    parts: dict[str, str | None] = {}
    for name, value, limit, required in (
        ("street1", given.street1, 100, True),
        ("street2", given.street2, 100, False),
        ("city", given.city, 80, True),
        ("stateOrProvince", given.state_or_province, 80, False),
    ):
        checked = parts[name] = _part(value, limit, code, problems, (*field, name))
        if checked is None and required and (value is None or not value.strip()):
            problems.append(Problem(code, "This part of the address is required.", (*field, name)))
    if land == "US" and not parts["stateOrProvince"]:
        problems.append(
            Problem(code, "A US address needs its state, e.g. CA.", (*field, "stateOrProvince"))
        )
    postcode = _postcode(given.post_code, land, problems, (*field, "postCode"))
    line1, town = parts["street1"], parts["city"]
    if len(problems) > before or not (land and postcode and line1 and town):
        return None
    return PostalAddress(
        street1=line1,
        street2=parts["street2"],
        post_code=postcode,
        city=town,
        state_or_province=parts["stateOrProvince"],
        country=land,
        contact_type=label,
    )


def _postcode(
    value: str, country: str | None, problems: list[Problem], field: _Field
) -> str | None:
    code = ProblemCode.INVALID_ADDRESS
    found = _part(value, 12, code, problems, field)
    if found is None:
        if not value.strip():
            problems.append(Problem(code, "This part of the address is required.", field))
        return None
    found = found.upper()
    known = _POSTCODES.get(country or "")
    if known is None:
        if not _GENERIC_POSTCODE.fullmatch(found):
            problems.append(
                Problem(code, "A postcode is letters, digits, spaces and hyphens.", field)
            )
            return None
        return found
    pattern, example = known
    if country == "GB" and " " not in found and len(found) > 3:
        found = f"{found[:-3]} {found[-3:]}"
    elif country in ("NL", "SE") and " " not in found and len(found) > 2:
        found = f"{found[:-2]} {found[-2:]}"
    if not pattern.fullmatch(found):
        problems.append(Problem(code, f"Not a postcode of {country}, e.g. {example}.", field))
        return None
    return found


def person_name(value: str, problems: list[Problem], *field: str) -> str | None:
    """A given or family name: letters (any script), with spaces, apostrophes, hyphens or dots
    between them; at most :data:`NAME_LIMIT` characters (TOO_LONG), no card number."""
    name = _refused(problems, lambda: text(value, NAME_LIMIT, *field))
    if name is not None and not _NAME.fullmatch(name):
        problems.append(
            Problem(
                ProblemCode.INVALID_INPUT,
                "A name is letters, with spaces, apostrophes, hyphens or dots between them.",
                field,
            )
        )
        return None
    return name


def birth_date(
    value: datetime.date,
    problems: list[Problem],
    *field: str,
    today: datetime.date | None = None,
) -> datetime.date | None:
    """A possible date of birth of a customer: not in the future, :data:`MIN_AGE` or older,
    at most :data:`MAX_AGE`."""
    today = today or datetime.date.today()
    age = today.year - value.year - ((today.month, today.day) < (value.month, value.day))
    if value > today or age > MAX_AGE:
        problems.append(Problem(ProblemCode.INVALID_INPUT, "Not a possible date of birth.", field))
        return None
    if age < MIN_AGE:
        problems.append(
            Problem(ProblemCode.INVALID_INPUT, f"Customers are {MIN_AGE} or older.", field)
        )
        return None
    return value


# -- as TMF632 stores them ----------------------------------------------------------------------


def _characteristic(medium: Medium, contact_type: str | None) -> dict[str, Any]:
    return {
        "contactType": contact_type or DEFAULT_CONTACT_TYPE[medium_type(medium)],
        **characteristic(medium),
    }


def new_medium(medium: Medium, *, preferred: bool = False) -> dict[str, Any]:
    """The TMF632 ContactMedium of ``medium``, as a new one (its contact type, or the default
    of its kind)."""
    return {
        "mediumType": medium_type(medium),
        "preferred": preferred,
        "characteristic": _characteristic(medium, medium.contact_type),
    }


def _medium_type_of(medium: Mapping[str, Any]) -> str:
    return str(medium.get("mediumType") or "").lower()


def _type_of(medium: Mapping[str, Any]) -> str:
    characteristic = medium.get("characteristic") or {}
    return str(characteristic.get("contactType") or "").lower()


def replace_medium(media: Sequence[dict[str, Any]], medium: Medium) -> list[dict[str, Any]]:
    """``media`` with the medium of ``medium``'s kind (and contact type, if it has one; else
    the preferred one of the kind, else the first) replaced -- keeping its preference and
    contact type -- or ``medium`` added as a new one."""
    same = [n for n, m in enumerate(media) if _medium_type_of(m) == medium_type(medium).lower()]
    if medium.contact_type is not None:
        wanted = medium.contact_type.lower()
        same = [n for n in same if _type_of(media[n]) == wanted]
    else:
        same.sort(key=lambda n: not media[n].get("preferred"))
    if not same:
        return [*media, new_medium(medium)]
    old = media[same[0]]
    kept_type = medium.contact_type or (old.get("characteristic") or {}).get("contactType")
    new = {k: v for k, v in old.items() if k not in ("characteristic", "validFor")}
    new["mediumType"] = old.get("mediumType") or medium_type(medium)
    new["characteristic"] = _characteristic(medium, kept_type)
    return [new if n == same[0] else m for n, m in enumerate(media)]
