"""Inventory: the customer's products (TMF637), the services realizing them (TMF638) and the
resources supporting those (TMF639).

Products are planned before anything else that is per product, because bills charge them
and orders, tickets and problems refer to them or to their services.
"""

from __future__ import annotations

import random
from typing import Final

from .catalog import (
    ADDONS,
    INSTALLABLE,
    RETIRED,
    Offering,
    catalog_href,
    offering_prices,
    offering_ref,
    price_value,
)
from .plan import Record
from .state import Account, CustomerState, Product
from .values import add_days, msisdn, ts, value_type

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


class InventoryBuilder(CustomerState):
    """What the customer has: products, their services and resources."""

    def plan_products(self) -> None:
        rng = self.rng("products")
        r = rng.random
        accounts = self.accounts
        per_account = dict.fromkeys(range(1, len(accounts) + 1), 0)
        products = self.products
        for n in range(1, self.profile.products + 1):
            mobiles = [p for p in products if p.kind == "mobile"]
            base: Product | None = None
            if n <= len(accounts):
                account = accounts[n - 1]
                offering = self.base_offering(rng, first=n == 1, products=products)
            else:
                room = [a for a in accounts if per_account[a.n] < 3]
                base = rng.choice(mobiles) if mobiles and r() < 0.4 else None
                if base is not None and per_account[base.account.n] < 3:
                    account, offering = base.account, rng.choice(ADDONS)
                else:
                    base = None
                    account = rng.choice(room)
                    offering = self.base_offering(rng, first=False, products=products)
            per_account[account.n] += 1
            product = Product(n, self.ids.id("product", n), offering, account)
            if base is not None and offering.kind == "addon":
                product.base = base
            if n > len(accounts) and r() < 0.5:
                k = 1 + int(r() * (len(account.bill_dates) - 1))
                product.start = add_days(account.period_start(k), 1 + int(r() * 25))
            elif n > len(accounts):
                product.start = min(add_days(account.start, int(r() * 60)), account.period_start(0))
            if product.base is not None:  # an add-on comes after its plan
                product.start = max(product.start, add_days(product.base.start, 1))
            product.order_date = add_days(product.start, -(2 + int(r() * 12)))
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
                product.end = add_days(product.account.period_start(k), 1 + int(r() * 25))
                product.status = "terminated"
                budget -= 1
            elif x < 0.18 and budget:
                product.end = add_days(self.today, 7 + int(r() * 24))
                product.status = "pendingTerminate"
                budget -= 1
            elif x < 0.21:
                product.status = "suspended"

    def base_offering(self, rng: random.Random, first: bool, products: list[Product]) -> Offering:
        x = rng.random()
        has_broadband = any(p.kind == "broadband" for p in products)
        if first:
            kind = "mobile" if x < 0.55 else "broadband" if x < 0.9 else "tv"
        else:
            kind = "mobile" if x < 0.55 else "tv" if x < 0.75 or has_broadband else "broadband"
        if kind == "mobile" and rng.random() < 0.08:
            return RETIRED[0]  # a legacy contract: the offering is no longer sold
        return rng.choice(INSTALLABLE[kind])

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
                product.msisdn = msisdn(self.plan, self.index, line)
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
        self, product: Product, label: str, kind: str, category: str, spec: str, extra: Record
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
            "startOperatingDate": ts(product.start, 9),
            "relatedParty": [self.customer("user")],
            **extra,
        }
        if product.status == "terminated" and product.end is not None:
            record["endOperatingDate"] = ts(product.end, 18)
        product.resources.append(record)
        self.resources[rid] = record
        return record

    def device(
        self, product: Product, rng: random.Random, label: str, category: str, spec: str,
        prefix: str,
    ) -> Record:  # fmt: skip
        made = add_days(product.start, -(30 + int(rng.random() * 300)))
        extra = {
            "serialNumber": f"{prefix}{rng.getrandbits(40):010X}",
            "manufactureDate": ts(made),
            "powerState": "on" if product.status != "terminated" else "off",
        }
        return self.resource(product, label, "PhysicalResource", category, spec, extra)

    def sim(self, product: Product, rng: random.Random, sim_type: str, line: int) -> Record:
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
        self, product: Product, services: list[tuple[str, str, str, list[Record]]]
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
                "startDate": ts(product.start, 9),
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
                service["endDate"] = ts(product.end, 18)
            product.services.append(service)
            self.out["service"].append(service)

    def product_record(
        self, product: Product, chars: list[tuple[str, str | int | bool]], address: str
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
            "orderDate": ts(product.order_date, 11),
            "startDate": ts(product.start, 9),
            "productOffering": offering_ref(self.plan, offering),
            "productSpecification": {
                "id": "psp-" + offering.kind,
                "name": f"{offering.kind.capitalize()} product",
                "@referredType": "ProductSpecification",
            },
            "productCharacteristic": [
                {"name": k, "valueType": value_type(v), "value": v} for k, v in chars
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
            record["terminationDate"] = ts(product.end, 18)
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

    def product_prices(self, offering: Offering, account: Account) -> list[Record]:
        prices = []
        for pop_id, name, incl, price_type in offering_prices(offering):
            price: Record = {
                "name": name,
                "priceType": price_type,
                "price": price_value(incl),
                "productOfferingPrice": {
                    "id": pop_id,
                    "href": catalog_href(self.plan, "productOfferingPrice", pop_id),
                    "name": name,
                    "@referredType": "ProductOfferingPrice",
                },
                "billingAccount": self.account_ref(account),
            }
            if price_type == "recurring":
                price["recurringChargePeriod"] = "month"
            prices.append(price)
        return prices
