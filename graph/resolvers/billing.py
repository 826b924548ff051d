"""Billing: billing accounts, bills and their lines, payments, payment methods, usage.

Every function takes the request's ``info`` and returns backend records (never GraphQL types),
reading only through the request's loaders so that a list of parents costs one backend request
per level. Dated lists come back newest first.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Iterable, Mapping
from typing import Any, Final, TypeVar

from graph.context import Info
from graph.sources.billing import AppliedCustomerBillingRate, CustomerBill, Payment, PaymentMethod
from graph.sources.billing import Usage as UsageRecord
from graph.sources.crm import BillingAccount

__all__ = [
    "account_of_bill",
    "account_of_payment",
    "bill_by_id",
    "billing_account_by_id",
    "billing_accounts_of",
    "bills_of_account",
    "bills_of_customer",
    "default_payment_method_of",
    "lines_of_bill",
    "method_of_payment",
    "payment_by_id",
    "payment_method_by_id",
    "payment_methods_of",
    "payments_of_account",
    "payments_of_customer",
    "usage_of",
]

R = TypeVar("R", bound=Mapping[str, Any])

_LONG_AGO: Final = datetime.datetime.min.replace(tzinfo=datetime.UTC)


def _moment(value: object) -> datetime.datetime:
    """A TMF date-time for sorting; missing or malformed ones sort as the oldest."""
    if not isinstance(value, str) or not value:
        return _LONG_AGO
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return _LONG_AGO
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def _newest_first(records: Iterable[R], attribute: str) -> list[R]:
    """Records by ``attribute`` (a date-time), newest first; ties keep backend order."""

    def key(record: R) -> datetime.datetime:
        return _moment(record.get(attribute))

    return sorted(records, key=key, reverse=True)


def _ref_id(ref: object) -> str | None:
    if isinstance(ref, Mapping):
        value = ref.get("id")
        if isinstance(value, str) and value:
            return value
    return None


# -- by id ------------------------------------------------------------------------------------


async def billing_account_by_id(info: Info, account_id: str | None) -> BillingAccount | None:
    if not account_id:
        return None
    ctx = info.context
    return await ctx.loaders.by_id(ctx.sources.billing_account).load(account_id)


async def bill_by_id(info: Info, bill_id: str | None) -> CustomerBill | None:
    if not bill_id:
        return None
    ctx = info.context
    return await ctx.loaders.by_id(ctx.sources.bill).load(bill_id)


async def payment_by_id(info: Info, payment_id: str | None) -> Payment | None:
    if not payment_id:
        return None
    ctx = info.context
    return await ctx.loaders.by_id(ctx.sources.payment).load(payment_id)


async def payment_method_by_id(info: Info, method_id: str | None) -> PaymentMethod | None:
    if not method_id:
        return None
    ctx = info.context
    return await ctx.loaders.by_id(ctx.sources.payment_method).load(method_id)


# -- of a customer ----------------------------------------------------------------------------


async def billing_accounts_of(info: Info, customer_id: str) -> list[BillingAccount]:
    """The customer's billing accounts (TMF666), in backend order."""
    ctx = info.context
    return await ctx.loaders.by_ref(ctx.sources.billing_account, "relatedParty.id").load(
        customer_id
    )


async def payment_methods_of(info: Info, customer_id: str) -> list[PaymentMethod]:
    """The customer's payment methods (TMF670), in backend order."""
    ctx = info.context
    return await ctx.loaders.by_ref(ctx.sources.payment_method, "relatedParty.id").load(customer_id)


async def usage_of(info: Info, customer_id: str) -> list[UsageRecord]:
    """The customer's usage records (TMF635), newest ``usageDate`` first."""
    ctx = info.context
    records = await ctx.loaders.by_ref(ctx.sources.usage, "relatedParty.id").load(customer_id)
    return _newest_first(records, "usageDate")


async def bills_of_customer(info: Info, customer_id: str) -> list[CustomerBill]:
    """The bills of all the customer's billing accounts, newest ``billDate`` first."""
    accounts = await billing_accounts_of(info, customer_id)
    per_account = await asyncio.gather(*(bills_of_account(info, a["id"]) for a in accounts))
    return _newest_first((bill for bills in per_account for bill in bills), "billDate")


async def payments_of_customer(info: Info, customer_id: str) -> list[Payment]:
    """The payments on all the customer's billing accounts, newest ``paymentDate`` first."""
    accounts = await billing_accounts_of(info, customer_id)
    per_account = await asyncio.gather(*(payments_of_account(info, a["id"]) for a in accounts))
    return _newest_first((p for payments in per_account for p in payments), "paymentDate")


# -- of a billing account ---------------------------------------------------------------------


async def bills_of_account(info: Info, account_id: str) -> list[CustomerBill]:
    """The account's bills (TMF678), newest ``billDate`` first."""
    ctx = info.context
    records = await ctx.loaders.by_ref(ctx.sources.bill, "billingAccount.id").load(account_id)
    return _newest_first(records, "billDate")


async def payments_of_account(info: Info, account_id: str) -> list[Payment]:
    """The payments made on the account (TMF676), newest ``paymentDate`` first."""
    ctx = info.context
    records = await ctx.loaders.by_ref(ctx.sources.payment, "account.id").load(account_id)
    return _newest_first(records, "paymentDate")


async def default_payment_method_of(info: Info, account: BillingAccount) -> PaymentMethod | None:
    return await payment_method_by_id(info, _ref_id(account.get("defaultPaymentMethod")))


# -- of a bill or a payment -------------------------------------------------------------------


async def lines_of_bill(info: Info, bill_id: str) -> list[AppliedCustomerBillingRate]:
    """The applied billing rates (TMF678) charged on the bill, in backend order."""
    ctx = info.context
    return await ctx.loaders.by_ref(ctx.sources.bill_rate, "bill.id").load(bill_id)


async def account_of_bill(info: Info, bill: CustomerBill) -> BillingAccount | None:
    return await billing_account_by_id(info, _ref_id(bill.get("billingAccount")))


async def method_of_payment(info: Info, payment: Payment) -> PaymentMethod | None:
    """The payment's method when it is a reference (TMF676 also allows an inline value)."""
    return await payment_method_by_id(info, _ref_id(payment.get("paymentMethod")))


async def account_of_payment(info: Info, payment: Payment) -> BillingAccount | None:
    return await billing_account_by_id(info, _ref_id(payment.get("account")))
