"""A bill run: the next bill of a billing account, issued now, as the seed shapes bills.

The seed gives every account its past bills; nothing in the sandbox issues new ones, so live
updates (a customer told that a bill arrived) had nothing to announce. :func:`bill_run` issues
the next bill of an account -- the period after its latest bill up to yesterday, a monthly fee
per product still charged on the account (its recurring price), the paper bill fee where the
account gets paper bills -- through :class:`~graph.sandbox.backend.Backend` writes, so the
TMF678 ``customerBillCreateEvent`` (v5 shape) is published like for any other change, and the
account's outstanding balance follows (:func:`~graph.sandbox.rules.refresh_balance`).
"""

from __future__ import annotations

import datetime
from typing import Any, Final

from .backend import Backend, now_iso
from .errors import TmfError
from .money import cents, money
from .query import Filter, ListQuery
from .rules import refresh_balance
from .seed.values import DUE_DAYS, VAT_RATE, shift_months, tax_excluded

__all__ = ["CHARGED_STATUSES", "PAPER_FEE_CENTS", "bill_run", "bill_run_for_customer"]

Record = dict[str, Any]

# Products whose monthly fee is still charged (as the seed charges them: started, not ended).
CHARGED_STATUSES: Final = frozenset({"active", "suspended", "pendingTerminate"})
PAPER_FEE_CENTS: Final = 150  # tax included, as the seed's "Paper bill fee"


def bill_run(backend: Backend, account_id: str) -> Record:
    """Issue the next bill of ``account_id``; 404 for an unknown account, 422 for an account
    that is not active or has nothing to bill."""
    account = backend.require("billingAccount", account_id)
    if account.get("state", "active") != "active":
        raise TmfError(422, "Account not active", f"billing account {account_id} is not active")
    rows = _rows(backend, account)
    if not rows:
        raise TmfError(422, "Nothing to bill", f"billing account {account_id} has no charges")

    bills = _find(backend, "customerBill", "billingAccount.id", account_id, sort="billDate")
    latest = bills[-1] if bills else None
    today = backend.dataset.plan.today
    start = _day_after(latest) or today.replace(day=1)
    end = max(start, today - datetime.timedelta(days=1))
    issued = f"{today.isoformat()}T{now_iso()[11:]}"
    unit = rows[0][3]
    incl_total = sum(incl for _, _, incl, _, _ in rows)
    excl_total = sum(tax_excluded(incl) for _, _, incl, _, _ in rows)
    bill_no = f"INV-{today.year}{today.month:02d}-{account_id.upper()}-{len(bills) + 1:02d}"
    customers = [
        {**party, "role": "customer"}
        for party in account.get("relatedParty") or []
        if isinstance(party, dict) and party.get("@referredType") == "Customer"
    ]
    period = {"startDateTime": _ts(start), "endDateTime": _ts(end, "23:59:59")}
    body: Record = {
        "@type": "CustomerBill",
        "billNo": bill_no,
        "billDate": issued,
        "lastUpdate": issued,
        "paymentDueDate": _ts(today + datetime.timedelta(days=DUE_DAYS)),
        "nextBillDate": _ts(shift_months(today, 1), "02:00:00"),
        "category": "normal",
        "runType": "onCycle",
        "state": "new",
        "billingPeriod": period,
        "amountDue": money(incl_total, unit),
        "taxExcludedAmount": money(excl_total, unit),
        "taxIncludedAmount": money(incl_total, unit),
        "remainingAmount": money(incl_total, unit),
        "taxItem": [
            {
                "taxCategory": "VAT",
                "taxRate": VAT_RATE,
                "taxAmount": money(incl_total - excl_total, unit),
            }
        ],
        "billDocument": [
            {
                "name": f"{bill_no}.pdf",
                "mimeType": "application/pdf",
                "attachmentType": "bill",
                "url": f"{backend.base_url}/documents/bills/{bill_no}.pdf",
            }
        ],
        "billingAccount": _ref(backend, "billingAccount", account),
        "relatedParty": customers,
    }
    if isinstance(account.get("defaultPaymentMethod"), dict):
        body["paymentMethod"] = account["defaultPaymentMethod"]
    # The bill, then its rates: all written before any event is delivered (delivery runs in
    # its own task), so a listener that reads the new bill's lines finds them.
    if latest is not None and "nextBillDate" in latest:
        backend.update("customerBill", latest["id"], {"nextBillDate": None})
    bill = backend.create("customerBill", body)
    for name, kind, incl, _, product in rows:
        excl = tax_excluded(incl)
        rate: Record = {
            "@type": "AppliedCustomerBillingRate",
            "name": name,
            "description": name,
            "type": kind,
            "date": issued,
            "isBilled": True,
            "periodCoverage": period,
            "taxExcludedAmount": money(excl, unit),
            "taxIncludedAmount": money(incl, unit),
            "appliedTax": [
                {
                    "taxCategory": "VAT",
                    "taxRate": VAT_RATE if incl != excl else 0.0,
                    "taxAmount": money(incl - excl, unit),
                }
            ],
            "bill": _ref(backend, "customerBill", bill),
            "billingAccount": _ref(backend, "billingAccount", account),
        }
        if product is not None:
            rate["product"] = _ref(backend, "product", product)
        backend.create("appliedCustomerBillingRate", rate)
    refresh_balance(backend, account_id)
    return bill


def bill_run_for_customer(backend: Backend, customer_id: str) -> list[Record]:
    """A bill for each active billing account of the customer that has something to bill;
    404 for an unknown customer, 422 when no account has."""
    backend.require("customer", customer_id)
    bills = []
    for account in _find(backend, "billingAccount", "relatedParty.id", customer_id):
        if account.get("state", "active") == "active" and _rows(backend, account):
            bills.append(bill_run(backend, account["id"]))
    if not bills:
        raise TmfError(422, "Nothing to bill", f"customer {customer_id} has no charges")
    return bills


def _rows(backend: Backend, account: Record) -> list[tuple[str, str, int, str, Record | None]]:
    """(name, rate type, tax-included cents, currency, product) of each charge."""
    rows: list[tuple[str, str, int, str, Record | None]] = []
    for product in _find(backend, "product", "billingAccount.id", account["id"]):
        if product.get("status") not in CHARGED_STATUSES:
            continue
        for price in product.get("productPrice") or []:
            if price.get("priceType") != "recurring":
                continue
            amount = (price.get("price") or {}).get("taxIncludedAmount")
            incl, unit = cents(amount, "productPrice.price.taxIncludedAmount")
            name = f"{product.get('name') or 'Product'} monthly fee"
            rows.append((name, "recurringCharge", incl, unit, product))
    media = ((account.get("billStructure") or {}).get("presentationMedia")) or []
    if rows and any(isinstance(m, dict) and m.get("name") == "paper" for m in media):
        rows.append(("Paper bill fee", "recurringCharge", PAPER_FEE_CENTS, rows[0][3], None))
    return rows


def _find(
    backend: Backend, name: str, path: str, value: str, sort: str | None = None
) -> list[Record]:
    flt = Filter(tuple(path.split(".")), "eq", frozenset((value,)))
    order = (((sort,), False),) if sort else ()
    query = ListQuery(fields=None, filters=(flt,), sort=order, offset=0, limit=1_000_000)
    return backend.dataset.find(backend.spec(name), query)


def _day_after(bill: Record | None) -> datetime.date | None:
    end = ((bill or {}).get("billingPeriod") or {}).get("endDateTime")
    if not isinstance(end, str):
        return None
    try:
        return datetime.date.fromisoformat(end[:10]) + datetime.timedelta(days=1)
    except ValueError:
        return None


def _ts(day: datetime.date, time: str = "00:00:00") -> str:
    return f"{day.isoformat()}T{time}Z"


def _ref(backend: Backend, name: str, record: Record) -> Record:
    ref: Record = {"id": record["id"], "href": record["href"]}
    if record.get("name"):
        ref["name"] = record["name"]
    ref["@referredType"] = backend.spec(name).type_name
    return ref
