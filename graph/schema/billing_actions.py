"""Billing actions: paying bills (TMF676)."""

from __future__ import annotations

import calendar
import datetime
import re
from decimal import Decimal
from typing import Annotated, Final

import strawberry

from graph.actions import ActionRefused, ProblemCode, checks
from graph.auth.permissions import CanAct
from graph.auth.policy import assurance_met
from graph.context import Info
from graph.resolvers import payments

from .billing import Bill, BillingAccount, Payment
from .payloads import UserError, act, reloaded, respond

__all__ = ["BillPaymentInput", "BillingActions", "PayBillInput", "PayBillPayload"]

_TOKEN: Final = re.compile(r"[A-Za-z0-9_\-:.]{8,256}")


@strawberry.input(description="One bill to pay, and how much of it.")
class BillPaymentInput:
    bill: strawberry.ID = strawberry.field(description="The bill's global id.")
    amount: Decimal | None = strawberry.field(
        default=None,
        description="How much to pay, in the bill's currency; at most what remains. "
        "Default: all that remains.",
    )


@strawberry.input(
    description=(
        "A card tokenized by the payment provider's widget. Never a card number: a value that "
        "looks like one is refused and not stored."
    )
)
class TokenizedCardInput:
    token: str = strawberry.field(description="The provider's token for the card.")
    token_type: str = strawberry.field(
        default="paymentServiceProviderToken", description="Kind of token, as the provider says."
    )
    brand: str | None = strawberry.field(default=None, description="e.g. Visa, Mastercard.")
    last_four_digits: str = strawberry.field(description="The card's last four digits.")
    expiry_month: int = strawberry.field(description="Expiry month, 1-12.")
    expiry_year: int = strawberry.field(description="Expiry year, e.g. 2028.")


@strawberry.input(description="Pay one or more bills of one billing account.")
class PayBillInput:
    bills: list[BillPaymentInput] = strawberry.field(description="The bills, 1 to 20.")
    payment_method: strawberry.ID | None = strawberry.field(
        default=None, description="A stored payment method's global id."
    )
    new_card: TokenizedCardInput | None = strawberry.field(
        default=None,
        description="Or a new card, for this payment only (needs a full sign-in; use "
        "`addPaymentMethod` to keep it).",
    )
    idempotency_key: str = strawberry.field(
        description="A fresh key (e.g. a UUID) per payment: sending the same request with the "
        "same key again -- after a timeout, or twice at once -- pays once and answers the same."
    )
    customer: strawberry.ID | None = strawberry.field(
        default=None,
        description="The customer being assisted (agents); customers leave it out.",
    )


@strawberry.type(description="The result of `payBill`.")
class PayBillPayload:
    payment: Payment | None = strawberry.field(default=None, description="The payment made.")
    bills: list[Bill] = strawberry.field(
        default_factory=list, description="The bills paid, as they stand after the payment."
    )
    account: BillingAccount | None = strawberry.field(
        default=None, description="The billing account, with its balance after the payment."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing was paid; empty on success."
    )


def tokenized_card(card: TokenizedCardInput, *where: str) -> payments.NewCard:
    """The checked card; problems name fields under ``where`` (the input field holding it)."""
    # A provider's token is opaque and may hold digit runs; a card number is refused as such.
    if not _TOKEN.fullmatch(card.token) or checks.is_card_number(card.token):
        raise ActionRefused.one(
            ProblemCode.CARD_NUMBER_REFUSED,
            "Send the payment provider's token, never a card number. Nothing was stored.",
            *where,
            "token",
        )
    if not re.fullmatch(r"\d{4}", card.last_four_digits):
        raise ActionRefused.one(ProblemCode.INVALID_INPUT, "Four digits.", *where, "lastFourDigits")
    today = datetime.date.today()
    if not 1 <= card.expiry_month <= 12 or not today.year <= card.expiry_year <= today.year + 20:
        raise ActionRefused.one(ProblemCode.INVALID_INPUT, "Not a valid expiry.", *where)
    last_day = calendar.monthrange(card.expiry_year, card.expiry_month)[1]
    expires = datetime.date(card.expiry_year, card.expiry_month, last_day)
    if expires < today:
        raise ActionRefused.one(
            ProblemCode.PAYMENT_METHOD_UNUSABLE, "This card has expired.", *where
        )
    return payments.NewCard(
        token=card.token,
        token_type=checks.text(card.token_type, 64, *where, "tokenType"),
        brand=checks.text(card.brand, 32, *where, "brand") if card.brand else None,
        last_four=card.last_four_digits,
        expires=expires,
    )


def _request(info: Info, given: PayBillInput) -> payments.PayBill:
    if (given.payment_method is None) == (given.new_card is None):
        raise ActionRefused.one(
            ProblemCode.INVALID_INPUT,
            "Pay with either a stored payment method or a new card, not both or neither.",
            "paymentMethod",
        )
    shares = tuple(
        payments.BillShare(
            bill_id=checks.global_id(str(b.bill), "Bill", "bills", str(n), "bill"),
            amount=checks.amount(b.amount, "bills", str(n), "amount")
            if b.amount is not None
            else None,
        )
        for n, b in enumerate(given.bills)
    )
    method = (
        checks.global_id(str(given.payment_method), "PaymentMethod", "paymentMethod")
        if given.payment_method is not None
        else None
    )
    card = None
    if given.new_card is not None:
        if not assurance_met(info.context.principal, "PayBillInput.newCard"):
            raise ActionRefused.one(
                ProblemCode.NOT_ALLOWED,
                "Paying with a new card needs a full sign-in; pay with a stored method.",
                "newCard",
            )
        card = tokenized_card(given.new_card, "newCard")
    return payments.PayBill(shares, method, card, given.idempotency_key)


async def _pay(info: Info, given: PayBillInput) -> PayBillPayload:
    request = _request(info, given)
    actor, outcome = await act(
        info,
        given.customer,
        "payBill",
        lambda actor: payments.pay_bill(actor, request),
        key=request.idempotency_key,
        request=request.fingerprint(),
    )
    bills = await actor.loaders.by_id(actor.sources.bill).load_many(outcome["bills"])
    return PayBillPayload(
        payment=await reloaded(
            actor, actor.sources.payment, outcome["payment"], Payment.from_record
        ),
        bills=[Bill.from_record(b) for b in bills if b is not None],
        account=await reloaded(
            actor, actor.sources.billing_account, outcome["account"], BillingAccount.from_record
        ),
    )


@strawberry.type
class BillingActions:
    @strawberry.mutation(
        description=(
            "Pay one or more of a billing account's bills (TMF676), with a stored payment "
            "method or a new tokenized card. Idempotent per `idempotencyKey`. Permission: the "
            "customer, or an agent assisting them; a PIN sign-in (IVR) may pay with a stored "
            "method."
        ),
        permission_classes=[CanAct],
    )
    async def pay_bill(
        self,
        info: Info,
        input: Annotated[PayBillInput, strawberry.argument(description="What to pay.")],
    ) -> PayBillPayload:
        return await respond(PayBillPayload, _pay(info, input))
