"""The seed's reference data, and the small helpers that turn cents, days and times into values.

The operator's conventions (EUR, 19 % VAT, due days), the people, places, banks and channels
the records are made of, and the value builders every level shares live here, so that the
catalogue, the party level and the account level draw on one source.
"""

from __future__ import annotations

import datetime
import random
import unicodedata
from typing import Any, Final

from graph.sandbox.registry import COLLECTIONS

from .plan import Record, SeedPlan

# -- the operator ----------------------------------------------------------------------------

UNIT: Final = "EUR"
VAT_PERCENT: Final = 19
VAT_RATE: Final = 0.19
OUTSTANDING: Final = "outstanding"  # the balanceType the engine's payment rules maintain
PAYMENT_DONE: Final = "done"  # the status the engine gives new payments
DUE_DAYS: Final = 14

COLLECTION_PATH: Final = {name: spec.path for name, spec in COLLECTIONS.items()}
ID_PREFIX: Final = {name: spec.id_prefix for name, spec in COLLECTIONS.items()}
TYPE_NAME: Final = {name: spec.type_name for name, spec in COLLECTIONS.items()}

# -- people, places, banks and channels ------------------------------------------------------

FEMALE_NAMES: Final = (
    "Anna", "Maria", "Laura", "Julia", "Lena", "Sophie", "Katharina", "Sarah", "Lea", "Hannah",
    "Emma", "Mia", "Claudia", "Sabine", "Petra", "Monika", "Ursula", "Jana", "Ayşe", "Elif",
    "Agnieszka", "Ana", "Chiara", "Zoé", "Ingrid", "Marlene", "Jasmin", "Nadine", "Birgit", "Ewa",
)  # fmt: skip
MALE_NAMES: Final = (
    "Lukas", "Jonas", "Leon", "Felix", "Paul", "Maximilian", "Tobias", "Stefan", "Michael",
    "Thomas", "Andreas", "Jürgen", "Klaus", "Wolfgang", "Florian", "Jan", "Niklas", "Mehmet",
    "Emre", "Piotr", "Luca", "Marco", "Ivan", "Dimitrios", "Matthias", "Sebastian", "Björn",
    "Kai", "René", "Tomasz",
)  # fmt: skip
FAMILY_NAMES: Final = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
    "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
    "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt",
    "Werner", "Krause", "Meier", "Lehmann", "Y\u0131lmaz", "Kaya", "Nowak", "Kowalski", "Rossi",
    "Popović", "Papadopoulos", "García", "Jovanović", "Öztürk", "Vogel", "Günther", "Roth",
    "Friedrich", "Keller", "Brandt", "Haas", "Schuster", "Böhm", "Dietrich",
)  # fmt: skip
# city, phone area code (without the leading 0), postcodes
CITIES: Final = (
    ("Berlin", "30", ("10115", "10245", "10437", "10557", "12043", "12163", "13353", "14057")),
    ("Hamburg", "40", ("20095", "20249", "22041", "22303", "22765")),
    ("München", "89", ("80331", "80469", "80796", "81369", "81675")),
    ("Köln", "221", ("50667", "50733", "50823", "51103")),
    ("Frankfurt am Main", "69", ("60311", "60389", "60594", "65929")),
    ("Stuttgart", "711", ("70173", "70190", "70372")),
    ("Düsseldorf", "211", ("40210", "40477", "40591")),
    ("Leipzig", "341", ("04103", "04229", "04315")),
    ("Dresden", "351", ("01067", "01099", "01309")),
    ("Hannover", "511", ("30159", "30169", "30625")),
    ("Nürnberg", "911", ("90402", "90429", "90478")),
    ("Bremen", "421", ("28195", "28203", "28359")),
    ("Dortmund", "231", ("44135", "44137", "44263")),
    ("Freiburg im Breisgau", "761", ("79098", "79102", "79106")),
)  # fmt: skip
STREETS: Final = (
    "Hauptstraße", "Bahnhofstraße", "Gartenstraße", "Schillerstraße", "Goethestraße",
    "Lindenstraße", "Bergstraße", "Kirchstraße", "Waldstraße", "Ringstraße", "Mühlenweg",
    "Am Markt", "Friedrichstraße", "Rosenweg", "Schulstraße", "Wiesenweg", "Birkenallee",
    "Kastanienallee", "Poststraße", "Uhlandstraße", "Beethovenstraße", "Mozartstraße",
    "Parkstraße", "Lessingstraße",
)  # fmt: skip
MAIL_DOMAINS: Final = ("example.com", "example.net", "example.org", "mail.example.de")
MOBILE_PREFIXES: Final = ("151", "152", "157", "160", "162", "170", "171", "172", "175", "176")
BANKS: Final = (
    ("Deutsche Bank", "DEUTDEFFXXX"),
    ("Commerzbank", "COBADEFFXXX"),
    ("Sparkasse KölnBonn", "COLSDE33XXX"),
    ("ING", "INGDDEFFXXX"),
    ("Postbank", "PBNKDEFFXXX"),
    ("DKB", "BYLADEM1001"),
    ("GLS Bank", "GENODEM1GLS"),
)
CARD_BRANDS: Final = ("Visa", "Mastercard")
CHANNELS: Final = {
    "web": "Web portal",
    "app": "Mobile app",
    "kiosk": "In-store kiosk",
    "ivr": "IVR",
    "chatbot": "Chatbot",
    "agent-desktop": "Call centre",
}
TOKEN_ALPHABET: Final = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/l/I
ACCOUNT_NAMES: Final = ("Main account", "Home account", "Family account")

_ASCII_FOLD: Final = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "\u0131": "i", "ł": "l", "ø": "o"}
)


def _ascii(name: str) -> str:
    """Email-safe form of a name: German folding first, then accents dropped."""
    folded = unicodedata.normalize("NFKD", name.lower().translate(_ASCII_FOLD))
    return folded.encode("ascii", "ignore").decode().replace(" ", "")


ASCII_NAME: Final = {n: _ascii(n) for n in (*FEMALE_NAMES, *MALE_NAMES, *FAMILY_NAMES)}


# -- value builders --------------------------------------------------------------------------


def tax_excluded(incl: int) -> int:
    """Tax-excluded cents of a tax-included price (VAT rounded half up)."""
    return (incl * 200 + 100 + VAT_PERCENT) // (2 * (100 + VAT_PERCENT))


def tax_included(excl: int) -> int:
    """Tax-included cents of a tax-excluded amount (VAT rounded half up)."""
    return excl + (excl * VAT_PERCENT * 2 + 100) // 200


def money(cents: int) -> Record:
    """TMF Money of an amount in cents."""
    # int / 100 is correctly rounded, so the float prints with at most two decimals.
    return {"unit": UNIT, "value": cents / 100}


def ts(day: datetime.date, hour: int = 0, minute: int = 0, second: int = 0) -> str:
    """A date-time on ``day``, as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}:{second:02d}Z"


def stamp(moment: datetime.datetime) -> str:
    """``moment`` as ``YYYY-MM-DDTHH:MM:SSZ``, to the second."""
    return ts(moment.date(), moment.hour, moment.minute, moment.second)


def shift_months(day: datetime.date, months: int, dom: int | None = None) -> datetime.date:
    """``day`` moved by whole months, on day-of-month ``dom`` (clamped to 28)."""
    month = day.year * 12 + day.month - 1 + months
    return datetime.date(month // 12, month % 12 + 1, min(dom or day.day, 28))


def add_days(day: datetime.date, days: int) -> datetime.date:
    """``day`` moved by ``days`` days (negative: into the past)."""
    return day + datetime.timedelta(days=days)


def pick(rng: random.Random, weights: tuple[tuple[float, Any], ...]) -> Any:
    """A value from ``(weight, value)`` pairs whose weights add up to 1."""
    r = rng.random()
    for weight, value in weights:
        r -= weight
        if r < 0:
            return value
    return weights[-1][1]


def msisdn(plan: SeedPlan, index: int, line: int) -> str:
    """A mobile number unique per (customer, line): an affine bijection on 8 digits."""
    n = ((index * 16 + line) * 73_856_093 + plan.seed * 19_349_663) % 100_000_000
    return f"+49{MOBILE_PREFIXES[(index + line) % len(MOBILE_PREFIXES)]}{n:08d}"


def value_type(value: str | int | bool) -> str:
    """The TMF ``valueType`` of a characteristic's value."""
    if isinstance(value, bool):
        return "boolean"
    return "integer" if isinstance(value, int) else "string"
