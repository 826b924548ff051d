"""The shared product catalogue (TMF620), and the offerings the account level sells from.

There is one catalogue for every customer; products and orders refer to its offerings and
prices, so those references and the offering tables they are drawn from live here as well.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Final

from .plan import Record, SeedPlan
from .values import CHANNELS, COLLECTION_PATH, VAT_RATE, add_days, money, tax_excluded, ts

# -- the offerings --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Category:
    """A root category of the catalogue."""

    slug: str
    name: str
    description: str


@dataclass(frozen=True, slots=True)
class Offering:
    """A product offering with at most one monthly and one one-time price."""

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


CATEGORIES: Final = (
    Category("mobile", "Mobile plans", "Postpaid mobile plans with calls, texts and data"),
    Category("broadband", "Broadband", "Fixed internet access at home"),
    Category("tv", "TV", "IPTV packages streamed over our broadband"),
    Category("addons", "Add-ons", "Options that extend a mobile plan"),
    Category("devices", "Devices", "Phones and home equipment"),
)

OFFERINGS: Final = (
    Offering("mobile-s", "Mobile S 5 GB", "mobile", "mobile", 1299,
             characteristics=(("dataAllowanceGB", 5),)),
    Offering("mobile-m", "Mobile M 20 GB", "mobile", "mobile", 1999,
             characteristics=(("dataAllowanceGB", 20),)),
    Offering("mobile-l", "Mobile L 60 GB", "mobile", "mobile", 2999,
             characteristics=(("dataAllowanceGB", 60),)),
    Offering("mobile-unlimited", "Mobile Unlimited", "mobile", "mobile", 3999,
             characteristics=(("dataAllowanceGB", "unlimited"),)),
    Offering("mobile-classic", "Mobile Classic 2 GB", "mobile", "mobile", 999, retired=True,
             characteristics=(("dataAllowanceGB", 2),),
             description="No longer sold; existing contracts continue"),
    Offering("fiber-100", "Fiber 100", "broadband", "broadband", 3499, 4900, "Installation",
             characteristics=(("downloadSpeedMbps", 100), ("uploadSpeedMbps", 50),
                              ("technology", "FTTH"))),
    Offering("fiber-500", "Fiber 500", "broadband", "broadband", 4499, 4900, "Installation",
             characteristics=(("downloadSpeedMbps", 500), ("uploadSpeedMbps", 200),
                              ("technology", "FTTH"))),
    Offering("fiber-1000", "Fiber 1000", "broadband", "broadband", 5999, 4900, "Installation",
             characteristics=(("downloadSpeedMbps", 1000), ("uploadSpeedMbps", 500),
                              ("technology", "FTTH"))),
    Offering("dsl-50", "DSL 50", "broadband", "broadband", 2499, 2999, "Activation fee",
             characteristics=(("downloadSpeedMbps", 50), ("uploadSpeedMbps", 10),
                              ("technology", "VDSL"))),
    Offering("tv-basic", "TV Basic", "tv", "tv", 999,
             characteristics=(("channels", 80), ("hd", False))),
    Offering("tv-premium", "TV Premium", "tv", "tv", 2499, 2900, "Set-up fee",
             characteristics=(("channels", 180), ("hd", True))),
    Offering("roaming-eu", "EU Roaming Pass", "addons", "addon", 499,
             characteristics=(("zone", "EU+"),)),
    Offering("extra-data-10", "Extra Data 10 GB", "addons", "addon", 799,
             characteristics=(("extraDataGB", 10),)),
    Offering("multisim", "MultiSIM", "addons", "addon", 499,
             characteristics=(("extraSims", 1),)),
    Offering("phone-lite", "Smartphone Lite 128 GB", "devices", "device", 0, 24900,
             "Device price"),
    Offering("phone-pro", "Smartphone Pro 256 GB", "devices", "device", 0, 99900,
             "Device price"),
    Offering("router-wifi6", "Wi-Fi 6 Router", "devices", "device", 0, 12900, "Device price"),
    Offering("tv-box-4k", "4K TV Box", "devices", "device", 0, 7900, "Device price"),
)  # fmt: skip

OFFERING_BY_SLUG: Final = {o.slug: o for o in OFFERINGS}
SELLABLE: Final = tuple(o for o in OFFERINGS if not o.retired)
RETIRED: Final = tuple(o for o in OFFERINGS if o.retired)
INSTALLABLE: Final = {
    kind: tuple(o for o in SELLABLE if o.kind == kind) for kind in ("mobile", "broadband", "tv")
}
ADDONS: Final = tuple(o for o in SELLABLE if o.kind == "addon")


# -- references into the catalogue -----------------------------------------------------------


def catalog_href(plan: SeedPlan, name: str, rid: str) -> str:
    """Absolute href of catalogue record ``rid`` in collection ``name``."""
    return plan.base_url + COLLECTION_PATH[name] + "/" + rid


def offering_ref(plan: SeedPlan, offering: Offering) -> Record:
    """A ProductOfferingRef to ``offering``."""
    rid = "off-" + offering.slug
    return {
        "id": rid,
        "href": catalog_href(plan, "productOffering", rid),
        "name": offering.name,
        "@referredType": "ProductOffering",
    }


def offering_prices(offering: Offering) -> list[tuple[str, str, int, str]]:
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


def price_value(incl: int) -> Record:
    """A TMF Price of ``incl`` tax-included cents: both amounts and the VAT rate."""
    return {
        "dutyFreeAmount": money(tax_excluded(incl)),
        "taxIncludedAmount": money(incl),
        "taxRate": VAT_RATE,
    }


# -- the catalogue records -------------------------------------------------------------------


def catalog_records(plan: SeedPlan) -> dict[str, list[Record]]:
    """The shared product catalogue: categories, offerings and their prices (TMF620)."""
    today = plan.today
    launched = ts(datetime.date(today.year - 3, 1, 1))
    updated = ts(add_days(today, -30), 9)
    retired_on = ts(add_days(today, -90))

    categories: list[Record] = []
    for category in CATEGORIES:
        rid = "cat-" + category.slug
        categories.append(
            {
                "id": rid,
                "href": catalog_href(plan, "category", rid),
                "@type": "Category",
                "name": category.name,
                "description": category.description,
                "isRoot": True,
                "lifecycleStatus": "Active",
                "version": "1.0",
                "lastUpdate": updated,
                "validFor": {"startDateTime": launched},
                "productOffering": [
                    offering_ref(plan, o) for o in OFFERINGS if o.category == category.slug
                ],
            }
        )

    offerings: list[Record] = []
    prices: list[Record] = []
    for offering in OFFERINGS:
        status = "Retired" if offering.retired else "Active"
        valid_for: Record = {"startDateTime": launched}
        if offering.retired:
            valid_for["endDateTime"] = retired_on
        pop_refs: list[Record] = []
        for pop_id, name, incl, price_type in offering_prices(offering):
            excl = tax_excluded(incl)
            pop_href = catalog_href(plan, "productOfferingPrice", pop_id)
            recurring = price_type == "recurring"
            pop_refs.append(
                {
                    "id": pop_id,
                    "href": pop_href,
                    "name": name,
                    "priceType": price_type,
                    **({"recurringChargePeriod": "month"} if recurring else {}),
                    "price": price_value(incl),
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
                "price": money(incl),
                "tax": [
                    {"taxCategory": "VAT", "taxRate": VAT_RATE, "taxAmount": money(incl - excl)}
                ],
            }
            if recurring:
                price["recurringChargePeriodType"] = "month"
            prices.append(price)
        category = next(c for c in CATEGORIES if c.slug == offering.category)
        offerings.append(
            {
                "id": "off-" + offering.slug,
                "href": catalog_href(plan, "productOffering", "off-" + offering.slug),
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
                        "href": catalog_href(plan, "category", "cat-" + category.slug),
                        "name": category.name,
                        "@referredType": "Category",
                    }
                ],
                "channel": [{"id": c, "name": n} for c, n in CHANNELS.items()],
                "productSpecification": {
                    "id": "psp-" + offering.kind,
                    "name": f"{offering.kind.capitalize()} product",
                    "@referredType": "ProductSpecification",
                },
                "productOfferingPrice": pop_refs,
            }
        )
    return {"category": categories, "productOffering": offerings, "productOfferingPrice": prices}
