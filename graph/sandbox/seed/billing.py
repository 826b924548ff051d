"""Billing: bill cycles, payment methods (TMF670), bills and their rates (TMF678), payments
(TMF676), billing accounts (TMF666) and usage (TMF635).

Money is counted in integer cents throughout, so rates add up to their bill and bills to the
account balance exactly.
"""

from __future__ import annotations

import datetime
import random

from .plan import Record
from .state import Account, CustomerState, Product
from .values import (
    BANKS,
    CARD_BRANDS,
    CHANNELS,
    DUE_DAYS,
    OUTSTANDING,
    PAYMENT_DONE,
    TOKEN_ALPHABET,
    VAT_RATE,
    add_days,
    money,
    msisdn,
    shift_months,
    tax_excluded,
    tax_included,
    ts,
    value_type,
)


class BillingBuilder(CustomerState):
    """The billing side of a customer: what they are charged, how and what they paid."""

    def plan_accounts(self) -> None:
        """Each billing account's bill dates, start date and payment method."""
        rng = self.rng("accounts")
        profile = self.profile
        for account in self.accounts:
            cycle = profile.cycle_days[account.n - 1]
            count = profile.bills[account.n - 1]
            if self.today.day >= cycle:
                latest = self.today.replace(day=cycle)
            else:
                latest = shift_months(self.today, -1, cycle)
            account.bill_dates = [shift_months(latest, k - count + 1, cycle) for k in range(count)]
            first_period = account.period_start(0)
            if account.n == 1:
                account.start = profile.since
            else:
                account.start = max(profile.since, add_days(first_period, -int(rng.random() * 60)))
            if profile.payment_methods == 2 and account.n > 1 and rng.random() < 0.5:
                account.pm = 2

    def payment_methods(self) -> None:
        """Payment methods (TMF670): a tokenized card or a SEPA direct debit mandate each."""
        rng = self.rng("paymentMethods")
        r = rng.random
        first_card = r() >= 0.6
        for n, rid in enumerate(self.pm_ids, start=1):
            card = first_card if n == 1 else not first_card
            # A method exists before the first bill it pays; a spare one came later.
            users = [a.start for a in self.accounts if a.pm == n]
            spare = min(add_days(self.profile.since, 30 + int(r() * 400)), add_days(self.today, -1))
            created = min(users) if users else spare
            record: Record = {"id": rid, "href": self.ids.href("paymentMethod", rid)}
            if card:
                brand = CARD_BRANDS[int(r() * 2)]
                last4 = f"{int(r() * 10000):04d}"
                expiry = add_days(shift_months(self.today, 5 + int(r() * 44), 1), -1)
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
                        + "".join(
                            TOKEN_ALPHABET[b % len(TOKEN_ALPHABET)] for b in rng.randbytes(24)
                        ),
                        "tokenType": "paymentServiceProviderToken",
                        "issuer": rng.choice(BANKS)[0],
                        "countryOfIssue": "DE",
                        "expirationDate": ts(expiry, 23, 59, 59),
                    }
                )
                valid_to = ts(expiry, 23, 59, 59)
            else:
                bank, bic = rng.choice(BANKS)
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
                    "statusDate": ts(created, 10),
                    "validFor": {"startDateTime": ts(created, 10)},
                    "relatedParty": self.customer("owner"),  # a single object in TMF670
                    "account": [self.account_ref(a) for a in self.accounts if a.pm == n],
                }
            )
            if valid_to:
                record["validFor"]["endDateTime"] = valid_to
            self.out["paymentMethod"].append(record)

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

    def bill_states(self, rng: random.Random, account: Account) -> list[str]:
        """Older bills are settled; the latest one or two may still be open."""
        r = rng.random
        count = len(account.bill_dates)
        latest = account.bill_dates[-1]
        states = ["partiallyPaid" if r() < 0.015 else "settled" for _ in range(count)]
        if self.today < add_days(latest, DUE_DAYS):
            states[-1] = "new" if (self.today - latest).days <= 2 else "sent"
        else:
            x = r()
            states[-1] = "settled" if x < 0.7 else "sent" if x < 0.9 else "partiallyPaid"
        if states[-1] != "settled" and r() < 0.15:
            states[-2] = "sent" if r() < 0.7 else "partiallyPaid"
        return states

    def bill_rows(
        self, rng: random.Random, account: Account, products: list[Product], k: int
    ) -> list[tuple[str, str, int, int, Product | None, datetime.date, datetime.date]]:
        """(type, name, excl, incl, product, from, to) of the rates on bill ``k``."""
        r = rng.random
        period_start = account.period_start(k)
        period_end = add_days(account.bill_dates[k], -1)
        rows: list[tuple[str, str, int, int, Product | None, datetime.date, datetime.date]] = []
        charged = [p for p in products if p.charged(account, k)]
        for p in charged:
            monthly = p.offering.monthly
            name = f"{p.offering.name} monthly fee"
            rows.append(("recurringCharge", name, tax_excluded(monthly), monthly, p, period_start,
                         period_end))  # fmt: skip
        for p in products:
            if p.offering.one_time and period_start <= p.start <= period_end:
                incl = p.offering.one_time
                name = f"{p.offering.name} {p.offering.one_time_name.lower()}"
                rows.append(("oneTimeCharge", name, tax_excluded(incl), incl, p, p.start, p.start))
        usage_rows = []
        for p in charged:
            chance = {"mobile": 0.7, "broadband": 0.6, "tv": 0.25}.get(p.kind, 0.0)
            if r() < chance:
                usage_rows.append(self.usage_row(rng, p, period_start, period_end))
        rows += usage_rows
        if account.paper:
            rows.append(("recurringCharge", "Paper bill fee", tax_excluded(150), 150, None,
                         period_start, period_end))  # fmt: skip
        if r() < 0.04:
            rows.append(("appliedPenaltyCharge", "Late payment fee", 500, 500, None,
                         period_end, period_end))  # fmt: skip
        if len(rows) < 2:
            first = charged[0] if charged else products[0]
            rows.append(self.usage_row(rng, first, period_start, period_end))
        return rows[:5]

    def usage_row(
        self, rng: random.Random, product: Product, start: datetime.date, end: datetime.date
    ) -> tuple[str, str, int, int, Product | None, datetime.date, datetime.date]:
        r = rng.random
        if product.kind == "broadband":
            excl = 9 + int(r() * 990)
            return ("usageCharge", "Landline calls", excl, tax_included(excl), product, start, end)
        if product.kind == "tv":
            incl = (399, 499, 599)[int(r() * 3)]
            return ("usageCharge", "Video on demand rental", tax_excluded(incl), incl, product,
                    start, end)  # fmt: skip
        excl = 19 + int(r() * 1870)
        label = "Calls, texts and data outside your plan"
        return ("usageCharge", label, excl, tax_included(excl), product, start, end)

    def bill(
        self,
        rng: random.Random,
        account: Account,
        k: int,
        count: int,
        bill_date: datetime.date,
        rows: list[tuple[str, str, int, int, Product | None, datetime.date, datetime.date]],
        state: str,
    ) -> None:
        ids = self.ids
        number = f"{k + 1:02d}"
        bill_id = ids.id("customerBill", account.n, number)
        bill_no = f"INV-{bill_date.year}{bill_date.month:02d}-{ids.tag}{account.n}"
        bill_ref = ids.ref("customerBill", bill_id)
        account_ref = self.account_ref(account)
        issued = ts(bill_date, 2)
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
                    "startDateTime": ts(start),
                    "endDateTime": ts(end, 23, 59, 59),
                },
                "taxExcludedAmount": money(excl),
                "taxIncludedAmount": money(incl),
                "appliedTax": [
                    {
                        "taxCategory": "VAT",
                        "taxRate": VAT_RATE if incl != excl else 0.0,
                        "taxAmount": money(incl - excl),
                    }
                ],
                "bill": dict(bill_ref),
                "billingAccount": dict(account_ref),
            }
            if product is not None:
                rate["product"] = self.product_ref(product)
            self.out["appliedCustomerBillingRate"].append(rate)

        due = add_days(bill_date, DUE_DAYS)
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
            "paymentDueDate": ts(due),
            "category": "normal",
            "runType": "onCycle",
            "state": state,
            "billingPeriod": {
                "startDateTime": ts(account.period_start(k)),
                "endDateTime": ts(add_days(bill_date, -1), 23, 59, 59),
            },
            "amountDue": money(incl_total),
            "taxExcludedAmount": money(excl_total),
            "taxIncludedAmount": money(incl_total),
            "remainingAmount": money(incl_total - paid),
            "taxItem": [
                {
                    "taxCategory": "VAT",
                    "taxRate": VAT_RATE,
                    "taxAmount": money(incl_total - excl_total),
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
            record["nextBillDate"] = ts(shift_months(bill_date, 1), 2)
        if paid:
            day = min(add_days(bill_date, 2 + int(rng.random() * 12)), add_days(self.today, -1))
            when = ts(day, 6 + int(rng.random() * 14), int(rng.random() * 60))
            pay_id = ids.id("payment", account.n, number)
            record["lastUpdate"] = when
            record["appliedPayment"] = [
                {"appliedAmount": money(paid), "payment": ids.ref("payment", pay_id)}
            ]
            self.payment(rng, account, pay_id, when, paid, bill_id, bill_no, state)
        account.bills.append(record)
        self.out["customerBill"].append(record)

    def payment(
        self,
        rng: random.Random,
        account: Account,
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
            channel = {"id": key, "name": CHANNELS[key]}
        self.out["payment"].append(
            {
                "id": pay_id,
                "href": self.ids.href("payment", pay_id),
                "@type": "Payment",
                "description": f"Payment for bill {bill_no}",
                "paymentDate": when,
                "status": PAYMENT_DONE,
                "statusDate": when,
                "account": self.account_ref(account),
                "paymentMethod": self.pm_ref(account.pm),
                "payer": self.customer("payer"),
                "channel": channel,
                "amount": money(cents),
                "totalAmount": money(cents),
                "paymentItem": [
                    {
                        "id": "1",
                        "amount": money(cents),
                        "totalAmount": money(cents),
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
                            "balanceType": OUTSTANDING,
                            "amount": money(owed),
                            "validFor": {"startDateTime": changed},
                        }
                    ],
                    "creditLimit": money(50_000),
                    "billStructure": {
                        "cycleSpecification": {
                            "name": f"Monthly on day {cycle}",
                            "isRef": False,
                            "frequency": "monthly",
                            "billingPeriod": "month",
                            "billingDateShift": cycle,
                            "paymentDueDateOffset": DUE_DAYS,
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
                day = add_days(self.today, -(1 + int(r() * 29)))
                if day < product.start:
                    continue
                x = r()
                kind = "voice" if x < 0.45 else "data" if x < 0.8 else "sms"
                when = ts(day, 7 + int(r() * 15), int(r() * 60), int(r() * 60))
                excl = 0
                characteristic: list[tuple[str, str | int]]
                if kind == "voice":
                    seconds = 20 + int(r() * 1500)
                    callee = msisdn(self.plan, 1 + int(r() * 99_999), 1)
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
                    callee = msisdn(self.plan, 1 + int(r() * 99_999), 1)
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
                            {"name": n, "valueType": value_type(v), "value": v}
                            for n, v in characteristic
                        ],
                        "ratedProductUsage": [
                            {
                                "ratingDate": when,
                                "usageRatingTag": "outOfBundle" if excl else "included",
                                "isBilled": billed,
                                "isTaxExempt": False,
                                "taxRate": VAT_RATE,
                                "taxExcludedRatingAmount": money(excl),
                                "taxIncludedRatingAmount": money(tax_included(excl)),
                                "productRef": self.product_ref(product),
                            }
                        ],
                        "relatedParty": [self.customer("user")],
                    }
                )
