"""Deterministic demo data for the embedded TMF sandbox: a catalogue and N customers.

Everything derives from ``(plan.seed, customer index)`` through string-seeded
:class:`random.Random` instances (stable across processes, unlike ``hash()``), so any customer
can be materialized alone, in any order, and always comes out the same. A customer has two
levels, because customer search needs the party level of everyone while most requests touch a
handful of customers: :func:`party_records` (Individual, Customer) is cheap, and
:func:`account_records` builds the rest. Both read the same small :class:`_Profile`, which is
how the Customer's account list agrees with the billing accounts built later.

Conventions the engine and the tests rely on:

- owned ids carry their owner: ``cus-000042``, ``ba-000042-1``, ``cb-000042-1-07`` (see
  :func:`.registry.owner_of`); catalogue ids are slugs (``off-mobile-m``);
- hrefs are absolute: ``base_url + collection path + "/" + id``;
- money is computed in integer cents and rendered as ``{"unit": "EUR", "value": 12.34}``, so
  rates add up to their bill and bills to the account balance exactly;
- dates are relative to ``plan.today``; date-times are ``YYYY-MM-DDTHH:MM:SSZ``.

The operator is a German one (EUR, 19 % VAT, +49 numbers, SEPA), which keeps addresses, phone
numbers, bank accounts and taxes consistent with each other.
"""

from __future__ import annotations

import datetime
import random
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

from .registry import COLLECTIONS

__all__ = ["Record", "SeedPlan", "account_records", "catalog_records", "party_records"]

Record: TypeAlias = dict[str, Any]


@dataclass(frozen=True, slots=True)
class SeedPlan:
    """What to generate: the same plan always gives the same records."""

    seed: int = 1
    customers: int = 1000
    today: datetime.date = field(default_factory=datetime.date.today)
    base_url: str = "http://127.0.0.1:8100"  # hrefs are absolute


# -- constants -------------------------------------------------------------------------------

_UNIT: Final = "EUR"
_VAT_PERCENT: Final = 19
_VAT_RATE: Final = 0.19
_OUTSTANDING: Final = "outstanding"  # the balanceType the engine's payment rules maintain
_PAYMENT_DONE: Final = "done"  # the status the engine gives new payments
_DUE_DAYS: Final = 14

_PATH: Final = {name: spec.path for name, spec in COLLECTIONS.items()}
_PREFIX: Final = {name: spec.id_prefix for name, spec in COLLECTIONS.items()}
_TYPE: Final = {name: spec.type_name for name, spec in COLLECTIONS.items()}

_FEMALE: Final = (
    "Anna", "Maria", "Laura", "Julia", "Lena", "Sophie", "Katharina", "Sarah", "Lea", "Hannah",
    "Emma", "Mia", "Claudia", "Sabine", "Petra", "Monika", "Ursula", "Jana", "Ayşe", "Elif",
    "Agnieszka", "Ana", "Chiara", "Zoé", "Ingrid", "Marlene", "Jasmin", "Nadine", "Birgit", "Ewa",
)  # fmt: skip
_MALE: Final = (
    "Lukas", "Jonas", "Leon", "Felix", "Paul", "Maximilian", "Tobias", "Stefan", "Michael",
    "Thomas", "Andreas", "Jürgen", "Klaus", "Wolfgang", "Florian", "Jan", "Niklas", "Mehmet",
    "Emre", "Piotr", "Luca", "Marco", "Ivan", "Dimitrios", "Matthias", "Sebastian", "Björn",
    "Kai", "René", "Tomasz",
)  # fmt: skip
_FAMILY: Final = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
    "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
    "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt",
    "Werner", "Krause", "Meier", "Lehmann", "Y\u0131lmaz", "Kaya", "Nowak", "Kowalski", "Rossi",
    "Popović", "Papadopoulos", "García", "Jovanović", "Öztürk", "Vogel", "Günther", "Roth",
    "Friedrich", "Keller", "Brandt", "Haas", "Schuster", "Böhm", "Dietrich",
)  # fmt: skip
# city, phone area code (without the leading 0), postcodes
_CITIES: Final = (
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
_STREETS: Final = (
    "Hauptstraße", "Bahnhofstraße", "Gartenstraße", "Schillerstraße", "Goethestraße",
    "Lindenstraße", "Bergstraße", "Kirchstraße", "Waldstraße", "Ringstraße", "Mühlenweg",
    "Am Markt", "Friedrichstraße", "Rosenweg", "Schulstraße", "Wiesenweg", "Birkenallee",
    "Kastanienallee", "Poststraße", "Uhlandstraße", "Beethovenstraße", "Mozartstraße",
    "Parkstraße", "Lessingstraße",
)  # fmt: skip
_MAIL_DOMAINS: Final = ("example.com", "example.net", "example.org", "mail.example.de")
_MOBILE_PREFIXES: Final = ("151", "152", "157", "160", "162", "170", "171", "172", "175", "176")
_BANKS: Final = (
    ("Deutsche Bank", "DEUTDEFFXXX"),
    ("Commerzbank", "COBADEFFXXX"),
    ("Sparkasse KölnBonn", "COLSDE33XXX"),
    ("ING", "INGDDEFFXXX"),
    ("Postbank", "PBNKDEFFXXX"),
    ("DKB", "BYLADEM1001"),
    ("GLS Bank", "GENODEM1GLS"),
)
_CARD_BRANDS: Final = ("Visa", "Mastercard")
_CHANNELS: Final = {
    "web": "Web portal",
    "app": "Mobile app",
    "kiosk": "In-store kiosk",
    "ivr": "IVR",
    "chatbot": "Chatbot",
    "agent-desktop": "Call centre",
}
_TOKEN: Final = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/l/I
_ACCOUNT_NAMES: Final = ("Main account", "Home account", "Family account")

_ASCII_FOLD: Final = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "\u0131": "i", "ł": "l", "ø": "o"}
)


def _ascii(name: str) -> str:
    """Email-safe form of a name: German folding first, then accents dropped."""
    folded = unicodedata.normalize("NFKD", name.lower().translate(_ASCII_FOLD))
    return folded.encode("ascii", "ignore").decode().replace(" ", "")


_ASCII_NAME: Final = {n: _ascii(n) for n in (*_FEMALE, *_MALE, *_FAMILY)}


# -- catalogue -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Category:
    slug: str
    name: str
    description: str


@dataclass(frozen=True, slots=True)
class _Offering:
    slug: str
    name: str
    category: str
    kind: str  # mobile | broadband | tv | addon | device
    monthly: int  # tax-included cents per month; 0 when there is no recurring price
    one_time: int = 0  # tax-included cents charged once; 0 when none
    one_time_name: str = ""
    retired: bool = False
    characteristics: tuple[tuple[str, str | int | bool], ...] = ()
    description: str = ""


_CATEGORIES: Final = (
    _Category("mobile", "Mobile plans", "Postpaid mobile plans with calls, texts and data"),
    _Category("broadband", "Broadband", "Fixed internet access at home"),
    _Category("tv", "TV", "IPTV packages streamed over our broadband"),
    _Category("addons", "Add-ons", "Options that extend a mobile plan"),
    _Category("devices", "Devices", "Phones and home equipment"),
)

_OFFERINGS: Final = (
    _Offering("mobile-s", "Mobile S 5 GB", "mobile", "mobile", 1299,
              characteristics=(("dataAllowanceGB", 5),)),
    _Offering("mobile-m", "Mobile M 20 GB", "mobile", "mobile", 1999,
              characteristics=(("dataAllowanceGB", 20),)),
    _Offering("mobile-l", "Mobile L 60 GB", "mobile", "mobile", 2999,
              characteristics=(("dataAllowanceGB", 60),)),
    _Offering("mobile-unlimited", "Mobile Unlimited", "mobile", "mobile", 3999,
              characteristics=(("dataAllowanceGB", "unlimited"),)),
    _Offering("mobile-classic", "Mobile Classic 2 GB", "mobile", "mobile", 999, retired=True,
              characteristics=(("dataAllowanceGB", 2),),
              description="No longer sold; existing contracts continue"),
    _Offering("fiber-100", "Fiber 100", "broadband", "broadband", 3499, 4900, "Installation",
              characteristics=(("downloadSpeedMbps", 100), ("uploadSpeedMbps", 50),
                               ("technology", "FTTH"))),
    _Offering("fiber-500", "Fiber 500", "broadband", "broadband", 4499, 4900, "Installation",
              characteristics=(("downloadSpeedMbps", 500), ("uploadSpeedMbps", 200),
                               ("technology", "FTTH"))),
    _Offering("fiber-1000", "Fiber 1000", "broadband", "broadband", 5999, 4900, "Installation",
              characteristics=(("downloadSpeedMbps", 1000), ("uploadSpeedMbps", 500),
                               ("technology", "FTTH"))),
    _Offering("dsl-50", "DSL 50", "broadband", "broadband", 2499, 2999, "Activation fee",
              characteristics=(("downloadSpeedMbps", 50), ("uploadSpeedMbps", 10),
                               ("technology", "VDSL"))),
    _Offering("tv-basic", "TV Basic", "tv", "tv", 999,
              characteristics=(("channels", 80), ("hd", False))),
    _Offering("tv-premium", "TV Premium", "tv", "tv", 2499, 2900, "Set-up fee",
              characteristics=(("channels", 180), ("hd", True))),
    _Offering("roaming-eu", "EU Roaming Pass", "addons", "addon", 499,
              characteristics=(("zone", "EU+"),)),
    _Offering("extra-data-10", "Extra Data 10 GB", "addons", "addon", 799,
              characteristics=(("extraDataGB", 10),)),
    _Offering("multisim", "MultiSIM", "addons", "addon", 499,
              characteristics=(("extraSims", 1),)),
    _Offering("phone-lite", "Smartphone Lite 128 GB", "devices", "device", 0, 24900,
              "Device price"),
    _Offering("phone-pro", "Smartphone Pro 256 GB", "devices", "device", 0, 99900,
              "Device price"),
    _Offering("router-wifi6", "Wi-Fi 6 Router", "devices", "device", 0, 12900, "Device price"),
    _Offering("tv-box-4k", "4K TV Box", "devices", "device", 0, 7900, "Device price"),
)  # fmt: skip

_BY_SLUG: Final = {o.slug: o for o in _OFFERINGS}
_SELLABLE: Final = tuple(o for o in _OFFERINGS if not o.retired)
_RETIRED: Final = tuple(o for o in _OFFERINGS if o.retired)
_INSTALLABLE: Final = {
    kind: tuple(o for o in _SELLABLE if o.kind == kind) for kind in ("mobile", "broadband", "tv")
}
_ADDONS: Final = tuple(o for o in _SELLABLE if o.kind == "addon")


def _excl(incl: int) -> int:
    """Tax-excluded cents of a tax-included price (VAT rounded half up)."""
    return (incl * 200 + 100 + _VAT_PERCENT) // (2 * (100 + _VAT_PERCENT))


def _incl(excl: int) -> int:
    """Tax-included cents of a tax-excluded amount (VAT rounded half up)."""
    return excl + (excl * _VAT_PERCENT * 2 + 100) // 200


# -- small builders --------------------------------------------------------------------------


def _money(cents: int) -> Record:
    # int / 100 is correctly rounded, so the float prints with at most two decimals.
    return {"unit": _UNIT, "value": cents / 100}


def _ts(day: datetime.date, hour: int = 0, minute: int = 0, second: int = 0) -> str:
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}:{second:02d}Z"


def _stamp(moment: datetime.datetime) -> str:
    return _ts(moment.date(), moment.hour, moment.minute, moment.second)


def _shift(day: datetime.date, months: int, dom: int | None = None) -> datetime.date:
    """``day`` moved by whole months, on day-of-month ``dom`` (clamped to 28)."""
    month = day.year * 12 + day.month - 1 + months
    return datetime.date(month // 12, month % 12 + 1, min(dom or day.day, 28))


def _days(day: datetime.date, days: int) -> datetime.date:
    return day + datetime.timedelta(days=days)


def _pick(rng: random.Random, weights: tuple[tuple[float, Any], ...]) -> Any:
    """A value from ``(weight, value)`` pairs whose weights add up to 1."""
    r = rng.random()
    for weight, value in weights:
        r -= weight
        if r < 0:
            return value
    return weights[-1][1]


def _catalog_href(plan: SeedPlan, name: str, rid: str) -> str:
    return plan.base_url + _PATH[name] + "/" + rid


def _offering_ref(plan: SeedPlan, offering: _Offering) -> Record:
    rid = "off-" + offering.slug
    return {
        "id": rid,
        "href": _catalog_href(plan, "productOffering", rid),
        "name": offering.name,
        "@referredType": "ProductOffering",
    }


def _price_ids(offering: _Offering) -> list[tuple[str, str, int, str]]:
    """(pop id, name, tax-included cents, priceType) of an offering's prices."""
    prices = []
    if offering.monthly:
        prices.append(
            (f"pop-{offering.slug}-monthly", f"{offering.name} monthly fee", offering.monthly,
             "recurring")
        )  # fmt: skip
    if offering.one_time:
        name = f"{offering.name} {offering.one_time_name.lower()}"
        prices.append((f"pop-{offering.slug}-once", name, offering.one_time, "oneTime"))
    return prices


def _price_value(incl: int) -> Record:
    return {
        "dutyFreeAmount": _money(_excl(incl)),
        "taxIncludedAmount": _money(incl),
        "taxRate": _VAT_RATE,
    }


# -- the catalogue ---------------------------------------------------------------------------


def catalog_records(plan: SeedPlan) -> dict[str, list[Record]]:
    """The shared product catalogue: categories, offerings and their prices (TMF620)."""
    today = plan.today
    launched = _ts(datetime.date(today.year - 3, 1, 1))
    updated = _ts(_days(today, -30), 9)
    retired_on = _ts(_days(today, -90))

    categories: list[Record] = []
    for category in _CATEGORIES:
        rid = "cat-" + category.slug
        categories.append(
            {
                "id": rid,
                "href": _catalog_href(plan, "category", rid),
                "@type": "Category",
                "name": category.name,
                "description": category.description,
                "isRoot": True,
                "lifecycleStatus": "Active",
                "version": "1.0",
                "lastUpdate": updated,
                "validFor": {"startDateTime": launched},
                "productOffering": [
                    _offering_ref(plan, o) for o in _OFFERINGS if o.category == category.slug
                ],
            }
        )

    offerings: list[Record] = []
    prices: list[Record] = []
    for offering in _OFFERINGS:
        status = "Retired" if offering.retired else "Active"
        valid_for: Record = {"startDateTime": launched}
        if offering.retired:
            valid_for["endDateTime"] = retired_on
        pop_refs: list[Record] = []
        for pop_id, name, incl, price_type in _price_ids(offering):
            excl = _excl(incl)
            pop_href = _catalog_href(plan, "productOfferingPrice", pop_id)
            recurring = price_type == "recurring"
            pop_refs.append(
                {
                    "id": pop_id,
                    "href": pop_href,
                    "name": name,
                    "priceType": price_type,
                    **({"recurringChargePeriod": "month"} if recurring else {}),
                    "price": _price_value(incl),
                    "@referredType": "ProductOfferingPrice",
                }
            )
            price: Record = {
                "id": pop_id,
                "href": pop_href,
                "@type": "ProductOfferingPrice",
                "name": name,
                "description": f"{name}, VAT included",
                "isBundle": False,
                "lifecycleStatus": status,
                "version": "1.0",
                "lastUpdate": updated,
                "validFor": dict(valid_for),
                "priceType": price_type,
                "recurringChargePeriodLength": 1 if recurring else 0,
                # TMF620 v4.1 gives the POP a bare Money, not a Price: it is the consumer
                # (tax-included) price, and ``tax`` is the VAT it contains.
                "price": _money(incl),
                "tax": [
                    {"taxCategory": "VAT", "taxRate": _VAT_RATE, "taxAmount": _money(incl - excl)}
                ],
            }
            if recurring:
                price["recurringChargePeriodType"] = "month"
            prices.append(price)
        category = next(c for c in _CATEGORIES if c.slug == offering.category)
        offerings.append(
            {
                "id": "off-" + offering.slug,
                "href": _catalog_href(plan, "productOffering", "off-" + offering.slug),
                "@type": "ProductOffering",
                "name": offering.name,
                "description": offering.description or f"{category.name}: {offering.name}",
                "isBundle": False,
                "isSellable": not offering.retired,
                "lifecycleStatus": status,
                "version": "1.0",
                "lastUpdate": updated,
                "validFor": valid_for,
                "category": [
                    {
                        "id": "cat-" + category.slug,
                        "href": _catalog_href(plan, "category", "cat-" + category.slug),
                        "name": category.name,
                        "@referredType": "Category",
                    }
                ],
                "channel": [{"id": c, "name": n} for c, n in _CHANNELS.items()],
                "productSpecification": {
                    "id": "psp-" + offering.kind,
                    "name": f"{offering.kind.capitalize()} product",
                    "@referredType": "ProductSpecification",
                },
                "productOfferingPrice": pop_refs,
            }
        )
    return {"category": categories, "productOffering": offerings, "productOfferingPrice": prices}


# -- the per-customer profile ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Profile:
    """Who the customer is and how much of everything they have; both levels read it."""

    given: str
    family: str
    gender: str
    birth: datetime.date
    street: str
    city: str
    area: str
    postcode: str
    email: str
    status: str
    since: datetime.date
    bills: tuple[int, ...]  # bills per billing account (one entry per account)
    cycle_days: tuple[int, ...]  # bill day of month per billing account
    paper: tuple[bool, ...]  # paper bills per billing account
    payment_methods: int
    products: int
    tickets: int
    problems: int
    orders: int
    interactions: int

    @property
    def full_name(self) -> str:
        return f"{self.given} {self.family}"


_ACCOUNT_COUNT: Final = ((0.6, 1), (0.3, 2), (0.1, 3))
_PRODUCT_COUNT: Final = ((0.25, 1), (0.25, 2), (0.2, 3), (0.15, 4), (0.1, 5), (0.05, 6))
_TICKET_COUNT: Final = ((0.5, 0), (0.3, 1), (0.15, 2), (0.05, 3))
_PROBLEM_COUNT: Final = ((0.7, 0), (0.22, 1), (0.08, 2))
_ORDER_COUNT: Final = ((0.5, 1), (0.35, 2), (0.15, 3))
_INTERACTION_COUNT: Final = ((0.3, 1), (0.35, 2), (0.2, 3), (0.15, 4))


def _profile(plan: SeedPlan, index: int) -> _Profile:
    rng = random.Random(f"{plan.seed}:{index}:profile")
    r = rng.random
    gender = "female" if r() < 0.5 else "male"
    given = rng.choice(_FEMALE if gender == "female" else _MALE)
    if r() < 0.01:
        gender = "other"
    family = rng.choice(_FAMILY)
    city, area, postcodes = rng.choice(_CITIES)
    age = 18 + int(r() * 68)
    birth = datetime.date(plan.today.year - age, 1 + int(r() * 12), 1 + int(r() * 28))
    # The customer number keeps addresses unique, so an email finds one customer.
    local = f"{_ASCII_NAME[given]}.{_ASCII_NAME[family]}{index}"
    email = f"{local}@{_MAIL_DOMAINS[int(r() * 4)]}"
    accounts: int = _pick(rng, _ACCOUNT_COUNT)
    bills = tuple(12 + int(r() * 13) for _ in range(accounts))
    cycle_days = tuple(1 + int(r() * 28) for _ in range(accounts))
    paper = tuple(r() < 0.15 for _ in range(accounts))
    since = _days(_shift(plan.today, -(max(bills) + 1)), -int(r() * 900))
    products = min(max(_pick(rng, _PRODUCT_COUNT), accounts), 3 * accounts)
    return _Profile(
        given=given,
        family=family,
        gender=gender,
        birth=birth,
        street=f"{rng.choice(_STREETS)} {1 + int(r() * 120)}",
        city=city,
        area=area,
        postcode=rng.choice(postcodes),
        email=email,
        status="suspended" if r() < 0.02 else "approved",
        since=since,
        bills=bills,
        cycle_days=cycle_days,
        paper=paper,
        payment_methods=1 if r() < 0.65 else 2,
        products=products,
        tickets=_pick(rng, _TICKET_COUNT),
        problems=_pick(rng, _PROBLEM_COUNT),
        orders=_pick(rng, _ORDER_COUNT),
        interactions=_pick(rng, _INTERACTION_COUNT),
    )


def _msisdn(plan: SeedPlan, index: int, line: int) -> str:
    """A mobile number unique per (customer, line): an affine bijection on 8 digits."""
    n = ((index * 16 + line) * 73_856_093 + plan.seed * 19_349_663) % 100_000_000
    return f"+49{_MOBILE_PREFIXES[(index + line) % len(_MOBILE_PREFIXES)]}{n:08d}"


# -- the party level -------------------------------------------------------------------------


class _Ids:
    """Ids and hrefs of one customer's records."""

    __slots__ = ("base", "customer", "individual", "tag")

    def __init__(self, plan: SeedPlan, index: int) -> None:
        self.base = plan.base_url
        self.tag = f"{index:06d}"
        self.customer = f"{_PREFIX['customer']}-{self.tag}"
        self.individual = f"{_PREFIX['individual']}-{self.tag}"

    def id(self, name: str, *parts: int | str) -> str:
        return "-".join((_PREFIX[name], self.tag, *(str(p) for p in parts)))

    def href(self, name: str, rid: str) -> str:
        return self.base + _PATH[name] + "/" + rid

    def ref(self, name: str, rid: str, label: str | None = None, **extra: Any) -> Record:
        ref: Record = {"id": rid, "href": self.base + _PATH[name] + "/" + rid}
        if label is not None:
            ref["name"] = label
        ref.update(extra)
        ref["@referredType"] = _TYPE[name]
        return ref


def _account_ids(ids: _Ids, profile: _Profile) -> list[tuple[str, str]]:
    return [
        (ids.id("billingAccount", n), _ACCOUNT_NAMES[n - 1])
        for n in range(1, len(profile.bills) + 1)
    ]


def party_records(plan: SeedPlan, index: int) -> dict[str, list[Record]]:
    """Customer ``index``'s Individual (TMF632) and Customer (TMF629); cheap by design."""
    profile = _profile(plan, index)
    ids = _Ids(plan, index)
    full = profile.full_name
    since = _ts(profile.since, 10, 12)
    individual: Record = {
        "id": ids.individual,
        "href": ids.href("individual", ids.individual),
        "@type": "Individual",
        "givenName": profile.given,
        "familyName": profile.family,
        "fullName": full,
        "formattedName": f"{profile.family}, {profile.given}",
        "gender": profile.gender,
        "birthDate": _ts(profile.birth),
        "nationality": "DE",
        "status": "validated",
        "contactMedium": [
            {
                "mediumType": "email",
                "preferred": True,
                "characteristic": {"contactType": "email", "emailAddress": profile.email},
            },
            {
                "mediumType": "phone",
                "preferred": False,
                "characteristic": {
                    "contactType": "mobile",
                    "phoneNumber": _msisdn(plan, index, 1),
                },
            },
            {
                "mediumType": "postalAddress",
                "preferred": False,
                "characteristic": {
                    "contactType": "home",
                    "street1": profile.street,
                    "postCode": profile.postcode,
                    "city": profile.city,
                    "country": "DE",
                },
            },
        ],
    }
    customer: Record = {
        "id": ids.customer,
        "href": ids.href("customer", ids.customer),
        "@type": "Customer",
        "name": full,
        "status": profile.status,
        "engagedParty": ids.ref("individual", ids.individual, full),
        "relatedParty": [ids.ref("individual", ids.individual, full, role="contact")],
        # TMF629 AccountRef requires name.
        "account": [
            ids.ref("billingAccount", rid, name) for rid, name in _account_ids(ids, profile)
        ],
        "paymentMethod": [
            ids.ref("paymentMethod", ids.id("paymentMethod", n))
            for n in range(1, profile.payment_methods + 1)
        ],
        "validFor": {"startDateTime": since},
    }
    if profile.status == "suspended":
        customer["statusReason"] = "Payment arrears"
    return {"individual": [individual], "customer": [customer]}


# -- the account level -----------------------------------------------------------------------


class _Account:
    __slots__ = ("bill_dates", "bills", "id", "n", "name", "paper", "pm", "start")

    def __init__(self, n: int, rid: str, name: str, paper: bool) -> None:
        self.n = n
        self.id = rid
        self.name = name
        self.paper = paper
        self.start = datetime.date.min
        self.bill_dates: list[datetime.date] = []  # oldest first; period k = [k-1, k)
        self.pm = 1
        self.bills: list[Record] = []

    def period_start(self, k: int) -> datetime.date:
        """Start of the period billed by bill ``k`` (0-based)."""
        return _shift(self.bill_dates[k], -1)


class _Product:
    __slots__ = (
        "account",
        "base",
        "end",
        "id",
        "msisdn",
        "n",
        "offering",
        "order_date",
        "record",
        "resources",
        "services",
        "sim_type",
        "start",
        "status",
    )  # fmt: skip

    def __init__(self, n: int, rid: str, offering: _Offering, account: _Account) -> None:
        self.n = n
        self.id = rid
        self.offering = offering
        self.account = account
        self.start = account.start
        self.end: datetime.date | None = None
        self.status = "active"
        self.order_date = account.start
        self.base: _Product | None = None  # the mobile plan an add-on relies on
        self.msisdn = ""
        self.sim_type = ""
        self.services: list[Record] = []
        self.resources: list[Record] = []
        self.record: Record = {}

    @property
    def kind(self) -> str:
        return self.offering.kind

    def charged(self, account: _Account, k: int) -> bool:
        """Whether bill ``k`` of the account carries this product's recurring charge."""
        period = account.period_start(k)
        return self.start <= period and (self.end is None or period < self.end)


_SERVICE_STATE: Final = {
    "active": "active",
    "pendingTerminate": "active",
    "suspended": "inactive",
    "terminated": "terminated",
}
# resourceStatus, operationalState, administrativeState, usageState per product status
_RESOURCE_STATE: Final = {
    "active": ("available", "enable", "unlocked", "active"),
    "pendingTerminate": ("available", "enable", "unlocked", "active"),
    "suspended": ("suspended", "enable", "locked", "idle"),
    "terminated": ("standby", "disable", "locked", "idle"),
}
_TICKET_STATUS: Final = (
    (0.3, "closed"), (0.15, "resolved"), (0.2, "inProgress"), (0.1, "acknowledged"),
    (0.1, "pending"), (0.05, "held"), (0.05, "cancelled"), (0.05, "rejected"),
)  # fmt: skip
_TICKET_PATH: Final = {
    "acknowledged": ("acknowledged",),
    "inProgress": ("acknowledged", "inProgress"),
    "pending": ("acknowledged", "inProgress", "pending"),
    "held": ("acknowledged", "held"),
    "resolved": ("acknowledged", "inProgress", "resolved"),
    "closed": ("acknowledged", "inProgress", "resolved", "closed"),
    "cancelled": ("acknowledged", "cancelled"),
    "rejected": ("rejected",),
}
_TICKET_OPEN: Final = frozenset({"acknowledged", "inProgress", "pending", "held"})
_CHANGE_REASON: Final = {
    "acknowledged": "Ticket created",
    "inProgress": "Assigned to technical support",
    "pending": "Waiting for the customer's confirmation",
    "held": "Waiting for a technician appointment",
    "resolved": "Fault repaired",
    "closed": "Confirmed by the customer",
    "cancelled": "Cancelled at the customer's request",
    "rejected": "Duplicate of an earlier report",
}
_AGENT_NOTE: Final = {
    "inProgress": "We are looking into this and will update you shortly.",
    "pending": "Could you please restart your device and tell us whether the issue persists?",
    "held": "A technician appointment has been scheduled.",
    "resolved": "The fault has been repaired. Please let us know if anything is still wrong.",
    "closed": "Thank you for confirming. We are closing this ticket.",
    "cancelled": "Cancelled as requested.",
}
_INCIDENTS: Final = {
    "mobile": ("No mobile data", "Calls drop frequently", "Cannot send text messages"),
    "broadband": ("Internet connection drops", "Internet slower than booked", "No dial tone"),
    "tv": ("TV picture freezes", "TV box does not start"),
}
_COMPLAINTS: Final = ("Bill higher than expected", "Unknown charges on my bill", "Charged twice")
_REQUESTS: Final = {
    "mobile": ("Switch to eSIM", "Unlock my SIM card"),
    "broadband": ("Move my broadband to a new address", "Reschedule installation"),
    "tv": ("Add a second TV box", "Change my TV package"),
}
_CONTACT_REASON: Final = {
    "incident": "Reported a fault",
    "complaint": "Complaint about a bill",
    "request": "Service request",
}
_PROBLEM_STATUS: Final = {
    "acknowledged": "acknowledged",
    "inProgress": "inProgress",
    "pending": "inProgress",
    "held": "held",
    "resolved": "resolved",
    "closed": "closed",
    "cancelled": "cancelled",
    "rejected": "rejected",
}
_ORDER_KINDS: Final = (
    (0.35, "add-completed"), (0.1, "modify-completed"), (0.12, "add-acknowledged"),
    (0.13, "add-inProgress"), (0.15, "add-failed"), (0.15, "add-cancelled"),
)  # fmt: skip
_CANCEL_REASONS: Final = (
    "Customer changed their mind",
    "Found a better offer",
    "Ordered by mistake",
)


class _Builder:
    """Builds one customer's account-level records; one instance per call."""

    def __init__(self, plan: SeedPlan, index: int) -> None:
        self.plan = plan
        self.index = index
        self.today = plan.today
        self.now = datetime.datetime(plan.today.year, plan.today.month, plan.today.day)
        self.profile = profile = _profile(plan, index)
        self.ids = _Ids(plan, index)
        self.seed = f"{plan.seed}:{index}:"
        self.full = profile.full_name
        self.accounts = [
            _Account(n, rid, name, profile.paper[n - 1])
            for n, (rid, name) in enumerate(_account_ids(self.ids, profile), start=1)
        ]
        self.pm_ids = [
            self.ids.id("paymentMethod", n) for n in range(1, profile.payment_methods + 1)
        ]
        self.pm_names: list[str] = []
        self.products: list[_Product] = []
        self.resources: dict[str, Record] = {}
        self.out: dict[str, list[Record]] = {
            name: []
            for name, spec in COLLECTIONS.items()
            if spec.owned and name not in ("individual", "customer")
        }

    def rng(self, section: str) -> random.Random:
        # One stream per section, so a change in one section leaves the others as they were.
        return random.Random(self.seed + section)

    def customer(self, role: str) -> Record:
        return self.ids.ref("customer", self.ids.customer, self.full, role=role)

    def account_ref(self, account: _Account) -> Record:
        return self.ids.ref("billingAccount", account.id, account.name)

    def pm_ref(self, n: int) -> Record:
        return self.ids.ref("paymentMethod", self.pm_ids[n - 1], self.pm_names[n - 1])

    def product_ref(self, product: _Product) -> Record:
        return self.ids.ref("product", product.id, product.offering.name)

    def moment(self, rng: random.Random, days_ago: float) -> datetime.datetime:
        """An instant ``days_ago`` days before today, at a plausible time of day."""
        day = _days(self.today, -int(days_ago))
        return datetime.datetime(day.year, day.month, day.day, 8 + int(rng.random() * 12),
                                 int(rng.random() * 60), int(rng.random() * 60))  # fmt: skip

    # -- the whole customer ----------------------------------------------------------------

    def build(self) -> dict[str, list[Record]]:
        self.plan_accounts()
        self.payment_methods()
        self.plan_products()
        self.inventory()
        self.bills()
        self.billing_accounts()
        self.usage()
        orders = self.orders()
        tickets = self.tickets()
        self.problems(tickets)
        self.interactions(tickets, orders)
        for product in self.products:
            self.out["product"].append(product.record)
        return self.out

    def plan_accounts(self) -> None:
        rng = self.rng("accounts")
        profile = self.profile
        for account in self.accounts:
            cycle = profile.cycle_days[account.n - 1]
            count = profile.bills[account.n - 1]
            if self.today.day >= cycle:
                latest = self.today.replace(day=cycle)
            else:
                latest = _shift(self.today, -1, cycle)
            account.bill_dates = [_shift(latest, k - count + 1, cycle) for k in range(count)]
            first_period = account.period_start(0)
            if account.n == 1:
                account.start = profile.since
            else:
                account.start = max(profile.since, _days(first_period, -int(rng.random() * 60)))
            if profile.payment_methods == 2 and account.n > 1 and rng.random() < 0.5:
                account.pm = 2

    def payment_methods(self) -> None:
        rng = self.rng("paymentMethods")
        r = rng.random
        first_card = r() >= 0.6
        for n, rid in enumerate(self.pm_ids, start=1):
            card = first_card if n == 1 else not first_card
            # A method exists before the first bill it pays; a spare one came later.
            users = [a.start for a in self.accounts if a.pm == n]
            spare = min(_days(self.profile.since, 30 + int(r() * 400)), _days(self.today, -1))
            created = min(users) if users else spare
            record: Record = {"id": rid, "href": self.ids.href("paymentMethod", rid)}
            if card:
                brand = _CARD_BRANDS[int(r() * 2)]
                last4 = f"{int(r() * 10000):04d}"
                expiry = _days(_shift(self.today, 5 + int(r() * 44), 1), -1)
                name = f"{brand} ending {last4}"
                record.update(
                    {
                        "@type": "tokenizedCard",
                        "name": name,
                        "description": f"{brand} card stored with our payment provider",
                        "brand": brand,
                        "cardType": "credit" if r() < 0.4 else "debit",
                        "lastFourDigits": last4,
                        # An opaque token from the payment provider, never a card number.
                        "token": "tok_"
                        + "".join(_TOKEN[b % len(_TOKEN)] for b in rng.randbytes(24)),
                        "tokenType": "paymentServiceProviderToken",
                        "issuer": rng.choice(_BANKS)[0],
                        "countryOfIssue": "DE",
                        "expirationDate": _ts(expiry, 23, 59, 59),
                    }
                )
                valid_to = _ts(expiry, 23, 59, 59)
            else:
                bank, bic = rng.choice(_BANKS)
                digits = f"{int(r() * 10000):04d}"
                name = f"SEPA direct debit {bank}"
                record.update(
                    {
                        "@type": "bankAccountDebit",
                        "name": name,
                        "description": "SEPA direct debit mandate",
                        # Masked: only the country code and the last four digits are kept.
                        "accountNumber": f"DE** **** **** **** **{digits[:2]} {digits[2:]}",
                        "accountNumberType": "IBAN",
                        "BIC": bic,
                        "owner": self.full,
                        "bank": bank,
                    }
                )
                valid_to = None
            self.pm_names.append(name)
            record.update(
                {
                    "isPreferred": n == 1,
                    "status": "active",
                    "statusDate": _ts(created, 10),
                    "validFor": {"startDateTime": _ts(created, 10)},
                    "relatedParty": self.customer("owner"),  # a single object in TMF670
                    "account": [self.account_ref(a) for a in self.accounts if a.pm == n],
                }
            )
            if valid_to:
                record["validFor"]["endDateTime"] = valid_to
            self.out["paymentMethod"].append(record)

    # -- products, services, resources -------------------------------------------------------

    def plan_products(self) -> None:
        rng = self.rng("products")
        r = rng.random
        accounts = self.accounts
        per_account = dict.fromkeys(range(1, len(accounts) + 1), 0)
        products = self.products
        for n in range(1, self.profile.products + 1):
            mobiles = [p for p in products if p.kind == "mobile"]
            base: _Product | None = None
            if n <= len(accounts):
                account = accounts[n - 1]
                offering = self.base_offering(rng, first=n == 1, products=products)
            else:
                room = [a for a in accounts if per_account[a.n] < 3]
                base = rng.choice(mobiles) if mobiles and r() < 0.4 else None
                if base is not None and per_account[base.account.n] < 3:
                    account, offering = base.account, rng.choice(_ADDONS)
                else:
                    base = None
                    account = rng.choice(room)
                    offering = self.base_offering(rng, first=False, products=products)
            per_account[account.n] += 1
            product = _Product(n, self.ids.id("product", n), offering, account)
            if base is not None and offering.kind == "addon":
                product.base = base
            if n > len(accounts) and r() < 0.5:
                k = 1 + int(r() * (len(account.bill_dates) - 1))
                product.start = _days(account.period_start(k), 1 + int(r() * 25))
            elif n > len(accounts):
                product.start = min(_days(account.start, int(r() * 60)), account.period_start(0))
            if product.base is not None:  # an add-on comes after its plan
                product.start = max(product.start, _days(product.base.start, 1))
            product.order_date = _days(product.start, -(2 + int(r() * 12)))
            products.append(product)
        # Statuses other than active, within the order budget (each needs a delete order).
        budget = self.profile.orders
        bases = {p.base.n for p in products if p.base is not None}
        for product in products[len(accounts) :]:
            if product.n in bases or product.kind == "addon":
                continue
            x = r()
            bills = product.account.bill_dates
            first = next(
                (k for k in range(len(bills)) if product.charged(product.account, k)), len(bills)
            )
            if x < 0.12 and budget and first + 3 < len(bills):
                k = first + 2 + int(r() * (len(bills) - first - 3))
                product.end = _days(product.account.period_start(k), 1 + int(r() * 25))
                product.status = "terminated"
                budget -= 1
            elif x < 0.18 and budget:
                product.end = _days(self.today, 7 + int(r() * 24))
                product.status = "pendingTerminate"
                budget -= 1
            elif x < 0.21:
                product.status = "suspended"

    def base_offering(self, rng: random.Random, first: bool, products: list[_Product]) -> _Offering:
        x = rng.random()
        has_broadband = any(p.kind == "broadband" for p in products)
        if first:
            kind = "mobile" if x < 0.55 else "broadband" if x < 0.9 else "tv"
        else:
            kind = "mobile" if x < 0.55 else "tv" if x < 0.75 or has_broadband else "broadband"
        if kind == "mobile" and rng.random() < 0.08:
            return _RETIRED[0]  # a legacy contract: the offering is no longer sold
        return rng.choice(_INSTALLABLE[kind])

    def inventory(self) -> None:
        """Each product's services and the resources supporting them (TMF637/638/639)."""
        rng = self.rng("inventory")
        r = rng.random
        profile = self.profile
        address = f"{profile.street}, {profile.postcode} {profile.city}"
        line = 0
        for product in self.products:
            offering = product.offering
            chars: list[tuple[str, str | int | bool]] = []
            services: list[tuple[str, str, str, list[Record]]] = []  # name, spec, type, res
            if product.kind == "mobile":
                line += 1
                product.msisdn = _msisdn(self.plan, self.index, line)
                product.sim_type = "eSIM" if r() < 0.3 else "physical"
                number = self.resource(
                    product, product.msisdn, "LogicalResource", "MSISDN", "msisdn",
                    {"value": product.msisdn},
                )  # fmt: skip
                sim = self.sim(product, rng, product.sim_type, line)
                chars += [("msisdn", product.msisdn), ("simType", product.sim_type)]
                services.append(("Mobile voice & data", "mobile-access", "mobile", [number, sim]))
                if r() < 0.5:
                    services.append(("Voicemail", "voicemail", "voicemail", [number]))
            elif product.kind == "broadband":
                supporting = [self.device(product, rng, "Wi-Fi router", "CPE", "router", "RT")]
                if r() < 0.5:
                    n = self.index * 16 + product.n
                    ip = f"100.{64 + (n >> 16) % 64}.{(n >> 8) & 255}.{n & 255}"
                    supporting.append(
                        self.resource(
                            product, ip, "LogicalResource", "IP address", "ipv4", {"value": ip}
                        )
                    )
                code = (self.index * 16 + product.n) * 7_368_787 % 10_000_000
                landline = f"+49{profile.area}{code:07d}"
                number = self.resource(
                    product, landline, "LogicalResource", "Landline number", "landline",
                    {"value": landline},
                )  # fmt: skip
                access = "fiber-access" if offering.slug.startswith("fiber") else "dsl-access"
                chars.append(("installationAddress", address))
                services.append(("Internet access", access, "internet", supporting))
                services.append(("Home phone (VoIP)", "voip", "voip", [number]))
            elif product.kind == "tv":
                box = self.device(product, rng, "TV box", "Set-top box", "set-top-box", "TB")
                services.append(("IPTV", "iptv", "iptv", [box]))
                if r() < 0.35:
                    services.append(("Replay & cloud recording", "cloud-recording", "iptv", [box]))
            else:  # an add-on relies on its mobile plan's number
                assert product.base is not None
                number = product.base.resources[0]
                chars.append(("msisdn", product.base.msisdn))
                if offering.slug == "multisim":
                    sim = self.sim(product, rng, "eSIM", 8 + product.n)
                    services.append(("MultiSIM", "multisim", "mobile", [number, sim]))
                else:
                    services.append((offering.name, offering.slug, "mobile", [number]))
            chars += offering.characteristics
            self.services(product, services)
            self.out["resource"].extend(product.resources)
            product.record = self.product_record(product, chars, address)

    def resource(
        self, product: _Product, label: str, kind: str, category: str, spec: str, extra: Record
    ) -> Record:
        rid = self.ids.id("resource", product.n, len(product.resources) + 1)
        status, operational, administrative, usage = _RESOURCE_STATE[product.status]
        record: Record = {
            "id": rid,
            "href": self.ids.href("resource", rid),
            "@type": kind,
            "@baseType": "Resource",
            "name": label,
            "category": category,
            "resourceSpecification": {
                "id": "rsp-" + spec,
                "name": category,
                "@referredType": "ResourceSpecification",
            },
            "resourceStatus": status,
            "operationalState": operational,
            "administrativeState": administrative,
            "usageState": usage,
            "startOperatingDate": _ts(product.start, 9),
            "relatedParty": [self.customer("user")],
            **extra,
        }
        if product.status == "terminated" and product.end is not None:
            record["endOperatingDate"] = _ts(product.end, 18)
        product.resources.append(record)
        self.resources[rid] = record
        return record

    def device(
        self, product: _Product, rng: random.Random, label: str, category: str, spec: str,
        prefix: str,
    ) -> Record:  # fmt: skip
        made = _days(product.start, -(30 + int(rng.random() * 300)))
        extra = {
            "serialNumber": f"{prefix}{rng.getrandbits(40):010X}",
            "manufactureDate": _ts(made),
            "powerState": "on" if product.status != "terminated" else "off",
        }
        return self.resource(product, label, "PhysicalResource", category, spec, extra)

    def sim(self, product: _Product, rng: random.Random, sim_type: str, line: int) -> Record:
        serial = (self.index * 16 + line) * 48_271 % 10**12
        iccid = f"894926{serial:012d}{int(rng.random() * 10)}"
        label = "eSIM profile" if sim_type == "eSIM" else "SIM card"
        extra: Record = {
            "serialNumber": iccid,
            "resourceCharacteristic": [
                {"name": "iccid", "valueType": "string", "value": iccid},
                {"name": "simType", "valueType": "string", "value": sim_type},
            ],
        }
        return self.resource(product, label, "PhysicalResource", "SIM", "sim", extra)

    def services(
        self, product: _Product, services: list[tuple[str, str, str, list[Record]]]
    ) -> None:
        state = _SERVICE_STATE[product.status]
        for m, (label, spec, service_type, supporting) in enumerate(services, start=1):
            sid = self.ids.id("service", product.n, m)
            service: Record = {
                "id": sid,
                "href": self.ids.href("service", sid),
                "@type": "Service",
                "name": label,
                "category": "CFS",
                "serviceType": service_type,
                "state": state,
                "hasStarted": True,
                "isServiceEnabled": state == "active",
                "isStateful": True,
                "startDate": _ts(product.start, 9),
                "serviceSpecification": {
                    "id": "ssp-" + spec,
                    "name": label,
                    "version": "1.0",
                    "@referredType": "ServiceSpecification",
                },
                "supportingResource": [
                    self.ids.ref("resource", res["id"], res["name"]) for res in supporting
                ],
                "relatedEntity": [
                    self.ids.ref("product", product.id, product.offering.name, role="realizes")
                ],
                "relatedParty": [self.customer("user")],
            }
            if product.status == "terminated" and product.end is not None:
                service["endDate"] = _ts(product.end, 18)
            product.services.append(service)
            self.out["service"].append(service)

    def product_record(
        self, product: _Product, chars: list[tuple[str, str | int | bool]], address: str
    ) -> Record:
        offering = product.offering
        record: Record = {
            "id": product.id,
            "href": self.ids.href("product", product.id),
            "@type": "Product",
            "name": offering.name,
            "description": f"{offering.name} for {self.full}",
            "isBundle": False,
            "isCustomerVisible": True,
            "status": product.status,
            "orderDate": _ts(product.order_date, 11),
            "startDate": _ts(product.start, 9),
            "productOffering": _offering_ref(self.plan, offering),
            "productSpecification": {
                "id": "psp-" + offering.kind,
                "name": f"{offering.kind.capitalize()} product",
                "@referredType": "ProductSpecification",
            },
            "productCharacteristic": [
                {"name": k, "valueType": _value_type(v), "value": v} for k, v in chars
            ],
            "productPrice": self.product_prices(offering, product.account),
            "billingAccount": self.account_ref(product.account),
            "realizingService": [
                self.ids.ref("service", s["id"], s["name"]) for s in product.services
            ],
            "realizingResource": [self.resource_ref(res) for res in product.resources],
            "relatedParty": [self.customer("owner")],
        }
        if product.end is not None:
            record["terminationDate"] = _ts(product.end, 18)
        if product.kind == "broadband":
            record["place"] = [{"role": "installationAddress", "name": address}]
        if product.base is not None:
            record["productRelationship"] = [
                {"relationshipType": "reliesOn", "product": self.product_ref(product.base)}
            ]
        return record

    def resource_ref(self, res: Record) -> Record:
        if "value" in res:
            return self.ids.ref("resource", res["id"], res["name"], value=res["value"])
        return self.ids.ref("resource", res["id"], res["name"])

    def product_prices(self, offering: _Offering, account: _Account) -> list[Record]:
        prices = []
        for pop_id, name, incl, price_type in _price_ids(offering):
            price: Record = {
                "name": name,
                "priceType": price_type,
                "price": _price_value(incl),
                "productOfferingPrice": {
                    "id": pop_id,
                    "href": _catalog_href(self.plan, "productOfferingPrice", pop_id),
                    "name": name,
                    "@referredType": "ProductOfferingPrice",
                },
                "billingAccount": self.account_ref(account),
            }
            if price_type == "recurring":
                price["recurringChargePeriod"] = "month"
            prices.append(price)
        return prices

    # -- billing -----------------------------------------------------------------------------

    def bills(self) -> None:
        """Monthly bills with their rates (TMF678) and the payments that settled them (TMF676)."""
        rng = self.rng("bills")
        for account in self.accounts:
            on_account = [p for p in self.products if p.account is account]
            count = len(account.bill_dates)
            states = self.bill_states(rng, account)
            for k, bill_date in enumerate(account.bill_dates):
                rows = self.bill_rows(rng, account, on_account, k)
                self.bill(rng, account, k, count, bill_date, rows, states[k])

    def bill_states(self, rng: random.Random, account: _Account) -> list[str]:
        """Older bills are settled; the latest one or two may still be open."""
        r = rng.random
        count = len(account.bill_dates)
        latest = account.bill_dates[-1]
        states = ["partiallyPaid" if r() < 0.015 else "settled" for _ in range(count)]
        if self.today < _days(latest, _DUE_DAYS):
            states[-1] = "new" if (self.today - latest).days <= 2 else "sent"
        else:
            x = r()
            states[-1] = "settled" if x < 0.7 else "sent" if x < 0.9 else "partiallyPaid"
        if states[-1] != "settled" and r() < 0.15:
            states[-2] = "sent" if r() < 0.7 else "partiallyPaid"
        return states

    def bill_rows(
        self, rng: random.Random, account: _Account, products: list[_Product], k: int
    ) -> list[tuple[str, str, int, int, _Product | None, datetime.date, datetime.date]]:
        """(type, name, excl, incl, product, from, to) of the rates on bill ``k``."""
        r = rng.random
        period_start = account.period_start(k)
        period_end = _days(account.bill_dates[k], -1)
        rows: list[tuple[str, str, int, int, _Product | None, datetime.date, datetime.date]] = []
        charged = [p for p in products if p.charged(account, k)]
        for p in charged:
            monthly = p.offering.monthly
            name = f"{p.offering.name} monthly fee"
            rows.append(("recurringCharge", name, _excl(monthly), monthly, p, period_start,
                         period_end))  # fmt: skip
        for p in products:
            if p.offering.one_time and period_start <= p.start <= period_end:
                incl = p.offering.one_time
                name = f"{p.offering.name} {p.offering.one_time_name.lower()}"
                rows.append(("oneTimeCharge", name, _excl(incl), incl, p, p.start, p.start))
        usage_rows = []
        for p in charged:
            chance = {"mobile": 0.7, "broadband": 0.6, "tv": 0.25}.get(p.kind, 0.0)
            if r() < chance:
                usage_rows.append(self.usage_row(rng, p, period_start, period_end))
        rows += usage_rows
        if account.paper:
            rows.append(("recurringCharge", "Paper bill fee", _excl(150), 150, None,
                         period_start, period_end))  # fmt: skip
        if r() < 0.04:
            rows.append(("appliedPenaltyCharge", "Late payment fee", 500, 500, None,
                         period_end, period_end))  # fmt: skip
        if len(rows) < 2:
            first = charged[0] if charged else products[0]
            rows.append(self.usage_row(rng, first, period_start, period_end))
        return rows[:5]

    def usage_row(
        self, rng: random.Random, product: _Product, start: datetime.date, end: datetime.date
    ) -> tuple[str, str, int, int, _Product | None, datetime.date, datetime.date]:
        r = rng.random
        if product.kind == "broadband":
            excl = 9 + int(r() * 990)
            return ("usageCharge", "Landline calls", excl, _incl(excl), product, start, end)
        if product.kind == "tv":
            incl = (399, 499, 599)[int(r() * 3)]
            return ("usageCharge", "Video on demand rental", _excl(incl), incl, product, start,
                    end)  # fmt: skip
        excl = 19 + int(r() * 1870)
        label = "Calls, texts and data outside your plan"
        return ("usageCharge", label, excl, _incl(excl), product, start, end)

    def bill(
        self,
        rng: random.Random,
        account: _Account,
        k: int,
        count: int,
        bill_date: datetime.date,
        rows: list[tuple[str, str, int, int, _Product | None, datetime.date, datetime.date]],
        state: str,
    ) -> None:
        ids = self.ids
        number = f"{k + 1:02d}"
        bill_id = ids.id("customerBill", account.n, number)
        bill_no = f"INV-{bill_date.year}{bill_date.month:02d}-{ids.tag}{account.n}"
        bill_ref = ids.ref("customerBill", bill_id)
        account_ref = self.account_ref(account)
        issued = _ts(bill_date, 2)
        excl_total = incl_total = 0
        for m, (kind, name, excl, incl, product, start, end) in enumerate(rows, start=1):
            rid = ids.id("appliedCustomerBillingRate", account.n, number, m)
            excl_total += excl
            incl_total += incl
            rate: Record = {
                "id": rid,
                "href": ids.href("appliedCustomerBillingRate", rid),
                "@type": "AppliedCustomerBillingRate",
                "name": name,
                "description": name,
                "type": kind,
                "date": issued,
                "isBilled": True,
                "periodCoverage": {
                    "startDateTime": _ts(start),
                    "endDateTime": _ts(end, 23, 59, 59),
                },
                "taxExcludedAmount": _money(excl),
                "taxIncludedAmount": _money(incl),
                "appliedTax": [
                    {
                        "taxCategory": "VAT",
                        "taxRate": _VAT_RATE if incl != excl else 0.0,
                        "taxAmount": _money(incl - excl),
                    }
                ],
                "bill": dict(bill_ref),
                "billingAccount": dict(account_ref),
            }
            if product is not None:
                rate["product"] = self.product_ref(product)
            self.out["appliedCustomerBillingRate"].append(rate)

        due = _days(bill_date, _DUE_DAYS)
        paid = 0
        if state == "settled":
            paid = incl_total
        elif state == "partiallyPaid":
            paid = max(100, incl_total * (20 + int(rng.random() * 60)) // 100)
            paid = min(paid, incl_total - 1)
        record: Record = {
            "id": bill_id,
            "href": ids.href("customerBill", bill_id),
            "@type": "CustomerBill",
            "billNo": bill_no,
            "billDate": issued,
            "lastUpdate": issued,
            "paymentDueDate": _ts(due),
            "category": "normal",
            "runType": "onCycle",
            "state": state,
            "billingPeriod": {
                "startDateTime": _ts(account.period_start(k)),
                "endDateTime": _ts(_days(bill_date, -1), 23, 59, 59),
            },
            "amountDue": _money(incl_total),
            "taxExcludedAmount": _money(excl_total),
            "taxIncludedAmount": _money(incl_total),
            "remainingAmount": _money(incl_total - paid),
            "taxItem": [
                {
                    "taxCategory": "VAT",
                    "taxRate": _VAT_RATE,
                    "taxAmount": _money(incl_total - excl_total),
                }
            ],
            "billDocument": [
                {
                    "name": f"{bill_no}.pdf",
                    "mimeType": "application/pdf",
                    "attachmentType": "bill",
                    "url": f"{self.plan.base_url}/documents/bills/{bill_id}.pdf",
                }
            ],
            "billingAccount": account_ref,
            "paymentMethod": self.pm_ref(account.pm),
            "relatedParty": [self.customer("customer")],
        }
        if k == count - 1:
            record["nextBillDate"] = _ts(_shift(bill_date, 1), 2)
        if paid:
            day = min(_days(bill_date, 2 + int(rng.random() * 12)), _days(self.today, -1))
            when = _ts(day, 6 + int(rng.random() * 14), int(rng.random() * 60))
            pay_id = ids.id("payment", account.n, number)
            record["lastUpdate"] = when
            record["appliedPayment"] = [
                {"appliedAmount": _money(paid), "payment": ids.ref("payment", pay_id)}
            ]
            self.payment(rng, account, pay_id, when, paid, bill_id, bill_no, state)
        account.bills.append(record)
        self.out["customerBill"].append(record)

    def payment(
        self,
        rng: random.Random,
        account: _Account,
        pay_id: str,
        when: str,
        cents: int,
        bill_id: str,
        bill_no: str,
        state: str,
    ) -> None:
        method = self.out["paymentMethod"][account.pm - 1]
        if method["@type"] == "bankAccountDebit" and state == "settled":
            channel = {"id": "billing-run", "name": "Automatic collection"}
        else:
            key = ("web", "app", "ivr")[int(rng.random() * 3)]
            channel = {"id": key, "name": _CHANNELS[key]}
        self.out["payment"].append(
            {
                "id": pay_id,
                "href": self.ids.href("payment", pay_id),
                "@type": "Payment",
                "description": f"Payment for bill {bill_no}",
                "paymentDate": when,
                "status": _PAYMENT_DONE,
                "statusDate": when,
                "account": self.account_ref(account),
                "paymentMethod": self.pm_ref(account.pm),
                "payer": self.customer("payer"),
                "channel": channel,
                "amount": _money(cents),
                "totalAmount": _money(cents),
                "paymentItem": [
                    {
                        "id": "1",
                        "amount": _money(cents),
                        "totalAmount": _money(cents),
                        "item": self.ids.ref("customerBill", bill_id, bill_no),
                    }
                ],
            }
        )

    def billing_accounts(self) -> None:
        """Billing accounts (TMF666), whose balance is what their bills still owe."""
        for account in self.accounts:
            owed = sum(round(b["remainingAmount"]["value"] * 100) for b in account.bills)
            changed = max(b["lastUpdate"] for b in account.bills)
            cycle = account.bill_dates[-1].day
            self.out["billingAccount"].append(
                {
                    "id": account.id,
                    "href": self.ids.href("billingAccount", account.id),
                    "@type": "BillingAccount",
                    "name": account.name,
                    "description": f"{account.name} of {self.full}",
                    "accountType": "postpaid",
                    "state": "active",
                    "paymentStatus": "due" if owed else "paid",
                    "lastModified": changed,
                    "accountBalance": [
                        {
                            "balanceType": _OUTSTANDING,
                            "amount": _money(owed),
                            "validFor": {"startDateTime": changed},
                        }
                    ],
                    "creditLimit": _money(50_000),
                    "billStructure": {
                        "cycleSpecification": {
                            "name": f"Monthly on day {cycle}",
                            "isRef": False,
                            "frequency": "monthly",
                            "billingPeriod": "month",
                            "billingDateShift": cycle,
                            "paymentDueDateOffset": _DUE_DAYS,
                        },
                        "format": {"name": "PDF", "isRef": False},
                        "presentationMedia": [
                            {"name": "paper" if account.paper else "email", "isRef": False}
                        ],
                    },
                    "defaultPaymentMethod": self.pm_ref(account.pm),
                    # TMF666 RelatedParty requires name.
                    "relatedParty": [self.customer("owner")],
                }
            )

    def usage(self) -> None:
        """Recent usage of the mobile plans (TMF635); usage before the last bill is billed."""
        rng = self.rng("usage")
        r = rng.random
        for product in self.products:
            if product.kind != "mobile" or product.status not in ("active", "pendingTerminate"):
                continue
            billed_until = product.account.bill_dates[-1]
            for m in range(1, 3 + int(r() * 5)):
                day = _days(self.today, -(1 + int(r() * 29)))
                if day < product.start:
                    continue
                x = r()
                kind = "voice" if x < 0.45 else "data" if x < 0.8 else "sms"
                when = _ts(day, 7 + int(r() * 15), int(r() * 60), int(r() * 60))
                excl = 0
                characteristic: list[tuple[str, str | int]]
                if kind == "voice":
                    seconds = 20 + int(r() * 1500)
                    callee = _msisdn(self.plan, 1 + int(r() * 99_999), 1)
                    characteristic = [
                        ("originatingNumber", product.msisdn), ("destinationNumber", callee),
                        ("duration", seconds), ("durationUnit", "seconds"),
                    ]  # fmt: skip
                    if r() < 0.2:
                        excl = 9 * (seconds // 60 + 1)  # calls abroad: 0.09 a minute
                elif kind == "data":
                    characteristic = [
                        ("msisdn", product.msisdn), ("volume", 5 + int(r() * 2500)),
                        ("volumeUnit", "MB"), ("apn", "internet"),
                    ]  # fmt: skip
                else:
                    callee = _msisdn(self.plan, 1 + int(r() * 99_999), 1)
                    characteristic = [
                        ("originatingNumber", product.msisdn), ("destinationNumber", callee),
                        ("messages", 1),
                    ]  # fmt: skip
                billed = day < billed_until
                uid = self.ids.id("usage", product.n, m)
                self.out["usage"].append(
                    {
                        "id": uid,
                        "href": self.ids.href("usage", uid),
                        "@type": "Usage",
                        "description": f"{kind} usage of {product.msisdn}",
                        "usageDate": when,
                        "usageType": kind,
                        "status": "billed" if billed else "rated",
                        "usageSpecification": {
                            "id": "usp-" + kind,
                            "name": f"{kind.capitalize()} usage",
                            "@referredType": "UsageSpecification",
                        },
                        "usageCharacteristic": [
                            {"name": n, "valueType": _value_type(v), "value": v}
                            for n, v in characteristic
                        ],
                        "ratedProductUsage": [
                            {
                                "ratingDate": when,
                                "usageRatingTag": "outOfBundle" if excl else "included",
                                "isBilled": billed,
                                "isTaxExempt": False,
                                "taxRate": _VAT_RATE,
                                "taxExcludedRatingAmount": _money(excl),
                                "taxIncludedRatingAmount": _money(_incl(excl)),
                                "productRef": self.product_ref(product),
                            }
                        ],
                        "relatedParty": [self.customer("user")],
                    }
                )

    # -- fulfillment -------------------------------------------------------------------------

    def orders(self) -> list[tuple[Record, datetime.datetime, str]]:
        """Product orders (TMF622) consistent with the inventory, and service orders (TMF641)
        for some of them; returns (order, order time, channel) for the interactions."""
        rng = self.rng("orders")
        r = rng.random
        # (order time, kind, product, offerings)
        plans: list[tuple[datetime.datetime, str, _Product | None, list[_Offering]]] = []
        for p in self.products:
            if p.status == "terminated" and p.end is not None:
                before = (self.today - p.end).days + 3 + int(r() * 15)
                plans.append((self.moment(rng, before), "delete-completed", p, [p.offering]))
            elif p.status == "pendingTerminate":
                plans.append((self.moment(rng, 1 + r() * 9), "delete-inProgress", p, [p.offering]))
        added: set[int] = set()
        has_mobile = any(p.kind == "mobile" for p in self.products)
        while len(plans) < self.profile.orders:
            kind = _pick(rng, _ORDER_KINDS)
            if kind == "add-completed":
                fresh = [p for p in self.products if p.n not in added]
                if fresh:
                    p = rng.choice(fresh)
                    added.add(p.n)
                    at = datetime.datetime.combine(p.order_date, datetime.time(11))
                    plans.append((at, kind, p, [p.offering]))
                    continue
                kind = "add-acknowledged"
            if kind == "modify-completed":
                esims = [
                    p for p in self.products
                    if p.sim_type == "eSIM" and p.status == "active" and p.start < self.today
                ]  # fmt: skip
                if esims:
                    p = rng.choice(esims)
                    span = max(1, (self.today - p.start).days - 2)
                    plans.append((self.moment(rng, 2 + r() * span), kind, p, [p.offering]))
                    continue
                kind = "add-inProgress"
            if kind == "add-failed":
                plans.append((self.moment(rng, 10 + r() * 140), kind, None, [_RETIRED[0]]))
                continue
            offering = self.new_offering(rng, has_mobile)
            offerings = [offering]
            if kind == "add-acknowledged":
                at = self.moment(rng, 1 + r() * 2)
            elif kind == "add-inProgress":
                at = self.moment(rng, 1 + r() * 10)
                if offering.kind == "mobile" and r() < 0.4:
                    offerings.append(_BY_SLUG["phone-lite" if r() < 0.6 else "phone-pro"])
            else:
                at = self.moment(rng, 10 + r() * 290)
            plans.append((at, kind, None, offerings))
        plans.sort(key=lambda plan: plan[0])

        result: list[tuple[Record, datetime.datetime, str]] = []
        service_orders = 0
        for n, (at, kind, product, offerings) in enumerate(plans, start=1):
            order, channel = self.order(rng, n, at, kind, product, offerings)
            result.append((order, at, channel))
            self.out["productOrder"].append(order)
            chance = {"add-completed": 0.6, "delete-completed": 0.6, "delete-inProgress": 1.0}
            wants = chance.get(kind, 0.7 if kind == "add-inProgress" else 0.0)
            if offerings[0].kind == "device" or r() >= wants:
                continue
            service_orders += 1
            self.service_order(service_orders, order, at, kind, product, offerings[0])
        return result

    def new_offering(self, rng: random.Random, has_mobile: bool) -> _Offering:
        x = rng.random()
        kind = (
            "mobile" if x < 0.45 else "broadband" if x < 0.6 else "tv" if x < 0.7
            else "device" if x < 0.85 or not has_mobile else "addon"
        )  # fmt: skip
        return rng.choice([o for o in _SELLABLE if o.kind == kind])

    def order_prices(self, offerings: list[_Offering]) -> tuple[list[list[Record]], list[Record]]:
        """Item prices per offering, and the order's totals per price type."""
        totals: dict[str, int] = {}
        per_item = []
        for offering in offerings:
            prices = []
            for pop_id, name, incl, price_type in _price_ids(offering):
                totals[price_type] = totals.get(price_type, 0) + incl
                price: Record = {
                    "name": name,
                    "priceType": price_type,
                    "price": _price_value(incl),
                    "productOfferingPrice": {
                        "id": pop_id,
                        "href": _catalog_href(self.plan, "productOfferingPrice", pop_id),
                        "name": name,
                        "@referredType": "ProductOfferingPrice",
                    },
                }
                if price_type == "recurring":
                    price["recurringChargePeriod"] = "month"
                prices.append(price)
            per_item.append(prices)
        total = []
        for price_type, incl in totals.items():
            entry: Record = {"name": f"Total {price_type}", "priceType": price_type,
                             "price": _price_value(incl)}  # fmt: skip
            if price_type == "recurring":
                entry["recurringChargePeriod"] = "month"
            total.append(entry)
        return per_item, total

    def order(
        self,
        rng: random.Random,
        n: int,
        at: datetime.datetime,
        kind: str,
        product: _Product | None,
        offerings: list[_Offering],
    ) -> tuple[Record, str]:
        r = rng.random
        oid = self.ids.id("productOrder", n)
        href = self.ids.href("productOrder", oid)
        action, state = kind.split("-")
        account = (
            product.account if product is not None else self.accounts[int(r() * len(self.accounts))]
        )
        channel = rng.choice(tuple(_CHANNELS))
        item_prices, totals = self.order_prices(offerings if action == "add" else [])
        items: list[Record] = []
        for m, offering in enumerate(offerings, start=1):
            item: Record = {
                "id": str(m),
                "action": action,
                "quantity": 1,
                "state": state,
                "productOffering": _offering_ref(self.plan, offering),
            }
            if action == "add":
                item["itemPrice"] = item_prices[m - 1]
            if product is not None:
                item["product"] = self.product_ref(product)
            if action == "modify":
                item["product"]["productCharacteristic"] = [
                    {"name": "simType", "valueType": "string", "value": "eSIM"}
                ]
            items.append(item)
        names = ", ".join(o.name for o in offerings)
        verb = {"add": "New", "modify": "Change of", "delete": "Termination of"}[action]
        record: Record = {
            "id": oid,
            "href": href,
            "@type": "ProductOrder",
            "category": "B2C product order",
            "description": f"{verb} {names}" + (": switch to eSIM" if action == "modify" else ""),
            "priority": "4",
            "orderDate": _stamp(at),
            "requestedStartDate": _stamp(at),
            "state": state,
            "billingAccount": self.account_ref(account),
            "channel": [{"id": channel, "name": _CHANNELS[channel], "role": "salesChannel"}],
            "relatedParty": [self.customer("customer")],
            "productOrderItem": items,
        }
        if totals:
            record["orderTotalPrice"] = totals
        if kind == "add-completed":
            assert product is not None
            record["completionDate"] = _ts(product.start, 9)
            product.record["productOrderItem"] = [
                {
                    "orderItemId": "1",
                    "productOrderId": oid,
                    "productOrderHref": href,
                    "orderItemAction": "add",
                    "role": "origin",
                    "@referredType": "ProductOrderItem",
                }
            ]
        elif kind == "delete-completed":
            assert product is not None
            assert product.end is not None
            record["completionDate"] = _ts(product.end, 18)
            record["requestedCompletionDate"] = _ts(product.end, 18)
        elif kind == "delete-inProgress":
            assert product is not None
            assert product.end is not None
            record["requestedCompletionDate"] = _ts(product.end, 18)
            record["expectedCompletionDate"] = _ts(product.end, 18)
        elif kind == "modify-completed":
            record["completionDate"] = _stamp(at + datetime.timedelta(hours=2 + r() * 20))
        elif state in ("acknowledged", "inProgress"):
            record["expectedCompletionDate"] = _ts(_days(self.today, 2 + int(r() * 12)), 18)
        elif state == "failed":
            record["completionDate"] = _stamp(at + datetime.timedelta(minutes=5 + r() * 600))
            record["note"] = [
                {
                    "id": "1",
                    "author": "Order management",
                    "date": record["completionDate"],
                    "text": f"{offerings[0].name} is retired and can no longer be ordered.",
                }
            ]
        elif state == "cancelled":
            record["cancellationDate"] = _stamp(at + datetime.timedelta(hours=2 + r() * 70))
            record["cancellationReason"] = rng.choice(_CANCEL_REASONS)
        return record, channel

    def service_order(
        self,
        n: int,
        order: Record,
        at: datetime.datetime,
        kind: str,
        product: _Product | None,
        offering: _Offering,
    ) -> None:
        action, state = kind.split("-")
        sid = self.ids.id("serviceOrder", n)
        if product is not None:
            targets: list[Record] = [
                self.ids.ref("service", s["id"], s["name"]) for s in product.services
            ]
        else:
            targets = [
                {
                    "name": f"{offering.name} service",
                    "state": "designed",
                    "serviceSpecification": {
                        "id": "ssp-" + offering.kind,
                        "name": f"{offering.kind.capitalize()} service",
                        "@referredType": "ServiceSpecification",
                    },
                    "@type": "Service",
                }
            ]
        started = _stamp(at + datetime.timedelta(hours=1))
        record: Record = {
            "id": sid,
            "href": self.ids.href("serviceOrder", sid),
            "@type": "ServiceOrder",
            "externalId": order["id"],
            "description": f"Service order for product order {order['id']}",
            "category": "CFS",
            "priority": "4",
            "orderDate": started,
            "startDate": started,
            "state": state,
            "relatedParty": [self.customer("customer")],
            "externalReference": [{"externalReferenceType": "productOrder", "name": order["id"]}],
            "serviceOrderItem": [
                {"id": str(m), "action": action, "state": state, "service": target}
                for m, target in enumerate(targets, start=1)
            ],
        }
        if "completionDate" in order and state == "completed":
            done = datetime.datetime.fromisoformat(order["completionDate"].replace("Z", ""))
            record["completionDate"] = _stamp(done - datetime.timedelta(hours=1))
        elif "expectedCompletionDate" in order:
            record["expectedCompletionDate"] = order["expectedCompletionDate"]
        self.out["serviceOrder"].append(record)

    # -- assurance ---------------------------------------------------------------------------

    def tickets(self) -> list[tuple[Record, datetime.datetime, str, Record | None]]:
        """Trouble tickets (TMF621) with a consistent status history; returns (ticket,
        creation time, channel, affected service)."""
        rng = self.rng("tickets")
        r = rng.random
        plans = []
        for _ in range(self.profile.tickets):
            kind = _pick(rng, ((0.55, "incident"), (0.3, "complaint"), (0.15, "request")))
            status: str = _pick(rng, _TICKET_STATUS)
            created = self.moment(rng, 1 + r() * 19 if status in _TICKET_OPEN else 10 + r() * 170)
            usable = [
                p for p in self.products
                if p.kind != "addon" and p.status in ("active", "pendingTerminate")
                and p.start < created.date()
            ]  # fmt: skip
            if not usable:
                kind = "complaint"
            plans.append((created, kind, status, rng.choice(usable) if usable else None))
        plans.sort(key=lambda plan: plan[0])

        result: list[tuple[Record, datetime.datetime, str, Record | None]] = []
        for n, (created, kind, status, product) in enumerate(plans, start=1):
            tid = self.ids.id("troubleTicket", n)
            service: Record | None = None
            entities: list[Record] = []
            if kind == "complaint" or product is None:
                bills = [
                    b for a in self.accounts for b in a.bills if b["billDate"] < _stamp(created)
                ]
                bill = max(bills[-3:], key=lambda b: b["billDate"]) if r() < 0.5 else bills[-1]
                title = rng.choice(_COMPLAINTS)
                text = f"{title}: bill {bill['billNo']} of {bill['amountDue']['value']:.2f} EUR."
                entities.append(
                    self.ids.ref("customerBill", bill["id"], bill["billNo"], role="disputedBill")
                )
                severity = "Minor"
            else:
                service = product.services[0]  # the main service: access, IPTV
                where = product.msisdn or product.offering.name
                if kind == "incident":
                    title = rng.choice(_INCIDENTS[product.kind])
                    severity = "Critical" if r() < 0.1 else "Major" if r() < 0.6 else "Minor"
                    entities.append(
                        self.ids.ref("service", service["id"], service["name"],
                                     role="affectedService")
                    )  # fmt: skip
                else:
                    title = rng.choice(_REQUESTS[product.kind])
                    severity = "Minor"
                    service = None
                text = f"{title} ({product.offering.name}, {where})."
                entities.append(
                    self.ids.ref("product", product.id, product.offering.name,
                                 role="affectedProduct" if kind == "incident" else "relatedProduct")
                )  # fmt: skip
            path = _TICKET_PATH[status]
            span = (self.now - created).total_seconds() / len(path)
            times = [created]
            for _ in path[1:]:
                times.append(times[-1] + datetime.timedelta(seconds=span * (0.2 + 0.7 * r())))
            changes = [
                {"status": s, "changeDate": _stamp(t), "changeReason": _CHANGE_REASON[s]}
                for s, t in zip(path, times, strict=True)
            ]
            notes = [{"id": "1", "author": self.full, "date": _stamp(created), "text": text}]
            for s, t in zip(path[1:], times[1:], strict=True):
                if s in _AGENT_NOTE:
                    notes.append(
                        {"id": str(len(notes) + 1), "author": "Customer care",
                         "date": _stamp(t), "text": _AGENT_NOTE[s]}
                    )  # fmt: skip
            channel = rng.choice(tuple(_CHANNELS))
            last = changes[-1]
            record: Record = {
                "id": tid,
                "href": self.ids.href("troubleTicket", tid),
                "@type": "TroubleTicket",
                "name": title,
                "description": text,
                "ticketType": kind,
                "severity": severity,
                "priority": {"Critical": "High", "Major": "Medium"}.get(severity, "Low"),
                "status": status,
                "creationDate": _stamp(created),
                "lastUpdate": last["changeDate"],
                "statusChangeDate": last["changeDate"],
                "statusChangeReason": last["changeReason"],
                "statusChange": changes,
                "note": notes,
                "channel": {"id": channel, "name": _CHANNELS[channel]},
                "relatedEntity": entities,
                "relatedParty": [self.customer("reporter")],
            }
            if status in _TICKET_OPEN:
                record["expectedResolutionDate"] = _ts(_days(self.today, 1 + int(r() * 5)), 18)
            if "resolved" in path:
                record["resolutionDate"] = changes[path.index("resolved")]["changeDate"]
            self.out["troubleTicket"].append(record)
            result.append((record, created, channel, service))
        return result

    def problems(self, tickets: list[tuple[Record, datetime.datetime, str, Record | None]]) -> None:
        """Service problems (TMF656), most raised from an incident ticket; an open problem
        puts the first resource of its service in alarm."""
        rng = self.rng("problems")
        r = rng.random
        linkable = [t for t in tickets if t[3] is not None]
        live = [
            s for p in self.products
            if p.kind != "addon" and p.status in ("active", "pendingTerminate")
            for s in p.services
        ]  # fmt: skip
        for n in range(1, self.profile.problems + 1):
            pid = self.ids.id("serviceProblem", n)
            ticket: Record | None = None
            if linkable and r() < 0.8:
                ticket, created, _, service = linkable.pop(0)
                assert service is not None
                created += datetime.timedelta(minutes=10 + r() * 110)
                status = _PROBLEM_STATUS[ticket["status"]]
                origin = "Trouble ticketing"
            else:
                status = _pick(
                    rng,
                    ((0.1, "acknowledged"), (0.3, "inProgress"), (0.3, "resolved"),
                     (0.3, "closed")),
                )  # fmt: skip
                open_ = status in ("acknowledged", "inProgress")
                created = self.moment(rng, 1 + r() * 9 if open_ else 10 + r() * 80)
                running = [s for s in live if s["startDate"] < _stamp(created)]
                service = rng.choice(running or live)
                origin = "Self-diagnostics"
            changed = created + (self.now - created) * (0.1 + 0.8 * r())
            record: Record = {
                "id": pid,
                "href": self.ids.href("serviceProblem", pid),
                "@type": "ServiceProblem",
                "name": f"{service['name']} degraded",
                "description": f"{service['name']} does not work as expected",
                "category": "connectivity" if service["serviceType"] != "iptv" else "quality",
                "priority": 1 + int(r() * 4),
                "impactImportanceFactor": "medium",
                "reason": "Service degradation reported",
                "originatingSystem": origin,
                "status": status,
                "creationDate": _stamp(created),
                "statusChangeDate": _stamp(changed),
                "lastUpdate": _stamp(changed),
                "affectedNumberOfServices": 1,
                "affectedService": [self.ids.ref("service", service["id"], service["name"])],
                "originatorParty": self.customer("originator"),
                "relatedParty": [self.customer("customer")],
            }
            if ticket is not None:
                record["troubleTicket"] = [
                    self.ids.ref("troubleTicket", ticket["id"], ticket["name"])
                ]
            if status in ("resolved", "closed"):
                record["resolutionDate"] = _stamp(changed)
            elif status not in ("cancelled", "rejected"):
                first = service["supportingResource"][0]["id"]
                self.resources[first]["resourceStatus"] = "alarm"
            self.out["serviceProblem"].append(record)

    # -- CRM ---------------------------------------------------------------------------------

    def interactions(
        self,
        tickets: list[tuple[Record, datetime.datetime, str, Record | None]],
        orders: list[tuple[Record, datetime.datetime, str]],
    ) -> None:
        """Past contacts with the customer (TMF683), most about a ticket, order or bill."""
        rng = self.rng("interactions")
        r = rng.random
        open_tickets = list(tickets)
        open_orders = list(orders)
        surveys = [t for t in tickets if t[0]["status"] == "closed"]
        bills = [b for a in self.accounts for b in a.bills[-4:]]
        plans: list[tuple[datetime.datetime, str, str, str, Record | None]] = []
        for _ in range(self.profile.interactions):
            x = r()
            if x < 0.35 and open_tickets:
                ticket, created, channel, _ = open_tickets.pop(0)
                item = self.ids.ref("troubleTicket", ticket["id"], ticket["name"],
                                    role="createdTicket")  # fmt: skip
                start = created - datetime.timedelta(minutes=3 + r() * 20)
                reason = _CONTACT_REASON[ticket["ticketType"]]
                plans.append((start, channel, "inbound", reason, item))
            elif x < 0.6 and open_orders:
                order, at, channel = open_orders.pop(0)
                item = self.ids.ref("productOrder", order["id"], role="createdOrder")
                start = at - datetime.timedelta(minutes=5 + r() * 25)
                plans.append((start, channel, "inbound", "Placed an order", item))
            elif x < 0.7 and surveys:
                ticket = surveys.pop(0)[0]
                closed = datetime.datetime.fromisoformat(ticket["statusChangeDate"][:-1])
                start = min(closed + datetime.timedelta(days=1 + r() * 2),
                            self.now - datetime.timedelta(hours=6))  # fmt: skip
                item = self.ids.ref("troubleTicket", ticket["id"], ticket["name"], role="subject")
                reason = "Customer satisfaction survey"
                plans.append((start, "agent-desktop", "outbound", reason, item))
            elif x < 0.88:
                bill = rng.choice(bills)
                day = datetime.datetime.fromisoformat(bill["billDate"][:-1])
                start = min(day + datetime.timedelta(days=1 + r() * 8, hours=6 + r() * 10),
                            self.now - datetime.timedelta(hours=6))  # fmt: skip
                item = self.ids.ref("customerBill", bill["id"], bill["billNo"], role="subject")
                channel = rng.choice(tuple(_CHANNELS))
                plans.append((start, channel, "inbound", "Question about a bill", item))
            else:
                channel = rng.choice(tuple(_CHANNELS))
                plans.append((self.moment(rng, 5 + r() * 300), channel, "inbound",
                              "Tariff advice", None))  # fmt: skip
        plans.sort(key=lambda plan: plan[0])
        for n, (start, channel, direction, reason, subject) in enumerate(plans, start=1):
            iid = self.ids.id("partyInteraction", n)
            end = _stamp(start + datetime.timedelta(minutes=3 + r() * 22))
            record: Record = {
                "id": iid,
                "href": self.ids.href("partyInteraction", iid),
                "@type": "PartyInteraction",
                "description": f"{reason} via {_CHANNELS[channel]}",
                "reason": reason,
                "direction": direction,
                "status": "completed",
                "creationDate": _stamp(start),
                "statusChangeDate": end,
                "interactionDate": {"startDateTime": _stamp(start), "endDateTime": end},
                # TMF683 RelatedChannel requires an href, yet channels are no resource here.
                "channel": [
                    {
                        "id": channel,
                        "href": f"urn:csm-graph:channel:{channel}",
                        "name": _CHANNELS[channel],
                        "role": "contactChannel",
                    }
                ],
                "relatedParty": [self.customer("customer")],
            }
            if subject is not None:
                record["interactionItem"] = [{"id": "1", "reason": reason, "item": subject}]
            self.out["partyInteraction"].append(record)


def _value_type(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "boolean"
    return "integer" if isinstance(value, int) else "string"


def account_records(plan: SeedPlan, index: int) -> dict[str, list[Record]]:
    """Everything customer ``index`` owns beyond the party level: accounts, bills, rates,
    payments, payment methods, usage, inventory, tickets, problems, orders, interactions."""
    return _Builder(plan, index).build()
