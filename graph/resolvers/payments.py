"""Paying bills (TMF676 payment): one payment settles one or more of a customer's bills.

``pay_bill`` reads the bills and the method through the actor's scope (another customer's bill
is "not found"), checks every amount against what remains, and creates one TMF676 payment whose
items allocate it to the bills; the billing backend then settles the bills and the account
balance. The payment carries ``correlatorId`` derived from the idempotency key, so if an
earlier attempt's outcome was lost (a timeout, a crash), running again finds that payment
instead of paying twice.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from graph.actions import (
    ActionRefused,
    Actor,
    Done,
    Problem,
    ProblemCode,
    Touched,
    refusal_reason,
)
from graph.auth.audit import CHANNEL_NAMES
from graph.sources import BackendRejected
from graph.sources.billing import CustomerBill, Payment, PaymentMethod
from graph.timestamps import parse_datetime

__all__ = ["BillShare", "NewCard", "PayBill", "pay_bill"]

MAX_BILLS: Final = 20
PAYABLE_STATES: Final = frozenset({"new", "onHold", "sent", "partiallyPaid"})
CENT: Final = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class BillShare:
    bill_id: str
    amount: Decimal | None  # None: what remains


@dataclass(frozen=True, slots=True)
class NewCard:
    """A card tokenized by the payment provider's widget: never its number."""

    token: str
    token_type: str
    brand: str | None
    last_four: str
    expires: datetime.date  # the last day of the expiry month


@dataclass(frozen=True, slots=True)
class PayBill:
    bills: tuple[BillShare, ...]
    method_id: str | None
    new_card: NewCard | None
    idempotency_key: str

    def fingerprint(self) -> dict[str, Any]:
        """What a repeat with the same key must match (the token included, hashed)."""
        card = self.new_card
        return {
            "bills": [[b.bill_id, str(b.amount)] for b in self.bills],
            "method": self.method_id,
            "card": hashlib.sha256(card.token.encode()).hexdigest() if card else None,
        }


async def pay_bill(actor: Actor, request: PayBill) -> Done:
    bills = await _bills(actor, request)
    account_id = _one_account(bills)
    corr = actor.correlator(request.idempotency_key)
    # By payer (indexed at the billing system) and correlator: whichever account it paid.
    earlier = await actor.sources.payment.search(
        {"payer.id": actor.customer_id, "correlatorId": corr}
    )
    if earlier:
        _same_request(earlier[0], request)
        return _done(earlier[0], bills, account_id, replayed=True)
    items, total, unit = _allocate(request, bills)
    method = await _method(actor, request)
    body: dict[str, Any] = {
        "correlatorId": corr,
        "description": f"Payment of {len(items)} bill(s)",
        "account": {"id": account_id, "@referredType": "BillingAccount"},
        "paymentMethod": method,
        "totalAmount": {"unit": unit, "value": float(total)},
        "amount": {"unit": unit, "value": float(total)},
        "paymentItem": items,
        "channel": {"id": actor.channel, "name": CHANNEL_NAMES.get(actor.channel, actor.channel)},
        "payer": {"id": actor.customer_id, "@referredType": "Customer", "role": "payer"},
    }
    try:
        payment = await actor.sources.payment.create(body)
    except BackendRejected as exc:
        if exc.status not in (409, 422):
            raise  # not a business refusal: the gateway's request was wrong (logged, INTERNAL)
        # The billing system said no, e.g. the bill was paid meanwhile: nothing was paid.
        raise ActionRefused.one(
            ProblemCode.BACKEND_REFUSED,
            f"The payment was not accepted ({refusal_reason(exc)}); nothing was paid. "
            "Check what remains on the bills and try again.",
            "bills",
        ) from None
    return _done(payment, bills, account_id, replayed=False)


def _same_request(payment: Payment, request: PayBill) -> None:
    """A payment found by this key's correlator must be this request's: the same bills, the
    amounts given and the same method. Otherwise the key was used for another request whose
    outcome the store has forgotten."""
    paid: dict[str, Decimal] = {}
    for item in payment.get("paymentItem") or []:
        value = (item.get("amount") or {}).get("value", 0)
        paid[str((item.get("item") or {}).get("id"))] = Decimal(str(value)).quantize(CENT)
    method = payment.get("paymentMethod") or {}
    same = (
        set(paid) == {share.bill_id for share in request.bills}
        and all(s.amount is None or s.amount == paid[s.bill_id] for s in request.bills)
        and (
            method.get("token") == request.new_card.token
            if request.new_card is not None
            else method.get("id") == request.method_id
        )
    )
    if not same:
        raise ActionRefused.one(
            ProblemCode.IDEMPOTENCY_KEY_REUSED,
            "This idempotency key was already used for a different request.",
            "idempotencyKey",
        )


async def _bills(actor: Actor, request: PayBill) -> list[CustomerBill]:
    if not request.bills:
        raise ActionRefused.one(ProblemCode.INVALID_INPUT, "Name at least one bill.", "bills")
    if len(request.bills) > MAX_BILLS:
        raise ActionRefused.one(
            ProblemCode.INVALID_INPUT, f"At most {MAX_BILLS} bills per payment.", "bills"
        )
    ids = [share.bill_id for share in request.bills]
    if len(set(ids)) != len(ids):
        raise ActionRefused.one(ProblemCode.INVALID_INPUT, "A bill is named twice.", "bills")
    found = await actor.loaders.by_id(actor.sources.bill).load_many(ids)
    missing = [
        Problem(ProblemCode.NOT_FOUND, "No such bill on your account.", ("bills", str(n), "bill"))
        for n, bill in enumerate(found)
        if bill is None
    ]
    if missing:
        raise ActionRefused(missing)
    return [bill for bill in found if bill is not None]


def _one_account(bills: list[CustomerBill]) -> str:
    accounts = {(bill.get("billingAccount") or {}).get("id") for bill in bills}
    if len(accounts) != 1 or None in accounts:
        raise ActionRefused.one(
            ProblemCode.INVALID_INPUT,
            "Pay the bills of one billing account at a time.",
            "bills",
        )
    return str(accounts.pop())


def _allocate(
    request: PayBill, bills: list[CustomerBill]
) -> tuple[list[dict[str, Any]], Decimal, str]:
    items: list[dict[str, Any]] = []
    problems: list[Problem] = []
    units: set[str] = set()
    total = Decimal(0)
    for n, (share, bill) in enumerate(zip(request.bills, bills, strict=True)):
        where = ("bills", str(n))
        remaining = bill.get("remainingAmount") or {}
        left = Decimal(str(remaining.get("value", 0))).quantize(Decimal("0.01"))
        unit = str(remaining.get("unit") or "EUR")
        if bill.get("state") not in PAYABLE_STATES or left <= 0:
            problems.append(
                Problem(ProblemCode.NOTHING_TO_PAY, "This bill has nothing left to pay.", where)
            )
            continue
        paying = left if share.amount is None else share.amount
        if paying > left:
            problems.append(
                Problem(
                    ProblemCode.AMOUNT_EXCEEDS_REMAINING,
                    f"{paying} {unit} is more than the {left} {unit} that remains on this bill.",
                    (*where, "amount"),
                )
            )
            continue
        units.add(unit)
        total += paying
        items.append(
            {
                "amount": {"unit": unit, "value": float(paying)},
                "item": {"id": bill["id"], "@referredType": "CustomerBill"},
            }
        )
    if len(units) > 1:
        problems.append(
            Problem(ProblemCode.CURRENCY_MISMATCH, "The bills are in different currencies.", ())
        )
    if problems:
        raise ActionRefused(problems)
    return items, total, units.pop()


async def _method(actor: Actor, request: PayBill) -> dict[str, Any]:
    if (request.method_id is None) == (request.new_card is None):
        raise ActionRefused.one(
            ProblemCode.INVALID_INPUT,
            "Pay with either a stored payment method or a new card, not both or neither.",
            "paymentMethod",
        )
    card = request.new_card
    if card is not None:
        return {
            "@type": "tokenizedCard",
            "name": f"{card.brand or 'Card'} ending {card.last_four}",
            "brand": card.brand,
            "lastFourDigits": card.last_four,
            "token": card.token,
            "tokenType": card.token_type,
            "expirationDate": f"{card.expires.isoformat()}T23:59:59Z",
        }
    assert request.method_id is not None
    method = await actor.loaders.by_id(actor.sources.payment_method).load(request.method_id)
    if method is None:
        raise ActionRefused.one(
            ProblemCode.NOT_FOUND, "No such payment method on your account.", "paymentMethod"
        )
    if not usable(method):
        raise ActionRefused.one(
            ProblemCode.PAYMENT_METHOD_UNUSABLE,
            "This payment method is not active or has expired.",
            "paymentMethod",
        )
    return {"id": method["id"], "href": method.get("href"), "@referredType": "PaymentMethod"}


def usable(method: PaymentMethod) -> bool:
    """Active, and not past its validity."""
    if str(method.get("status", "active")).lower() != "active":
        return False
    ends = (method.get("validFor") or {}).get("endDateTime")
    if ends:
        end = parse_datetime(ends)
        return end is not None and end > datetime.datetime.now(datetime.UTC)
    return True


def _done(payment: Payment, bills: list[CustomerBill], account_id: str, *, replayed: bool) -> Done:
    total = payment.get("totalAmount") or {}
    touched = [Touched("payment", payment["id"], "found again" if replayed else "created")]
    touched += [Touched("customerBill", bill["id"], "paid") for bill in bills]
    return Done(
        outcome={
            "payment": payment["id"],
            "bills": [bill["id"] for bill in bills],
            "account": account_id,
        },
        summary=f"paid {len(bills)} bill(s), {total.get('value')} {total.get('unit', '')}".rstrip(),
        touched=touched,
    )
