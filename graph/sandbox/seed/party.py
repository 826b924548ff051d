"""Who a customer is (their profile) and the cheap party level: Individual and Customer.

The profile comes from its own random stream and both levels read it, which is how the
Customer's account list agrees with the billing accounts the account level builds later.
:class:`CustomerIds` gives both levels the ids, hrefs and references of a customer's records.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass
from typing import Any, Final

from .plan import Record, SeedPlan
from .values import (
    ACCOUNT_NAMES,
    ASCII_NAME,
    CITIES,
    COLLECTION_PATH,
    FAMILY_NAMES,
    FEMALE_NAMES,
    ID_PREFIX,
    MAIL_DOMAINS,
    MALE_NAMES,
    STREETS,
    TYPE_NAME,
    add_days,
    msisdn,
    pick,
    shift_months,
    ts,
)

# -- the profile ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Profile:
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


def customer_profile(plan: SeedPlan, index: int) -> Profile:
    """Customer ``index``'s profile, from its own random stream."""
    rng = random.Random(f"{plan.seed}:{index}:profile")
    r = rng.random
    gender = "female" if r() < 0.5 else "male"
    given = rng.choice(FEMALE_NAMES if gender == "female" else MALE_NAMES)
    if r() < 0.01:
        gender = "other"
    family = rng.choice(FAMILY_NAMES)
    city, area, postcodes = rng.choice(CITIES)
    age = 18 + int(r() * 68)
    birth = datetime.date(plan.today.year - age, 1 + int(r() * 12), 1 + int(r() * 28))
    # The customer number keeps addresses unique, so an email finds one customer.
    local = f"{ASCII_NAME[given]}.{ASCII_NAME[family]}{index}"
    email = f"{local}@{MAIL_DOMAINS[int(r() * 4)]}"
    accounts: int = pick(rng, _ACCOUNT_COUNT)
    bills = tuple(12 + int(r() * 13) for _ in range(accounts))
    cycle_days = tuple(1 + int(r() * 28) for _ in range(accounts))
    paper = tuple(r() < 0.15 for _ in range(accounts))
    since = add_days(shift_months(plan.today, -(max(bills) + 1)), -int(r() * 900))
    products = min(max(pick(rng, _PRODUCT_COUNT), accounts), 3 * accounts)
    return Profile(
        given=given,
        family=family,
        gender=gender,
        birth=birth,
        street=f"{rng.choice(STREETS)} {1 + int(r() * 120)}",
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
        tickets=pick(rng, _TICKET_COUNT),
        problems=pick(rng, _PROBLEM_COUNT),
        orders=pick(rng, _ORDER_COUNT),
        interactions=pick(rng, _INTERACTION_COUNT),
    )


# -- the party level ------------------------------------------------------------------------


class CustomerIds:
    """Ids and hrefs of one customer's records."""

    __slots__ = ("base", "customer", "individual", "tag")

    def __init__(self, plan: SeedPlan, index: int) -> None:
        self.base = plan.base_url
        self.tag = f"{index:06d}"
        self.customer = f"{ID_PREFIX['customer']}-{self.tag}"
        self.individual = f"{ID_PREFIX['individual']}-{self.tag}"

    def id(self, name: str, *parts: int | str) -> str:
        return "-".join((ID_PREFIX[name], self.tag, *(str(p) for p in parts)))

    def href(self, name: str, rid: str) -> str:
        return self.base + COLLECTION_PATH[name] + "/" + rid

    def ref(self, name: str, rid: str, label: str | None = None, **extra: Any) -> Record:
        ref: Record = {"id": rid, "href": self.base + COLLECTION_PATH[name] + "/" + rid}
        if label is not None:
            ref["name"] = label
        ref.update(extra)
        ref["@referredType"] = TYPE_NAME[name]
        return ref


def account_ids(ids: CustomerIds, profile: Profile) -> list[tuple[str, str]]:
    """(id, name) of each of the customer's billing accounts."""
    return [
        (ids.id("billingAccount", n), ACCOUNT_NAMES[n - 1])
        for n in range(1, len(profile.bills) + 1)
    ]


def party_records(plan: SeedPlan, index: int) -> dict[str, list[Record]]:
    """Customer ``index``'s Individual (TMF632) and Customer (TMF629); cheap by design."""
    profile = customer_profile(plan, index)
    ids = CustomerIds(plan, index)
    full = profile.full_name
    since = ts(profile.since, 10, 12)
    individual: Record = {
        "id": ids.individual,
        "href": ids.href("individual", ids.individual),
        "@type": "Individual",
        "givenName": profile.given,
        "familyName": profile.family,
        "fullName": full,
        "formattedName": f"{profile.family}, {profile.given}",
        "gender": profile.gender,
        "birthDate": ts(profile.birth),
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
                    "phoneNumber": msisdn(plan, index, 1),
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
            ids.ref("billingAccount", rid, name) for rid, name in account_ids(ids, profile)
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
