"""Managing stored payment methods (TMF670) and which one pays each billing account (TMF666).

A customer adds a card (the payment provider's token, never its number) or a SEPA direct
debit mandate (the IBAN is checked here and only its masked form is ever kept), chooses the
preferred method and each billing account's default method, and removes methods no account
uses (as its default, or in a payment plan). What the read side shows is what is written:
``isPreferred`` on the methods, and the billing account's ``defaultPaymentMethod`` (with the
method's ``account`` list kept in step, as the backend's own records keep it).

Choosing a default touches several records, one request each. When a backend fails midway,
the action stops and says exactly which records were changed and which were not
(:class:`~graph.actions.ActionIncomplete`); repeating the action completes it. A method's
``account`` list is written whole (a merge patch replaces arrays), so the gateway's changes of
one customer's payment methods take turns (:class:`~graph.actions.records.RecordLocks`), each
reading the methods and accounts afresh in its turn.

A method stays while something depends on it (``PAYMENT_METHOD_IN_USE``): a billing account's
default method, one paying a payment plan, the preferred method (another is made preferred
first) and a customer's last method (another is added first).

A card is stored as TMF670 ``tokenizedCard``: the payment provider's token, brand, last four
digits and expiry. The name on the card stays with the provider -- tokenizedCard has no
attribute for it, and the sandbox (like a strict TMF server) refuses attributes outside the
model; ``bankCard`` has ``nameOnCard`` but is the type for a card number, which is never stored.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar, cast

from graph.actions import (
    ActionIncomplete,
    ActionRefused,
    Actor,
    Done,
    Problem,
    ProblemCode,
    Touched,
)
from graph.actions.records import RecordLocks, lost_write, now_iso, ref
from graph.sources import BackendError, BackendTimeout, ResourceSource
from graph.sources.billing import PaymentMethod
from graph.sources.crm import BillingAccount
from graph.sources.paths import ids_at

from .payments import NewCard, usable

__all__ = [
    "MAX_PAYMENT_METHODS",
    "AddPaymentMethod",
    "RemovePaymentMethod",
    "SepaMandate",
    "SetDefaultPaymentMethod",
    "add_payment_method",
    "masked_iban",
    "remove_payment_method",
    "set_default_payment_method",
]

MAX_PAYMENT_METHODS: Final = 10
Q = TypeVar("Q")

# IBAN lengths of the SEPA countries (EPC list of SEPA countries and territories).
SEPA_IBAN_LENGTHS: Final[Mapping[str, int]] = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22,
    "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GI": 23, "GR": 27,
    "HR": 21, "HU": 28, "IE": 22, "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24,
    "SE": 24, "SI": 19, "SK": 24, "SM": 27, "VA": 22,
}  # fmt: skip
_IBAN_SHAPE: Final = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")


@dataclass(frozen=True, slots=True)
class SepaMandate:
    """A SEPA direct debit mandate, as it is stored: the IBAN only masked."""

    masked_iban: str  # "DE** **** **** **** **30 00"
    holder: str
    bic: str | None
    bank: str | None


@dataclass(frozen=True, slots=True)
class AddPaymentMethod:
    card: NewCard | None
    mandate: SepaMandate | None
    name: str | None
    make_preferred: bool


@dataclass(frozen=True, slots=True)
class SetDefaultPaymentMethod:
    method_id: str
    account_id: str | None  # None: every billing account of the customer


@dataclass(frozen=True, slots=True)
class RemovePaymentMethod:
    method_id: str


# -- IBAN ---------------------------------------------------------------------------------------


def masked_iban(value: str, *field: str) -> str:
    """The masked form of a valid SEPA IBAN (ISO 13616: country, length, mod-97 check digits).

    Only the country code and the last four characters survive, grouped as the IBAN is
    printed; the messages never repeat what was given.
    """
    iban = re.sub(r"[\s-]", "", value).upper()
    problem = _iban_problem(iban)
    if problem:
        raise ActionRefused.one(ProblemCode.INVALID_INPUT, problem, *field)
    shown = "".join(c if n < 2 or n >= len(iban) - 4 else "*" for n, c in enumerate(iban))
    return " ".join(shown[i : i + 4] for i in range(0, len(shown), 4))


def _iban_problem(iban: str) -> str | None:
    if not _IBAN_SHAPE.fullmatch(iban):
        return "This is not an IBAN (e.g. DE89 3704 0044 0532 0130 00)."
    length = SEPA_IBAN_LENGTHS.get(iban[:2])
    if length is None:
        return "SEPA direct debit needs an account in a SEPA country."
    if len(iban) != length:
        return f"An IBAN of this country has {length} characters."
    digits = "".join(str(int(c, 36)) for c in iban[4:] + iban[:4])
    if int(digits) % 97 != 1:
        return "This IBAN is mistyped: its check digits do not match."
    return None


# -- reads ----------------------------------------------------------------------------------------


async def _methods(actor: Actor) -> list[PaymentMethod]:
    source = actor.sources.payment_method
    return await actor.loaders.by_ref(source, "relatedParty.id").load(actor.customer_id)


async def _accounts(actor: Actor) -> list[BillingAccount]:
    source = actor.sources.billing_account
    return await actor.loaders.by_ref(source, "relatedParty.id").load(actor.customer_id)


async def _own_method(actor: Actor, method_id: str) -> PaymentMethod:
    method = await actor.loaders.by_id(actor.sources.payment_method).load(method_id)
    if method is None:
        raise ActionRefused.one(
            ProblemCode.NOT_FOUND, "No such payment method on your account.", "paymentMethod"
        )
    return method


def _default_of(account: BillingAccount) -> str | None:
    ref = account.get("defaultPaymentMethod") or {}
    return ref.get("id") if isinstance(ref, Mapping) else None


def _token(method: PaymentMethod) -> object:
    return cast(Mapping[str, Any], method).get("token")


def _label(record: Mapping[str, Any], fallback: str) -> str:
    return str(record.get("name") or f"{fallback} {record['id']}")


def _in_turn(
    action: Callable[[Actor, Q], Awaitable[Done]],
) -> Callable[[Actor, Q, RecordLocks], Awaitable[Done]]:
    """``action`` in the customer's turn on their payment methods (whose account lists are
    written whole): it reads afresh, and no other change of them runs meanwhile."""

    @functools.wraps(action)
    async def in_turn(actor: Actor, request: Q, locks: RecordLocks) -> Done:
        async with locks.turn("paymentMethods", actor.customer_id, "paymentMethod"):
            actor.loaders.clear()
            return await action(actor, request)

    return in_turn


# -- several writes, reported exactly ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Write:
    """One PATCH of a multi-step action, and how to say it was or was not made."""

    resource: str  # paymentMethod | billingAccount
    record_id: str
    body: dict[str, Any]
    made: str  # "Main account is now paid with Visa ending 1234"
    not_made: str  # "Main account is still paid with SEPA direct debit GLS Bank"
    role: str = "changed"


async def _write_all(
    actor: Actor, writes: Sequence[_Write], done_before: Sequence[str], partial: dict[str, Any]
) -> None:
    """Make ``writes`` in order. If one fails, raise
    :class:`ActionIncomplete` naming what was done (``done_before`` and the writes made) and
    what was not -- unless nothing at all was done, when the backend's error stands."""
    sources: dict[str, ResourceSource[Any]] = {
        "paymentMethod": actor.sources.payment_method,
        "billingAccount": actor.sources.billing_account,
    }
    made: list[str] = list(done_before)
    for position, write in enumerate(writes):
        try:
            record = await sources[write.resource].patch(write.record_id, write.body)
        except BackendError as exc:
            unknown = isinstance(exc, BackendTimeout)
            if not made and not unknown:
                raise
            not_made = [w.not_made for w in writes[position + 1 :]]
            parts = [f"Done: {'; '.join(made)}." if made else ""]
            if unknown:
                parts.append(f"Unknown ({exc.api} did not answer in time): {write.made}.")
            else:
                not_made.insert(0, write.not_made)
            if not_made:
                cause = "" if unknown else f" (the {exc.api} backend failed)"
                parts.append(f"Not done{cause}: {'; '.join(not_made)}.")
            parts.append("Repeat the request to complete it.")
            message = " ".join(part for part in parts if part)
            raise ActionIncomplete((Problem(ProblemCode.INCOMPLETE, message),), partial) from exc
        made.append(write.made)
        for key, shown in partial.items():  # the payload shows the record as it now is
            if write.resource == "paymentMethod" and shown.get("id") == write.record_id:
                partial[key] = record


# -- addPaymentMethod ---------------------------------------------------------------------------


@_in_turn
async def add_payment_method(actor: Actor, request: AddPaymentMethod) -> Done:
    if (request.card is None) == (request.mandate is None):
        raise ActionRefused.one(
            ProblemCode.INVALID_INPUT,
            "Add either a card or a SEPA direct debit mandate, not both or neither.",
        )
    methods = await _methods(actor)
    if len(methods) >= MAX_PAYMENT_METHODS:
        raise ActionRefused.one(
            ProblemCode.INVALID_INPUT,
            f"At most {MAX_PAYMENT_METHODS} payment methods; remove one first.",
        )
    card = request.card
    if card is not None and any(_token(m) == card.token for m in methods):
        raise ActionRefused.one(
            ProblemCode.INVALID_INPUT, "This card is already stored.", "card", "token"
        )
    customer = await actor.loaders.by_id(actor.sources.customer).load(actor.customer_id)
    if customer is None:
        raise ActionRefused.one(ProblemCode.NOT_FOUND, "No such customer.", "customer")
    preferred = [m for m in methods if m.get("isPreferred")]
    make_preferred = request.make_preferred or not preferred
    now = now_iso()
    body: dict[str, Any] = {
        **_method_details(request),
        "isPreferred": make_preferred,
        "status": "active",
        "statusDate": now,
        "validFor": {"startDateTime": now},
        # TMF670: the owner is one related party (an object, not a list).
        "relatedParty": ref(customer, "Customer", role="owner"),
        "account": [],
    }
    if card is not None:
        body["validFor"]["endDateTime"] = body["expirationDate"]
    created = await actor.sources.payment_method.create(body)
    name = _label(created, "payment method")
    touched = [Touched("paymentMethod", created["id"], "created")]
    if make_preferred and preferred:
        demote = [
            _Write(
                "paymentMethod",
                m["id"],
                {"isPreferred": False},
                f"{_label(m, 'payment method')} is no longer marked preferred",
                f"{_label(m, 'payment method')} is still marked preferred too",
            )
            for m in preferred
        ]
        made = [f"{name} was added as your preferred payment method"]
        await _write_all(actor, demote, made, {"paymentMethod": created})
        touched += [Touched("paymentMethod", w.record_id, "no longer preferred") for w in demote]
    return Done(
        outcome={"paymentMethod": created["id"]},
        summary=f"added the payment method {name}"
        + (" as the preferred one" if make_preferred else ""),
        touched=touched,
    )


def _method_details(request: AddPaymentMethod) -> dict[str, Any]:
    card, mandate = request.card, request.mandate
    if card is not None:
        details: dict[str, Any] = {
            "@type": "tokenizedCard",
            "name": request.name or f"{card.brand or 'Card'} ending {card.last_four}",
            "description": f"{card.brand or 'Card'} stored with our payment provider",
            "lastFourDigits": card.last_four,
            # An opaque token from the payment provider, never a card number.
            "token": card.token,
            "tokenType": card.token_type,
            "expirationDate": f"{card.expires.isoformat()}T23:59:59Z",
        }
        if card.brand:
            details["brand"] = card.brand
        return details
    assert mandate is not None
    details = {
        "@type": "bankAccountDebit",
        "name": request.name or f"SEPA direct debit {mandate.bank or mandate.masked_iban[-5:]}",
        "description": "SEPA direct debit mandate",
        "accountNumber": mandate.masked_iban,  # masked: the full IBAN is never stored
        "accountNumberType": "IBAN",
        "owner": mandate.holder,
    }
    if mandate.bic:
        details["BIC"] = mandate.bic
    if mandate.bank:
        details["bank"] = mandate.bank
    return details


# -- setDefaultPaymentMethod --------------------------------------------------------------------


@_in_turn
async def set_default_payment_method(actor: Actor, request: SetDefaultPaymentMethod) -> Done:
    method = await _own_method(actor, request.method_id)
    if not usable(method):
        raise ActionRefused.one(
            ProblemCode.PAYMENT_METHOD_UNUSABLE,
            "This payment method is not active or has expired.",
            "paymentMethod",
        )
    accounts = await _accounts(actor)
    if request.account_id is not None:
        targets = [a for a in accounts if a["id"] == request.account_id]
        if not targets:
            raise ActionRefused.one(
                ProblemCode.NOT_FOUND, "No such billing account of yours.", "billingAccount"
            )
        if targets[0].get("state") == "closed":
            raise ActionRefused.one(
                ProblemCode.INVALID_INPUT, "This billing account is closed.", "billingAccount"
            )
    else:
        targets = [a for a in accounts if a.get("state") != "closed"]
    methods = await _methods(actor)
    writes = _default_writes(method, targets, methods)
    await _write_all(actor, writes, (), {"paymentMethod": method})
    name = _label(method, "payment method")
    if any("account" in w.body for w in writes if w.record_id == method["id"]):
        await _lists(actor, method, targets)
    return Done(
        outcome={"paymentMethod": method["id"], "billingAccounts": [a["id"] for a in targets]},
        summary=f"made {name} the preferred payment method and the default of "
        f"{len(targets)} billing account(s)",
        touched=[Touched(w.resource, w.record_id, w.role) for w in writes],
    )


def _default_writes(
    method: PaymentMethod, targets: list[BillingAccount], methods: list[PaymentMethod]
) -> list[_Write]:
    """The chosen method first, then the accounts, then the other methods: at any point the
    records already written say the new choice, those not yet written the old one."""
    name = _label(method, "payment method")
    target_ids = {a["id"] for a in targets}
    first: list[_Write] = []
    last: list[_Write] = []
    for candidate in [method, *(m for m in methods if m["id"] != method["id"])]:
        chosen = candidate["id"] == method["id"]
        linked = [dict(a) for a in candidate.get("account") or []]
        keep = [a for a in linked if a.get("id") not in target_ids]
        new_links = keep + [ref(a, "BillingAccount") for a in targets] if chosen else keep
        body: dict[str, Any] = {}
        done: list[str] = []
        pending: list[str] = []
        if bool(candidate.get("isPreferred")) != chosen:
            body["isPreferred"] = chosen
            done.append("is now your preferred method" if chosen else "is no longer preferred")
            pending.append("is not yet your preferred method" if chosen else "is still preferred")
        if [a.get("id") for a in new_links] != [a.get("id") for a in linked]:
            # The accounts a method pays (TMF670 account) mirror the accounts' default
            # methods. Ownership is re-stated with them (a change of links is checked).
            body["account"] = new_links
            body["relatedParty"] = candidate.get("relatedParty")
            moved = targets if chosen else [a for a in linked if a.get("id") in target_ids]
            names = ", ".join(_label(a, "billing account") for a in moved)
            done.append(f"{'now' if chosen else 'no longer'} lists {names} as paid with it")
            pending.append(f"{'does not yet list' if chosen else 'still lists'} {names}")
        if not body:
            continue
        label = _label(candidate, "payment method")
        role = "made preferred" if chosen else "no longer preferred"
        write = _Write(
            "paymentMethod",
            candidate["id"],
            body,
            f"{label} {' and '.join(done)}",
            f"{label} {' and '.join(pending)}",
            role if "isPreferred" in body else "changed",
        )
        (first if chosen else last).append(write)
    accounts = [
        _Write(
            "billingAccount",
            account["id"],
            {"defaultPaymentMethod": ref(method, "PaymentMethod")},
            f"{_label(account, 'billing account')} is now paid with {name}",
            f"{_label(account, 'billing account')} is still paid with its former method",
            "default payment method set",
        )
        for account in targets
        if _default_of(account) != method["id"]
    ]
    return [*first, *accounts, *last]


# -- removePaymentMethod ------------------------------------------------------------------------


async def _lists(actor: Actor, method: PaymentMethod, targets: Sequence[BillingAccount]) -> None:
    """Read back that ``method`` lists the ``targets`` it now pays (another system may have
    rewritten its account list at the same moment)."""
    now = await actor.sources.payment_method.get(method["id"])
    listed = {str(a.get("id")) for a in (now or {}).get("account") or ()}
    if not {a["id"] for a in targets} <= listed:
        name = _label(method, "payment method")
        raise lost_write(f"Making {name} the default", name, {"paymentMethod": now or method})


@_in_turn
async def remove_payment_method(actor: Actor, request: RemovePaymentMethod) -> Done:
    method = await _own_method(actor, request.method_id)
    accounts = await _accounts(actor)
    why = _in_use(method, accounts, await _methods(actor))
    if why:
        raise ActionRefused.one(ProblemCode.PAYMENT_METHOD_IN_USE, why, "paymentMethod")
    await actor.sources.payment_method.delete(method["id"])
    return Done(
        outcome={"paymentMethod": method["id"]},
        summary=f"removed the payment method {_label(method, 'payment method')}",
        touched=[Touched("paymentMethod", method["id"], "removed")],
    )


def _in_use(
    method: PaymentMethod, accounts: Sequence[BillingAccount], methods: Sequence[PaymentMethod]
) -> str | None:
    """Why ``method`` cannot be removed now, if it cannot."""
    by_default = [a for a in accounts if _default_of(a) == method["id"]]
    if by_default:
        names = ", ".join(_label(a, "billing account") for a in by_default)
        return (
            f"This method pays {names} by default: choose another default payment method for "
            "it first (setDefaultPaymentMethod)."
        )
    in_plans = [a for a in accounts if method["id"] in ids_at(a, "paymentPlan.paymentMethod.id")]
    if in_plans:
        names = ", ".join(_label(a, "billing account") for a in in_plans)
        return f"A payment plan of {names} is paid with this method; it cannot be removed now."
    if len(methods) <= 1:
        return "This is your only payment method: add another one before removing it."
    if method.get("isPreferred"):
        return (
            "This is your preferred payment method: make another one preferred first "
            "(setDefaultPaymentMethod)."
        )
    return None
