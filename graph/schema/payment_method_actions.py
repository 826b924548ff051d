"""Payment method actions: adding a card or a SEPA mandate, choosing the default, removing one
(TMF670, and the billing accounts' default method in TMF666).

Card numbers and IBANs get the same care as in ``payBill``: a card is only ever the payment
provider's token, and a value that looks like a card number is refused wherever it appears,
without being stored, logged or repeated; an IBAN is checked and only its masked form stored.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final

import strawberry

from graph.actions import ActionRefused, ProblemCode, checks
from graph.actions.records import record_locks
from graph.auth.permissions import CanAct
from graph.context import Info
from graph.ids import encode_global_id
from graph.resolvers import payment_methods as methods

from .billing import BillingAccount, PaymentMethod
from .billing_actions import TokenizedCardInput, tokenized_card
from .payloads import ASSISTED_CUSTOMER, UserError, act, reloaded, respond

__all__ = [
    "AddPaymentMethodInput",
    "AddPaymentMethodPayload",
    "PaymentMethodActions",
    "RemovePaymentMethodInput",
    "RemovePaymentMethodPayload",
    "SepaMandateInput",
    "SetDefaultPaymentMethodInput",
    "SetDefaultPaymentMethodPayload",
]

_BIC: Final = re.compile(r"[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")


@strawberry.input(
    description=(
        "A SEPA direct debit mandate: the bank account the operator may collect payments "
        "from. The IBAN is checked and only its masked form (country code and last four "
        "characters) is stored; it is never shown back in full."
    )
)
class SepaMandateInput:
    iban: str = strawberry.field(description="The account's IBAN; spaces are allowed.")
    account_holder: str = strawberry.field(description="Name of the account holder.")
    bic: str | None = strawberry.field(
        default=None, description="The bank's BIC (8 or 11 characters), if known."
    )
    bank: str | None = strawberry.field(default=None, description="Name of the bank.")
    authorized: bool = strawberry.field(
        description="Must be true: the account holder authorizes the operator to collect "
        "payments from this account by SEPA direct debit (the mandate)."
    )


@strawberry.input(description="A payment method to store: a tokenized card or a SEPA mandate.")
class AddPaymentMethodInput:
    card: TokenizedCardInput | None = strawberry.field(
        default=None, description="A card tokenized by the payment provider's widget."
    )
    sepa_mandate: SepaMandateInput | None = strawberry.field(
        default=None, description="Or a SEPA direct debit mandate."
    )
    name: str | None = strawberry.field(
        default=None,
        description="A name for the method (at most 100 characters); default e.g. "
        "'Visa ending 4242'.",
    )
    make_preferred: bool = strawberry.field(
        default=False,
        description="Make it the preferred method. A customer's first method is preferred "
        "anyway. (Billing accounts keep their default: see `setDefaultPaymentMethod`.)",
    )
    customer: strawberry.ID | None = strawberry.field(default=None, description=ASSISTED_CUSTOMER)


@strawberry.type(description="The result of `addPaymentMethod`.")
class AddPaymentMethodPayload:
    payment_method: PaymentMethod | None = strawberry.field(
        default=None, description="The method stored."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing was stored (or what part was not done)."
    )


@strawberry.input(description="Make a stored payment method the preferred and default one.")
class SetDefaultPaymentMethodInput:
    payment_method: strawberry.ID = strawberry.field(
        description="The payment method's global id; it must be active and not expired."
    )
    billing_account: strawberry.ID | None = strawberry.field(
        default=None,
        description="Only this billing account's default changes; default: every open "
        "billing account of the customer.",
    )
    customer: strawberry.ID | None = strawberry.field(default=None, description=ASSISTED_CUSTOMER)


@strawberry.type(description="The result of `setDefaultPaymentMethod`.")
class SetDefaultPaymentMethodPayload:
    payment_method: PaymentMethod | None = strawberry.field(
        default=None, description="The method, now preferred."
    )
    billing_accounts: list[BillingAccount] = strawberry.field(
        default_factory=list, description="The billing accounts it now pays by default."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list,
        description="Why nothing changed, or (INCOMPLETE) exactly what changed and what not.",
    )


@strawberry.input(description="Remove a stored payment method.")
class RemovePaymentMethodInput:
    payment_method: strawberry.ID = strawberry.field(
        description="The payment method's global id; not one still in use (a default, a "
        "payment plan's, the preferred or the last one)."
    )
    customer: strawberry.ID | None = strawberry.field(default=None, description=ASSISTED_CUSTOMER)


@strawberry.type(description="The result of `removePaymentMethod`.")
class RemovePaymentMethodPayload:
    removed_payment_method_id: strawberry.ID | None = strawberry.field(
        default=None, description="The global id of the method removed."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing was removed; empty on success."
    )


# -- input -> request ---------------------------------------------------------------------------


def _mandate(given: SepaMandateInput) -> methods.SepaMandate:
    where = ("sepaMandate",)
    try:
        masked = methods.masked_iban(given.iban, *where, "iban")
    except ActionRefused:
        # An IBAN (valid or mistyped) holds long digit runs of its own, some of which pass
        # the Luhn check: only what does not even start like one is taken for a card number.
        if not given.iban.strip()[:2].isalpha() and checks.contains_card_number(given.iban):
            raise ActionRefused.one(
                ProblemCode.CARD_NUMBER_REFUSED,
                "This looks like a card number, not an IBAN. It was not stored.",
                *where,
                "iban",
            ) from None
        raise
    holder = checks.text(given.account_holder, 100, *where, "accountHolder")
    bic = None
    if given.bic is not None and given.bic.strip():
        bic = given.bic.strip().replace(" ", "").upper()
        if not _BIC.fullmatch(bic):
            raise ActionRefused.one(
                ProblemCode.INVALID_INPUT, "A BIC has 8 or 11 letters and digits.", *where, "bic"
            )
    bank = checks.text(given.bank, 100, *where, "bank") if given.bank else None
    if not given.authorized:
        raise ActionRefused.one(
            ProblemCode.INVALID_INPUT,
            "The account holder must authorize the direct debit (authorized: true).",
            *where,
            "authorized",
        )
    return methods.SepaMandate(masked_iban=masked, holder=holder, bic=bic, bank=bank)


def _add_request(given: AddPaymentMethodInput) -> methods.AddPaymentMethod:
    if (given.card is None) == (given.sepa_mandate is None):
        raise ActionRefused.one(
            ProblemCode.INVALID_INPUT,
            "Give either a card or a SEPA mandate, not both or neither.",
            "card" if given.card is None else "sepaMandate",
        )
    name = checks.text(given.name, 100, "name") if given.name is not None else None
    return methods.AddPaymentMethod(
        card=tokenized_card(given.card, "card") if given.card is not None else None,
        mandate=_mandate(given.sepa_mandate) if given.sepa_mandate is not None else None,
        name=name,
        make_preferred=given.make_preferred,
    )


# -- actions ------------------------------------------------------------------------------------


async def _add(info: Info, given: AddPaymentMethodInput) -> AddPaymentMethodPayload:
    request = _add_request(given)
    locks = record_locks(info)
    actor, outcome = await act(
        info,
        given.customer,
        "addPaymentMethod",
        lambda actor: methods.add_payment_method(actor, request, locks),
    )
    source = actor.sources.payment_method
    return AddPaymentMethodPayload(
        payment_method=await reloaded(
            actor, source, outcome["paymentMethod"], PaymentMethod.from_record
        )
    )


async def _set_default(
    info: Info, given: SetDefaultPaymentMethodInput
) -> SetDefaultPaymentMethodPayload:
    request = methods.SetDefaultPaymentMethod(
        method_id=checks.global_id(str(given.payment_method), "PaymentMethod", "paymentMethod"),
        account_id=checks.global_id(str(given.billing_account), "BillingAccount", "billingAccount")
        if given.billing_account is not None
        else None,
    )
    locks = record_locks(info)
    actor, outcome = await act(
        info,
        given.customer,
        "setDefaultPaymentMethod",
        lambda actor: methods.set_default_payment_method(actor, request, locks),
    )
    accounts = await actor.loaders.by_id(actor.sources.billing_account).load_many(
        outcome["billingAccounts"]
    )
    source = actor.sources.payment_method
    return SetDefaultPaymentMethodPayload(
        payment_method=await reloaded(
            actor, source, outcome["paymentMethod"], PaymentMethod.from_record
        ),
        billing_accounts=[BillingAccount.from_record(a) for a in accounts if a is not None],
    )


async def _remove(info: Info, given: RemovePaymentMethodInput) -> RemovePaymentMethodPayload:
    request = methods.RemovePaymentMethod(
        method_id=checks.global_id(str(given.payment_method), "PaymentMethod", "paymentMethod")
    )
    locks = record_locks(info)
    _, outcome = await act(
        info,
        given.customer,
        "removePaymentMethod",
        lambda actor: methods.remove_payment_method(actor, request, locks),
    )
    removed = encode_global_id("PaymentMethod", outcome["paymentMethod"])
    return RemovePaymentMethodPayload(removed_payment_method_id=strawberry.ID(removed))


def _partial(done: dict[str, Any]) -> dict[str, Any]:
    record = done.get("paymentMethod")
    return {"payment_method": PaymentMethod.from_record(record)} if record else {}


_WHO: Final = "Permission: the customer, or an agent assisting them; needs a full sign-in."


@strawberry.type
class PaymentMethodActions:
    @strawberry.mutation(
        description=(
            "Store a payment method (TMF670): a card tokenized by the payment provider (never "
            "its number: a card number anywhere is refused and not stored) or a SEPA direct "
            f"debit mandate (only the masked IBAN is stored). {_WHO}"
        ),
        permission_classes=[CanAct],
    )
    async def add_payment_method(
        self,
        info: Info,
        input: Annotated[AddPaymentMethodInput, strawberry.argument(description="What to add.")],
    ) -> AddPaymentMethodPayload:
        return await respond(AddPaymentMethodPayload, _add(info, input), _partial)

    @strawberry.mutation(
        description=(
            "Make a stored payment method the preferred one (TMF670) and the default method "
            "of the customer's billing accounts, or of the one named (TMF666). If a backend "
            f"fails midway, the errors say exactly what changed and what did not. {_WHO}"
        ),
        permission_classes=[CanAct],
    )
    async def set_default_payment_method(
        self,
        info: Info,
        input: Annotated[
            SetDefaultPaymentMethodInput, strawberry.argument(description="Which method.")
        ],
    ) -> SetDefaultPaymentMethodPayload:
        return await respond(SetDefaultPaymentMethodPayload, _set_default(info, input), _partial)

    @strawberry.mutation(
        description=(
            "Remove a stored payment method (TMF670). A method still in use is refused "
            "(PAYMENT_METHOD_IN_USE): a billing account's default or one paying a payment plan "
            "(choose another default first), the preferred one (make another preferred first) "
            f"and the last one (add another first). {_WHO}"
        ),
        permission_classes=[CanAct],
    )
    async def remove_payment_method(
        self,
        info: Info,
        input: Annotated[
            RemovePaymentMethodInput, strawberry.argument(description="Which method.")
        ],
    ) -> RemovePaymentMethodPayload:
        return await respond(RemovePaymentMethodPayload, _remove(info, input))
