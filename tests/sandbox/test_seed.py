"""The seeded demo data: deterministic, internally consistent, and valid per the TMF specs."""

from __future__ import annotations

import datetime
import functools
import hashlib
import itertools
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from graph.sandbox.registry import COLLECTIONS, owner_of
from graph.sandbox.seed import (
    Record,
    SeedPlan,
    account_records,
    catalog_records,
    party_records,
)
from graph.sandbox.tmf_model import MODEL
from tests.support.tmf_specs import definition_for, require_specs, validate

TODAY = datetime.date(2026, 11, 26)
PLAN = SeedPlan(seed=7, customers=1000, today=TODAY)
SAMPLE = (1, 2, 3, 42, 500, 999, 1000)
MANY = range(1, 301)

PARTY_LEVEL = ("individual", "customer")
CATALOGUE = ("category", "productOffering", "productOfferingPrice")
ACCOUNT_LEVEL = tuple(
    name for name, spec in COLLECTIONS.items() if spec.owned and name not in PARTY_LEVEL
)
COLLECTION_OF_TYPE = {spec.type_name: name for name, spec in COLLECTIONS.items()}
SUBTYPES = {"PhysicalResource": "resource", "LogicalResource": "resource"}


@functools.cache
def customer(index: int, plan: SeedPlan = PLAN) -> dict[str, list[Record]]:
    """Both levels of one customer (cached: tests only read it)."""
    return {**party_records(plan, index), **account_records(plan, index)}


@functools.cache
def catalogue(plan: SeedPlan = PLAN) -> dict[str, list[Record]]:
    return catalog_records(plan)


def dicts(node: Any) -> Iterator[dict[str, Any]]:
    """Every object nested in ``node``, ``node`` included."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from dicts(value)
    elif isinstance(node, list):
        for item in node:
            yield from dicts(item)


def cents(money: dict[str, Any]) -> int:
    assert money["unit"] == "EUR"
    value = money["value"]
    assert isinstance(value, float), money
    exact = round(value * 100)
    assert abs(value * 100 - exact) < 1e-6, f"{value} has more than two decimals"
    assert repr(value) == repr(exact / 100), f"{value} does not print as two decimals"
    return exact


def digest(records: Any) -> str:
    return hashlib.sha256(json.dumps(records, sort_keys=True).encode()).hexdigest()


# -- determinism -----------------------------------------------------------------------------


def test_the_same_plan_gives_the_same_records() -> None:
    for index in (1, 42):
        first, second = account_records(PLAN, index), account_records(PLAN, index)
        assert first == second
        assert first["customerBill"][0] is not second["customerBill"][0]  # fresh dicts
        assert party_records(PLAN, index) == party_records(PLAN, index)
    assert catalog_records(PLAN) == catalog_records(PLAN)


def test_records_are_the_same_in_another_process() -> None:
    """String seeds, not hash(): another process with another hash seed agrees."""
    script = (
        "import datetime, hashlib, json;"
        "from graph.sandbox.seed import SeedPlan, account_records, party_records;"
        "plan = SeedPlan(seed=7, customers=1000, today=datetime.date(2026, 11, 26));"
        "records = {**party_records(plan, 42), **account_records(plan, 42)};"
        "print(hashlib.sha256(json.dumps(records, sort_keys=True).encode()).hexdigest())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=root, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == digest(customer(42))


def test_another_seed_or_customer_gives_other_records() -> None:
    other = SeedPlan(seed=8, customers=1000, today=TODAY)
    assert party_records(other, 42) != party_records(PLAN, 42)
    assert account_records(other, 42) != account_records(PLAN, 42)
    first = party_records(PLAN, 43)["individual"][0]
    second = party_records(PLAN, 44)["individual"][0]
    assert (first["fullName"], first["birthDate"]) != (second["fullName"], second["birthDate"])


def test_the_levels_and_the_catalogue_have_their_keys() -> None:
    assert set(party_records(PLAN, 5)) == set(PARTY_LEVEL)
    assert set(account_records(PLAN, 5)) == set(ACCOUNT_LEVEL)
    assert set(catalog_records(PLAN)) == set(CATALOGUE)


# -- the two levels agree --------------------------------------------------------------------


@pytest.mark.parametrize("index", SAMPLE)
def test_party_and_account_levels_agree(index: int) -> None:
    records = customer(index)
    (individual,) = records["individual"]
    (cust,) = records["customer"]
    assert cust["engagedParty"]["id"] == individual["id"]
    assert cust["name"] == individual["fullName"]
    accounts = {a["id"]: a["name"] for a in records["billingAccount"]}
    assert {a["id"]: a["name"] for a in cust["account"]} == accounts
    assert [m["id"] for m in cust["paymentMethod"]] == [m["id"] for m in records["paymentMethod"]]
    for account in records["billingAccount"]:
        (party,) = account["relatedParty"]
        assert party["id"] == cust["id"]
        assert party["name"] == cust["name"]
    numbers = [
        c["value"]
        for p in records["product"]
        for c in p["productCharacteristic"]
        if c["name"] == "msisdn"
    ]
    phone = individual["contactMedium"][1]["characteristic"]["phoneNumber"]
    if numbers:
        assert numbers[0] == phone, "the contact number is the first mobile line's"


def test_customers_have_distinct_parties_and_numbers() -> None:
    names: Counter[str] = Counter()
    numbers: Counter[str] = Counter()
    emails: Counter[str] = Counter()
    for index in MANY:
        records = customer(index)
        names[records["individual"][0]["fullName"]] += 1
        emails[records["individual"][0]["contactMedium"][0]["characteristic"]["emailAddress"]] += 1
        for resource in records["resource"]:
            if resource.get("category") == "MSISDN":
                numbers[resource["value"]] += 1
    assert len(names) > 200, "names repeat too much for search to be interesting"
    assert numbers, "nobody has a mobile line"
    assert max(numbers.values()) == 1, "an MSISDN belongs to two lines"
    assert max(emails.values()) == 1, "two customers share an email address"


# -- counts ----------------------------------------------------------------------------------


def test_counts_stay_within_their_ranges_and_vary() -> None:
    seen: dict[str, set[int]] = {}

    def count(what: str, n: int, low: int, high: int) -> None:
        assert low <= n <= high, f"{what}: {n} not in {low}..{high}"
        seen.setdefault(what, set()).add(n)

    for index in MANY:
        records = customer(index)
        count("individual", len(records["individual"]), 1, 1)
        count("customer", len(records["customer"]), 1, 1)
        count("billingAccount", len(records["billingAccount"]), 1, 3)
        count("paymentMethod", len(records["paymentMethod"]), 1, 2)
        count("product", len(records["product"]), 1, 6)
        count("troubleTicket", len(records["troubleTicket"]), 0, 3)
        count("serviceProblem", len(records["serviceProblem"]), 0, 2)
        count("productOrder", len(records["productOrder"]), 1, 3)
        count("serviceOrder", len(records["serviceOrder"]), 0, len(records["productOrder"]))
        count("partyInteraction", len(records["partyInteraction"]), 1, 4)
        bills = Counter(b["billingAccount"]["id"] for b in records["customerBill"])
        assert set(bills) == {a["id"] for a in records["billingAccount"]}
        for n in bills.values():
            count("bills per account", n, 12, 24)
        rates = Counter(r["bill"]["id"] for r in records["appliedCustomerBillingRate"])
        assert set(rates) == {b["id"] for b in records["customerBill"]}
        for n in rates.values():
            count("rates per bill", n, 2, 5)
        services = Counter(s["relatedEntity"][0]["id"] for s in records["service"])
        for product in records["product"]:
            count("services per product", services[product["id"]], 1, 2)
        for service in records["service"]:
            count("resources per service", len(service["supportingResource"]), 1, 2)
        mobiles = {
            p["id"] for p in records["product"] if p["productOffering"]["id"].startswith("off-mob")
        }
        for usage in records["usage"]:
            assert usage["ratedProductUsage"][0]["productRef"]["id"] in mobiles
    for what, values in seen.items():
        if what not in ("individual", "customer"):
            assert len(values) > 1, f"{what} is always {values}"
    assert {1, 3} <= seen["billingAccount"]
    assert {12, 24} <= seen["bills per account"]
    assert {2, 5} <= seen["rates per bill"]
    assert {0, 3} <= seen["troubleTicket"]


def test_statuses_vary_and_use_the_spec_values() -> None:
    statuses: dict[str, Counter[str]] = {}
    for index in MANY:
        records = customer(index)
        for name, field in (
            ("customerBill", "state"),
            ("product", "status"),
            ("troubleTicket", "status"),
            ("productOrder", "state"),
            ("serviceProblem", "status"),
            ("service", "state"),
            ("resource", "resourceStatus"),
            ("customer", "status"),
        ):
            for record in records[name]:
                statuses.setdefault(name, Counter())[record[field]] += 1
    assert statuses["customerBill"]["settled"] > statuses["customerBill"]["sent"] > 0
    assert {"new", "partiallyPaid"} <= set(statuses["customerBill"])
    assert statuses["product"].most_common(1)[0][0] == "active"
    assert {"terminated", "pendingTerminate", "suspended"} <= set(statuses["product"])
    assert {"completed", "inProgress", "acknowledged", "failed", "cancelled"} <= set(
        statuses["productOrder"]
    )
    assert {"closed", "inProgress", "acknowledged", "resolved"} <= set(statuses["troubleTicket"])
    assert "alarm" in statuses["resource"]
    assert statuses["customer"].most_common(1)[0][0] == "approved"


# -- money -----------------------------------------------------------------------------------


@pytest.mark.parametrize("index", [*SAMPLE, *range(100, 160)])
def test_money_adds_up(index: int) -> None:
    check_money(PLAN, index)


def check_money(plan: SeedPlan, index: int) -> None:
    records = customer(index, plan)
    for node in dicts(records):
        if set(node) == {"unit", "value"}:
            cents(node)  # EUR with exactly two decimals
    rates: dict[str, list[Record]] = {}
    for rate in records["appliedCustomerBillingRate"]:
        rates.setdefault(rate["bill"]["id"], []).append(rate)
        excl, incl = cents(rate["taxExcludedAmount"]), cents(rate["taxIncludedAmount"])
        assert cents(rate["appliedTax"][0]["taxAmount"]) == incl - excl
        assert excl >= 0
    payments = {p["id"]: p for p in records["payment"]}
    owed: Counter[str] = Counter()
    for bill in records["customerBill"]:
        excl, incl = cents(bill["taxExcludedAmount"]), cents(bill["taxIncludedAmount"])
        lines = rates[bill["id"]]
        assert sum(cents(r["taxExcludedAmount"]) for r in lines) == excl
        assert sum(cents(r["taxIncludedAmount"]) for r in lines) == incl
        assert cents(bill["taxItem"][0]["taxAmount"]) == incl - excl
        assert cents(bill["amountDue"]) == incl
        remaining = cents(bill["remainingAmount"])
        applied = 0
        for entry in bill.get("appliedPayment", []):
            payment = payments[entry["payment"]["id"]]
            amount = cents(entry["appliedAmount"])
            assert cents(payment["totalAmount"]) == amount
            (item,) = payment["paymentItem"]
            assert item["item"]["id"] == bill["id"]
            assert cents(item["amount"]) == amount
            assert payment["account"]["id"] == bill["billingAccount"]["id"]
            assert payment["paymentDate"] >= bill["billDate"]
            applied += amount
        assert applied + remaining == incl, bill["id"]
        state = bill["state"]
        if state == "settled":
            assert remaining == 0
        elif state == "partiallyPaid":
            assert 0 < remaining < incl
        else:
            assert state in ("new", "sent")
            assert remaining == incl
        owed[bill["billingAccount"]["id"]] += remaining
    assert len(payments) == sum(len(b.get("appliedPayment", [])) for b in records["customerBill"])
    for account in records["billingAccount"]:
        (balance,) = account["accountBalance"]
        assert cents(balance["amount"]) == owed[account["id"]]
        assert account["paymentStatus"] == ("due" if owed[account["id"]] else "paid")


@pytest.mark.parametrize("index", SAMPLE)
def test_bills_are_monthly_and_charge_the_accounts_products(index: int) -> None:
    check_bills(PLAN, index)


def check_bills(plan: SeedPlan, index: int) -> None:
    records = customer(index, plan)
    products = {p["id"]: p for p in records["product"]}
    for account in records["billingAccount"]:
        bills = [b for b in records["customerBill"] if b["billingAccount"]["id"] == account["id"]]
        dates = [datetime.date.fromisoformat(b["billDate"][:10]) for b in bills]
        assert dates == sorted(dates)
        assert dates[-1] <= plan.today < dates[-1] + datetime.timedelta(days=32)
        for earlier, later in itertools.pairwise(dates):
            assert 28 <= (later - earlier).days <= 31
            assert earlier.day == later.day
        for bill in bills:
            assert bill["billingPeriod"]["endDateTime"][:10] < bill["billDate"][:10]
            assert bill["paymentDueDate"] > bill["billDate"]
    for rate in records["appliedCustomerBillingRate"]:
        if "product" in rate:
            product = products[rate["product"]["id"]]
            assert product["billingAccount"]["id"] == rate["billingAccount"]["id"]
            assert product["startDate"][:10] <= rate["periodCoverage"]["endDateTime"][:10]


# -- identity and references -----------------------------------------------------------------


def check_references(plan: SeedPlan, index: int, records: dict[str, list[Record]]) -> list[str]:
    """Every href is its id's, every ref points at an existing record of the right kind,
    and every party ref names this customer's real party."""
    problems: list[str] = []
    shared = catalogue(plan)
    known = {name: {r["id"] for r in shared[name]} for name in CATALOGUE}
    known.update({name: {r["id"] for r in records[name]} for name in records})
    base = plan.base_url
    customer_id, individual_id = f"cus-{index:06d}", f"ind-{index:06d}"
    for name, items in {**records, **shared}.items():
        for record in items:
            expected = f"{base}{COLLECTIONS[name].path}/{record['id']}"
            if record["href"] != expected:
                problems.append(f"{record['id']}: href {record['href']}")
            for node in dicts(record):
                href, rid = node.get("href"), node.get("id")
                target = None
                if isinstance(href, str) and not href.startswith("urn:csm-graph:"):
                    matches = [n for n, s in COLLECTIONS.items() if href == f"{base}{s.path}/{rid}"]
                    if len(matches) != 1:
                        problems.append(f"{record['id']}: {href} is not the href of {rid}")
                        continue
                    target = matches[0]
                kind = node.get("@referredType")
                if kind in COLLECTION_OF_TYPE or kind in SUBTYPES:
                    by_type = COLLECTION_OF_TYPE.get(kind) or SUBTYPES[kind]
                    if target is None:
                        problems.append(f"{record['id']}: a {kind} ref without href")
                    elif target != by_type:
                        problems.append(f"{record['id']}: {rid} is a {kind} in {target}")
                if target is not None and node is not record and rid not in known[target]:
                    problems.append(f"{record['id']}: dangling {target} ref {rid}")
                if kind == "Customer" and rid != customer_id:
                    problems.append(f"{record['id']}: Customer ref {rid}")
                if kind == "Individual" and rid != individual_id:
                    problems.append(f"{record['id']}: Individual ref {rid}")
                if "productOrderId" in node and node["productOrderId"] not in known["productOrder"]:
                    problems.append(f"{record['id']}: dangling order {node['productOrderId']}")
    return problems


@pytest.mark.parametrize("index", SAMPLE)
def test_references_resolve(index: int) -> None:
    assert check_references(PLAN, index, customer(index)) == []


def test_the_reference_check_catches_a_dangling_ref() -> None:
    records = json.loads(json.dumps(customer(3)))
    records["customerBill"][0]["billingAccount"]["id"] = "ba-000003-9"
    records["customerBill"][0]["billingAccount"]["href"] = records["customerBill"][0][
        "billingAccount"
    ]["href"].replace("ba-000003-1", "ba-000003-9")
    assert check_references(PLAN, 3, records)


@pytest.mark.parametrize("index", SAMPLE)
def test_ids_carry_their_owner(index: int) -> None:
    check_ids(PLAN, index)


def check_ids(plan: SeedPlan, index: int) -> None:
    records = customer(index, plan)
    seen: set[str] = set()
    for name, items in records.items():
        prefix = COLLECTIONS[name].id_prefix
        for record in items:
            rid = record["id"]
            assert rid not in seen
            seen.add(rid)
            assert owner_of(rid) == index, rid
            if name in PARTY_LEVEL:
                assert rid == f"{prefix}-{index:06d}"
            else:
                assert re.fullmatch(rf"{prefix}-{index:06d}(-\d+)+", rid), rid
            for node in dicts(record):
                if isinstance(node.get("id"), str) and node.get("href"):
                    assert owner_of(node["id"]) in (index, None), node
    for items in catalogue(plan).values():
        for record in items:
            assert owner_of(record["id"]) is None, record["id"]


# -- dates and lifecycles --------------------------------------------------------------------

PAST = frozenset(
    {
        "billDate", "paymentDate", "usageDate", "creationDate", "orderDate", "completionDate",
        "cancellationDate", "resolutionDate", "changeDate", "statusChangeDate", "lastUpdate",
        "lastModified", "statusDate", "ratingDate", "startOperatingDate", "manufactureDate",
    }
)  # fmt: skip
DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


@pytest.mark.parametrize("index", SAMPLE)
def test_dates_are_iso_and_past_events_are_past(index: int) -> None:
    check_dates(PLAN, index)


def check_dates(plan: SeedPlan, index: int) -> None:
    for items in customer(index, plan).values():
        for record in items:
            for node in dicts(record):
                for key, value in node.items():
                    if key == "interactionDate":  # a TimePeriod, checked by its fields
                        continue
                    if key.endswith(("Date", "DateTime")) or key == "date":
                        assert isinstance(value, str)
                        assert DATE_TIME.fullmatch(value), f"{record['id']}.{key}={value}"
                        datetime.datetime.fromisoformat(value[:-1])
                        if key in PAST:
                            assert value[:10] <= plan.today.isoformat(), f"{record['id']}.{key}"


@pytest.mark.parametrize("index", [*SAMPLE, *range(200, 260)])
def test_lifecycles_are_consistent(index: int) -> None:
    check_lifecycles(PLAN, index)


def check_lifecycles(plan: SeedPlan, index: int) -> None:
    today = plan.today.isoformat()
    records = customer(index, plan)
    orders = records["productOrder"]
    for ticket in records["troubleTicket"]:
        history = ticket["statusChange"]
        assert history[-1]["status"] == ticket["status"]
        dates = [c["changeDate"] for c in history]
        assert dates == sorted(dates)
        assert ticket["creationDate"] == dates[0]
        assert ticket["statusChangeDate"] == dates[-1]
        assert ("resolutionDate" in ticket) == (ticket["status"] in ("resolved", "closed"))
    for order in orders:
        state = order["state"]
        assert all(item["state"] == state for item in order["productOrderItem"])
        assert ("completionDate" in order) == (state in ("completed", "failed"))
        assert ("cancellationDate" in order) == (state == "cancelled")
        if "completionDate" in order:
            assert order["completionDate"] > order["orderDate"]
        if state == "failed":
            assert order["productOrderItem"][0]["productOffering"]["id"] == "off-mobile-classic"
    products = {p["id"]: p for p in records["product"]}
    deletes = {
        item["product"]["id"]: order["state"]
        for order in orders
        for item in order["productOrderItem"]
        if item["action"] == "delete"
    }
    for product in products.values():
        if product["status"] == "terminated":
            assert deletes.get(product["id"]) == "completed"
            assert product["terminationDate"][:10] < today
        elif product["status"] == "pendingTerminate":
            assert deletes.get(product["id"]) == "inProgress"
            assert product["terminationDate"][:10] > today
        else:
            assert product["id"] not in deletes
    expected_state = {
        "active": "active", "pendingTerminate": "active", "suspended": "inactive",
        "terminated": "terminated",
    }  # fmt: skip
    for service in records["service"]:
        product = products[service["relatedEntity"][0]["id"]]
        assert service["state"] == expected_state[product["status"]]
    for product in products.values():
        for relation in product.get("productRelationship", []):
            assert products[relation["product"]["id"]]["startDate"] < product["startDate"]
    methods = {m["id"]: m for m in records["paymentMethod"]}
    for payment in records["payment"]:
        method = methods[payment["paymentMethod"]["id"]]
        assert method["validFor"]["startDateTime"] <= payment["paymentDate"]
    problem_tickets = {
        t["id"] for p in records["serviceProblem"] for t in p.get("troubleTicket", [])
    }
    assert problem_tickets <= {t["id"] for t in records["troubleTicket"]}
    for order in records["serviceOrder"]:
        assert order["externalId"] in {o["id"] for o in orders}


@pytest.mark.parametrize(
    "today",
    [datetime.date(2024, 2, 29), datetime.date(2025, 12, 31), datetime.date(2026, 3, 1)],
)
def test_consistent_whatever_the_date(today: datetime.date) -> None:
    """Month ends, leap days and year ends are where date arithmetic goes wrong."""
    plan = SeedPlan(seed=11, customers=100_000, today=today)
    for index in (*range(1, 26), 99_999, 100_000):
        check_money(plan, index)
        check_bills(plan, index)
        check_ids(plan, index)
        check_dates(plan, index)
        check_lifecycles(plan, index)
        assert check_references(plan, index, customer(index, plan)) == []


# -- payment methods and the catalogue -------------------------------------------------------


def test_payment_methods_hold_no_card_numbers() -> None:
    types: Counter[str] = Counter()
    for index in MANY:
        methods = customer(index)["paymentMethod"]
        assert sum(m["isPreferred"] for m in methods) == 1
        for method in methods:
            types[method["@type"]] += 1
            assert isinstance(method["relatedParty"], dict)
            text = json.dumps(method)
            assert not re.search(r"\d{12,19}", text), "something looks like a card number"
            if method["@type"] == "tokenizedCard":
                assert re.fullmatch(r"\d{4}", method["lastFourDigits"])
                assert method["token"].startswith("tok_")
            else:
                assert method["@type"] == "bankAccountDebit"
                assert method["accountNumber"].startswith("DE**")
    assert set(types) == {"tokenizedCard", "bankAccountDebit"}


def test_the_catalogue_is_small_and_consistent() -> None:
    records = catalogue()
    offerings = records["productOffering"]
    prices = {p["id"]: p for p in records["productOfferingPrice"]}
    assert 12 <= len(offerings) <= 20
    assert [o["lifecycleStatus"] for o in offerings].count("Retired") == 1
    for offering in offerings:
        assert offering["isSellable"] == (offering["lifecycleStatus"] == "Active")
        refs = offering["productOfferingPrice"]
        assert 1 <= len(refs) <= 2
        for ref in refs:
            pop = prices[ref["id"]]
            incl, tax = cents(pop["price"]), cents(pop["tax"][0]["taxAmount"])
            assert cents(ref["price"]["taxIncludedAmount"]) == incl
            assert cents(ref["price"]["dutyFreeAmount"]) == incl - tax
            assert ref["priceType"] == pop["priceType"]
    in_categories = [r["id"] for c in records["category"] for r in c["productOffering"]]
    assert sorted(in_categories) == sorted(o["id"] for o in offerings)


# -- the specifications ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def specs() -> Path:
    return require_specs()


@pytest.mark.parametrize("name", sorted(COLLECTIONS))
def test_records_match_their_specification(specs: Path, name: str) -> None:
    model = MODEL[name]
    if name in CATALOGUE:
        records = catalogue()[name]
    else:
        records = [r for index in SAMPLE for r in customer(index)[name]]
    assert records or name in ("serviceProblem", "troubleTicket")
    for record in records:
        definition = definition_for(model["file"], model["definition"], record)
        validate(model["file"], definition, record)


def test_the_specification_check_catches_a_violation(specs: Path) -> None:
    bill = json.loads(json.dumps(customer(1)["customerBill"][0]))
    bill["state"] = "paid"  # not in TMF678's stateValue enum
    with pytest.raises(AssertionError, match="state"):
        validate(MODEL["customerBill"]["file"], "CustomerBill", bill)


# -- cost ------------------------------------------------------------------------------------


def test_materializing_is_cheap() -> None:
    """The sandbox materializes customers lazily; generous bounds that catch a regression
    by an order of magnitude, not noise."""
    plan = SeedPlan(seed=3, customers=100_000, today=TODAY)
    started = time.perf_counter()
    for index in range(1, 2001):
        party_records(plan, index)
    per_party = (time.perf_counter() - started) / 2000
    started = time.perf_counter()
    for index in range(1, 51):
        account_records(plan, index)
    per_customer = (time.perf_counter() - started) / 50
    assert per_party < 0.0005, f"party_records takes {per_party * 1e6:.0f} µs"
    assert per_customer < 0.03, f"account_records takes {per_customer * 1e3:.1f} ms"
