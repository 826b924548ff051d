"""Registering a new customer: the person (TMF632 Individual), the customer (TMF629) and a
billing account (TMF666), created together or not at all.

There is no customer yet to scope the writes to, so registration writes through
``context.registration`` (anonymous callers and agents only; see :mod:`graph.auth.scope`). The
e-mail address is the person's identity: an address that an individual already has is refused
(``ALREADY_REGISTERED``), and concurrent registrations of one address -- a double click, two
gateway processes -- are serialized through a short lease in the idempotency store, so the
second one finds the first one's person. The three records are created in order; when a later
step fails, the records already created are deleted again (DELETE on TMF632/629/666) and the
answer says exactly that. If even that fails, :class:`~graph.actions.ActionIncomplete` names
the records left behind. A create that timed out may still have happened: the record is then
looked up (by its e-mail, its person, its customer) so that it is removed too.

The person's details are checked by :mod:`graph.actions.contact`, by the rules a change of
contact details follows, and their contact media are built the same way.

In development (the gateway trusts its development identity provider) the new customer gets a
token of the development IdP right away (:func:`dev_sign_in`), so a client can go on as that
customer; production registration ends with the real identity provider's sign-up, not here.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NoReturn

from graph.actions import (
    ActionIncomplete,
    ActionRefused,
    Actor,
    Problem,
    ProblemCode,
    Touched,
    contact,
)
from graph.actions.recording import record_action
from graph.auth.devidp import DevIdpError, dev_key_path, load_or_create_key, mint
from graph.auth.principal import Role
from graph.auth.scope import Registration
from graph.context import Info
from graph.errors import Code, GraphError
from graph.settings import Settings
from graph.sources import BackendError, BackendRejected, BackendTimeout, ResourceSource
from graph.stores import Busy, Conflict, Replay, StoreUnavailable

__all__ = ["RegisterCustomer", "Registered", "dev_sign_in", "register_customer"]

log = logging.getLogger(__name__)

SIGN_IN_SECONDS: Final = 3600
EMAIL_FIELD: Final = "contactMedium.characteristic.emailAddress"


# -- input ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegisterCustomer:
    """Who registers, checked by :mod:`graph.actions.contact`."""

    given_name: str
    family_name: str
    email: contact.Email  # all lower case: the person's identity, searched as stored
    phone: contact.Phone | None
    address: contact.PostalAddress | None
    birth_date: datetime.date | None

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


# -- the records ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Registered:
    individual: dict[str, Any]
    customer: dict[str, Any]
    billing_account: dict[str, Any]


def _contact_media(request: RegisterCustomer) -> list[dict[str, Any]]:
    """As a change of contact details stores them; the e-mail address is the preferred one."""
    others = (m for m in (request.phone, request.address) if m is not None)
    return [
        contact.new_medium(request.email, preferred=True),
        *(contact.new_medium(m) for m in others),
    ]


def _ref(record: Mapping[str, Any], referred_type: str, **extra: Any) -> dict[str, Any]:
    ref: dict[str, Any] = {"id": record["id"]}
    if record.get("href"):
        ref["href"] = record["href"]
    return {**ref, **extra, "@referredType": referred_type}


def _individual_body(request: RegisterCustomer) -> dict[str, Any]:
    body: dict[str, Any] = {
        "@type": "Individual",
        "givenName": request.given_name,
        "familyName": request.family_name,
        "fullName": request.full_name,
        "formattedName": f"{request.family_name}, {request.given_name}",
        "contactMedium": _contact_media(request),
    }
    if request.birth_date:
        body["birthDate"] = f"{request.birth_date.isoformat()}T00:00:00Z"
    return body


def _customer_body(individual: Mapping[str, Any], name: str, now: str) -> dict[str, Any]:
    return {
        "@type": "Customer",
        "name": name,
        "status": "approved",
        "engagedParty": _ref(individual, "Individual", name=name),
        "relatedParty": [_ref(individual, "Individual", name=name, role="contact")],
        "validFor": {"startDateTime": now},
    }


def _account_body(customer: Mapping[str, Any], name: str) -> dict[str, Any]:
    # As the seeded accounts: the customer is the owner (TMF666 RelatedParty needs a name).
    return {
        "@type": "BillingAccount",
        "name": "Main account",
        "description": f"Main account of {name}",
        "accountType": "postpaid",
        "state": "active",
        "paymentStatus": "paid",
        "relatedParty": [_ref(customer, "Customer", name=name, role="owner")],
    }


# -- registering ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Step:
    """One record to create: how to describe it, and how to find it after a timed-out POST."""

    source: ResourceSource[Any]
    what: str  # "the person (TMF632 individual)"
    kind: str  # "individual"
    find: dict[str, str]


async def register_customer(info: Info, request: RegisterCustomer) -> Registered:
    """Create the person, the customer and the billing account, and record the registration."""
    context = info.context
    registration = context.registration
    if registration is None:  # CanRegister admits only callers that have one
        raise GraphError("Only new customers and agents register customers.", Code.FORBIDDEN)
    started = datetime.datetime.now(datetime.UTC)
    store = context.stores.idempotency
    lease = "register:" + hashlib.sha256(request.email.address.encode()).hexdigest()
    try:
        claim = await store.claim(lease, "register")
    except StoreUnavailable as exc:
        log.error("idempotency store unavailable for registerCustomer: %s", exc)
        raise GraphError(
            "Registration is unavailable right now; nothing was done. Try again shortly.",
            Code.BACKEND_UNAVAILABLE,
        ) from None
    if isinstance(claim, Busy | Conflict | Replay):  # only Busy can happen: never finished
        raise ActionRefused.one(
            ProblemCode.ACTION_IN_PROGRESS,
            "A registration with this e-mail address is in progress; try again in a moment.",
            "email",
        )
    try:
        registered = await _create_all(registration, request)
    finally:
        try:
            await store.release(lease, claim.token)
        except StoreUnavailable as exc:
            log.error("registration lease not released (it expires): %s", exc)
    context.loaders.clear()  # read-your-writes for the rest of the operation
    customer_id = registered.customer["id"]
    actor = Actor(context.principal, customer_id, context.sources, context.loaders)
    record_action(
        context.audit,
        actor,
        "registerCustomer",
        f"registered as customer {customer_id}",
        [
            Touched("individual", registered.individual["id"], "created"),
            Touched("customer", customer_id, "created"),
            Touched("billingAccount", registered.billing_account["id"], "created"),
        ],
        started,
    )
    return registered


async def _create_all(registration: Registration, request: RegisterCustomer) -> Registered:
    existing = await registration.individual.search({EMAIL_FIELD: request.email.address}, ["id"])
    if existing:
        raise ActionRefused.one(
            ProblemCode.ALREADY_REGISTERED,
            "This e-mail address is registered already: sign in instead.",
            "email",
        )
    done: list[tuple[_Step, str]] = []
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    name = request.full_name
    individual = await _create(
        _Step(registration.individual, "the person (TMF632 individual)", "individual",
              {EMAIL_FIELD: request.email.address}),
        _individual_body(request),
        done,
    )  # fmt: skip
    customer = await _create(
        _Step(registration.customer, "the customer (TMF629)", "customer",
              {"engagedParty.id": individual["id"]}),
        _customer_body(individual, name, now),
        done,
    )  # fmt: skip
    account = await _create(
        _Step(registration.billing_account, "the billing account (TMF666)", "billingAccount",
              {"relatedParty.id": customer["id"]}),
        _account_body(customer, name),
        done,
    )  # fmt: skip
    return Registered(individual, customer, account)


async def _create(step: _Step, body: dict[str, Any], done: list[tuple[_Step, str]]) -> Any:
    try:
        record = await step.source.create(body)
    except BackendError as failure:
        if isinstance(failure, BackendTimeout):
            # The POST may have been carried out after all: find it, to remove it too.
            try:
                found = await step.source.search(step.find, ["id"])
            except BackendError:
                found = []
            done.extend((step, r["id"]) for r in found)
        await _undo(step, failure, done)
    done.append((step, record["id"]))
    return record


def _reason(failure: BackendError) -> str:
    if isinstance(failure, BackendRejected):
        said = ": ".join(p for p in (failure.reason, failure.message) if p) or "no reason"
        return "it was refused (" + re.sub(r"[\x00-\x1f\x7f]+", " ", said)[:200] + ")"
    if isinstance(failure, BackendTimeout):
        return "the system did not answer in time"
    return "the system is unavailable"


async def _undo(
    failed: _Step, failure: BackendError, done: Sequence[tuple[_Step, str]]
) -> NoReturn:
    """Delete what was created, newest first, and raise what the person is told."""
    if not done:
        if isinstance(failure, BackendRejected) and failure.status in (409, 422):
            raise ActionRefused.one(
                ProblemCode.BACKEND_REFUSED,
                f"Nothing was registered: {failed.what} could not be created: {_reason(failure)}.",
            ) from None
        raise failure  # nothing happened: the backend's own error (BACKEND_UNAVAILABLE ...)
    undone: list[str] = []
    left: list[str] = []
    for step, record_id in reversed(done):
        try:
            await step.source.delete(record_id)
            undone.append(f"{step.kind} {record_id}")
        except BackendError as exc:
            if isinstance(exc, BackendRejected) and exc.status == 404:
                undone.append(f"{step.kind} {record_id}")  # gone already
                continue
            log.error("registration: could not delete %s %s: %s", step.kind, record_id, exc)
            left.append(f"{step.kind} {record_id}")
    what = f"Registration failed: {failed.what} could not be created: {_reason(failure)}."
    if not left:
        code = (
            ProblemCode.BACKEND_REFUSED
            if isinstance(failure, BackendRejected)
            else ProblemCode.INCOMPLETE
        )
        raise ActionRefused.one(
            code,
            f"{what} The records created before it were deleted again ({', '.join(undone)}): "
            "nothing was registered. Please try again later.",
        ) from None
    log.error("registration left behind: %s", ", ".join(left))
    message = f"{what} These records were created and could not be deleted: {', '.join(left)}"
    if undone:
        message += f"; deleted again: {', '.join(undone)}"
    message += (
        ". Customer care has to remove them; until then this e-mail address cannot be "
        "registered again."
    )
    raise ActionIncomplete((Problem(ProblemCode.INCOMPLETE, message),)) from None


# -- development sign-in ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DevSignIn:
    access_token: str
    expires_at: datetime.datetime


async def dev_sign_in(info: Info, customer_id: str) -> DevSignIn | None:
    """A development-IdP token for the new customer, when the gateway trusts that IdP and the
    person registered themselves (an agent never holds a customer's credentials)."""
    settings: Settings = info.context.settings
    principal = info.context.principal
    if not settings.dev_idp or principal.role is not Role.ANONYMOUS:
        return None
    # The key the gateway's development IdP serves (the embedded sandbox uses the same rule).
    path = settings.dev_idp_key or dev_key_path()
    issued = datetime.datetime.now(datetime.UTC).replace(microsecond=0)

    def minted() -> str:
        return mint(
            load_or_create_key(path),
            role="customer",
            channel=principal.channel or "web",
            customer_id=customer_id,
            ttl_seconds=SIGN_IN_SECONDS,
            now=issued.timestamp(),
        )

    try:
        token = await asyncio.to_thread(minted)
    except DevIdpError as exc:
        log.error("registered %s, but no development sign-in: %s", customer_id, exc)
        return None
    return DevSignIn(token, issued + datetime.timedelta(seconds=SIGN_IN_SECONDS))
