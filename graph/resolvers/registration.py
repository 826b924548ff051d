"""Registering a new customer: the person (TMF632 Individual), the customer (TMF629) and a
billing account (TMF666), created together -- or, when a backend fails, either undone or left
for a repeat of the registration to complete.

There is no customer yet to scope the writes to, so registration writes through
``context.registration`` (anonymous callers and agents only; see :mod:`graph.auth.scope`), and
the framework's :func:`~graph.actions.perform` cannot run it; it follows perform's conventions
instead: a lease in the idempotency store, released when nothing can land later and held while
a write's outcome is unknown (:mod:`graph.actions.runner`), and the action recorded as a TMF683
interaction (:func:`~graph.actions.recording.record_action`).

The e-mail address is the person's identity: one that somebody has already is refused
(``ALREADY_REGISTERED``; :class:`~graph.actions.directory.PeopleDirectory` answers who holds
it), and registrations of one address -- a double click, two gateway processes -- take turns on
the address (the turn a change of contact details to it takes too), so the second finds the
first's person.

Each registration carries a correlator of its own (a fresh random id, never derived from the
person): the person as an ``externalReference`` of type :data:`MARKER`, the customer as its
``registration`` characteristic. When a create fails definitely (the backend refused it), the
records created before it are deleted again and the answer says so. When its outcome is unknown
(a timeout, a 5xx, a lost connection: the record may land late), nothing is deleted -- deleting
the person while their customer may still land would strand the customer -- and the answer says
what may have been created and to send the registration again: a repeat with the same e-mail
address finds the person carrying the marker (and, if it landed, the customer with the same
correlator) and continues from the first step missing, instead of refusing the address.

The person's details are checked by :mod:`graph.actions.contact`, by the rules a change of
contact details follows, and their contact media are built the same way.
"""

from __future__ import annotations

import datetime
import logging
import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NoReturn

from graph.actions import (
    ActionIncomplete,
    ActionRefused,
    Actor,
    Problem,
    ProblemCode,
    Touched,
    contact,
    refusal_reason,
)
from graph.actions.directory import PeopleDirectory, address_id, people
from graph.actions.recording import record_action
from graph.actions.records import RecordLocks, now_iso, ref
from graph.actions.runner import lease_seconds, settle_seconds
from graph.auth.scope import Registration
from graph.context import Info
from graph.errors import Code, GraphError
from graph.sources import (
    BackendError,
    BackendRejected,
    BackendTimeout,
    BackendUnavailable,
    ResourceSource,
)
from graph.sources.writes import tracking_writes
from graph.stores import Busy, IdempotencyStore, Run, StoreUnavailable

__all__ = ["MARKER", "RegisterCustomer", "Registered", "register_customer"]

log = logging.getLogger(__name__)

MARKER: Final = "csm-graph-registration"  # the person's externalReferenceType
CORRELATOR: Final = "registration"  # the customer's characteristic
_ALREADY: Final = "This e-mail address is registered already: sign in instead."


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
    resumed: bool = False  # an earlier attempt's records were completed


def _contact_media(request: RegisterCustomer) -> list[dict[str, Any]]:
    """As a change of contact details stores them; the e-mail address is the preferred one."""
    others = (m for m in (request.phone, request.address) if m is not None)
    return [
        contact.new_medium(request.email, preferred=True),
        *(contact.new_medium(m) for m in others),
    ]


def _birth_date(request: RegisterCustomer) -> str | None:
    return f"{request.birth_date.isoformat()}T00:00:00Z" if request.birth_date else None


def _individual_body(request: RegisterCustomer, corr: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "@type": "Individual",
        "givenName": request.given_name,
        "familyName": request.family_name,
        "fullName": request.full_name,
        "formattedName": f"{request.family_name}, {request.given_name}",
        "contactMedium": _contact_media(request),
        "externalReference": [{"externalReferenceType": MARKER, "name": corr}],
    }
    if request.birth_date:
        body["birthDate"] = _birth_date(request)
    return body


def _customer_body(individual: Mapping[str, Any], name: str, corr: str) -> dict[str, Any]:
    return {
        "@type": "Customer",
        "name": name,
        "status": "approved",
        "engagedParty": ref(individual, "Individual", name=name),
        "relatedParty": [ref(individual, "Individual", name=name, role="contact")],
        "characteristic": [{"name": CORRELATOR, "valueType": "string", "value": corr}],
        "validFor": {"startDateTime": now_iso()},
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
        "relatedParty": [ref(customer, "Customer", name=name, role="owner")],
    }


def _marker(individual: Mapping[str, Any]) -> str | None:
    """The correlator of the registration that created the person; None: not created by one."""
    return _entry(individual.get("externalReference"), "externalReferenceType", MARKER, "name")


def _customer_marker(customer: Mapping[str, Any]) -> str | None:
    return _entry(customer.get("characteristic"), "name", CORRELATOR, "value")


def _entry(entries: Any, key: str, wanted: str, attribute: str) -> str | None:
    """``attribute`` of the first of ``entries`` whose ``key`` is ``wanted``."""
    for entry in entries or ():
        if isinstance(entry, Mapping) and entry.get(key) == wanted:
            found = entry.get(attribute)
            return found if isinstance(found, str) else None
    return None


# -- registering ------------------------------------------------------------------------------


async def register_customer(info: Info, request: RegisterCustomer) -> Registered:
    """Create (or complete) the person, the customer and the billing account, and record the
    registration."""
    context = info.context
    registration = context.registration
    if registration is None:  # CanRegister admits only callers that have one
        raise GraphError("Only new customers and agents register customers.", Code.FORBIDDEN)
    started = datetime.datetime.now(datetime.UTC)
    timeout = context.settings.backend_timeout
    store = context.stores.idempotency
    key = RecordLocks.key("email", address_id(request.email.address))
    token = await _claim(store, key, timeout)
    run = _Registering(registration, people(info), request, settle_seconds(timeout))
    with tracking_writes() as writes:
        try:
            registered = await run.all()
        except (ActionRefused, BackendRejected, GraphError):
            await _let_go(store, key, token)  # nothing happened, or it was undone
            raise
        except ActionIncomplete as incomplete:
            # Held while a write whose outcome is unknown may still land; then a repeat runs.
            await _let_go(store, key, token, hold=settle_seconds(timeout) if run.in_flight else 0)
            _record_incomplete(info, incomplete, started)
            raise
        except BaseException:  # cancelled, or a failure of the gateway's own
            await _let_go(store, key, token, hold=settle_seconds(timeout) if writes.sent else 0)
            raise
    await _let_go(store, key, token)
    context.loaders.clear()  # read-your-writes for the rest of the operation
    customer_id = registered.customer["id"]
    actor = Actor(context.principal, customer_id, context.sources, context.loaders)
    summary = f"registered as customer {customer_id}"
    if registered.resumed:
        summary += ", completing an earlier attempt"
    record_action(context.audit, actor, "registerCustomer", summary, run.touched, started)
    return registered


async def _claim(store: IdempotencyStore, key: str, backend_timeout: float) -> str:
    """The address's lease, as :func:`graph.actions.perform` claims an idempotency key."""
    try:
        lease = lease_seconds(backend_timeout)
        claim = await store.claim(key, RecordLocks.FINGERPRINT, lease=lease)
    except StoreUnavailable as exc:
        log.error("idempotency store unavailable for registerCustomer: %s", exc)
        raise GraphError(
            "Registration is unavailable right now; nothing was done. Try again shortly.",
            Code.BACKEND_UNAVAILABLE,
        ) from None
    if isinstance(claim, Run):
        return claim.token
    if isinstance(claim, Busy) and claim.unsettled:
        message = (
            "An earlier registration with this e-mail address did not finish cleanly; its "
            "outcome is being settled. Send it again in "
            f"{_seconds(settle_seconds(backend_timeout))} to complete it."
        )
    else:  # only Busy can happen: a turn never finishes with an outcome
        message = "A registration with this e-mail address is in progress; try again in a moment."
    raise ActionRefused.one(ProblemCode.ACTION_IN_PROGRESS, message, "email")


async def _let_go(store: IdempotencyStore, key: str, token: str, hold: float = 0) -> None:
    """Release the address, or hold it for ``hold`` seconds (an outcome still unknown)."""
    try:
        if hold:
            await store.hold(key, token, hold)
        else:
            await store.release(key, token)
    except StoreUnavailable as exc:
        log.error("registration lease not let go (it expires): %s", exc)


def _record_incomplete(
    info: Info, incomplete: ActionIncomplete, started: datetime.datetime
) -> None:
    """As perform records an action stopped midway: once a customer exists to record it for."""
    customer = incomplete.done.get("customer")
    if customer is None:
        return
    context = info.context
    actor = Actor(context.principal, customer["id"], context.sources, context.loaders)
    stopped = " ".join(p.message for p in incomplete.problems)
    summary = f"started registerCustomer, which stopped midway ({stopped})"
    record_action(context.audit, actor, "registerCustomer", summary, [], started)


def _seconds(seconds: float) -> str:
    return f"{math.ceil(seconds)} seconds"


@dataclass(frozen=True, slots=True)
class _Step:
    source: ResourceSource[Any]
    what: str  # "the person (TMF632 individual)"
    kind: str  # "individual": the record's resource, and its key in ActionIncomplete.done


@dataclass
class _Registering:
    """One registration: its steps, and what exists so far (``done``, newest last)."""

    registration: Registration
    directory: PeopleDirectory
    request: RegisterCustomer
    retry_after: float  # seconds until an unknown outcome has settled
    done: list[tuple[_Step, dict[str, Any]]] = field(default_factory=list)
    touched: list[Touched] = field(default_factory=list)
    in_flight: bool = False  # a write's outcome is unknown: it may still land

    async def all(self) -> Registered:
        source = self.registration
        person = _Step(source.individual, "the person (TMF632 individual)", "individual")
        owner = _Step(source.customer, "the customer (TMF629)", "customer")
        account = _Step(source.billing_account, "the billing account (TMF666)", "billingAccount")
        name = self.request.full_name
        earlier = await self._earlier(person, owner)
        if earlier is None:
            corr = "reg-" + secrets.token_hex(16)
            individual = await self._create(person, _individual_body(self.request, corr))
            customer = None
        else:
            corr, individual, customer = earlier
        if customer is None:
            customer = await self._create(owner, _customer_body(individual, name, corr))
        billing = await self._create(account, _account_body(customer, name))
        return Registered(individual, customer, billing, resumed=earlier is not None)

    async def _earlier(
        self, person: _Step, owner: _Step
    ) -> tuple[str, dict[str, Any], dict[str, Any] | None] | None:
        """What an earlier attempt of this registration left -- its correlator, the person, the
        customer if it got that far -- to continue after it; ALREADY_REGISTERED when somebody
        holds the address otherwise."""
        for holder in await self.directory.holders(self.request.email.address):
            individual = await person.source.get(holder)
            if individual is None:
                continue  # deleted since
            corr = _marker(individual)
            if corr is None or not self._same_person(individual):
                raise ActionRefused.one(ProblemCode.ALREADY_REGISTERED, _ALREADY, "email")
            customers = await owner.source.search({"engagedParty.id": holder})
            customer = customers[0] if customers else None
            if customer is not None and (
                _customer_marker(customer) != corr
                or await self.registration.billing_account.search(
                    {"relatedParty.id": customer["id"]}, ["id"]
                )
            ):
                raise ActionRefused.one(ProblemCode.ALREADY_REGISTERED, _ALREADY, "email")
            individual = await self._media_as_given(person, individual)
            self._found(person, individual)
            if customer is not None:
                self._found(owner, customer)
            return corr, individual, customer
        return None

    def _found(self, step: _Step, record: dict[str, Any]) -> None:
        self.done.append((step, record))
        self.touched.append(Touched(step.kind, record["id"], "found again"))

    def _same_person(self, individual: Mapping[str, Any]) -> bool:
        """An earlier attempt is continued only for the same person: names and birth date as
        given now (its contact media are then brought in line, see :meth:`_media_as_given`)."""
        request = self.request
        return (
            individual.get("givenName") == request.given_name
            and individual.get("familyName") == request.family_name
            and individual.get("birthDate") == _birth_date(request)
        )

    async def _media_as_given(self, person: _Step, individual: dict[str, Any]) -> dict[str, Any]:
        """The earlier person, with the contact media given now (nothing of what the earlier
        attempt gave is shown to this one)."""
        media = _contact_media(self.request)
        if individual.get("contactMedium") == media:
            return individual
        try:
            changed: dict[str, Any] = await person.source.patch(
                individual["id"], {"contactMedium": media}
            )
        except (BackendTimeout, BackendUnavailable) as failure:
            self._stop(person, failure, writing="updating")
        return changed

    async def _create(self, step: _Step, body: dict[str, Any]) -> dict[str, Any]:
        try:
            record: dict[str, Any] = await step.source.create(body)
        except BackendRejected as refused:
            await self._undo(step, refused)
        except (BackendTimeout, BackendUnavailable) as failure:
            self._stop(step, failure, writing="creating")
        self.done.append((step, record))
        self.touched.append(Touched(step.kind, record["id"], "created"))
        return record

    def _stop(self, step: _Step, failure: BackendError, *, writing: str) -> NoReturn:
        """A write whose outcome is unknown: say what exists, what may, and what to do."""
        cause = (
            "the system did not answer in time"
            if isinstance(failure, BackendTimeout)
            else "the system failed while answering"
        )
        made = ", ".join(f"{s.kind} {r['id']}" for s, r in self.done)
        message = (
            f"Registration did not finish: while {writing} {step.what}, {cause}, so it may have "
            f"been {'created' if writing == 'creating' else 'changed'}."
            + (f" Created so far: {made}." if made else "")
            + f" Send the same registration again in {_seconds(self.retry_after)} to complete it;"
            " you will not be registered twice."
        )
        log.warning("registration stopped at %s (%s): %s", step.kind, made or "nothing", failure)
        self.in_flight = True
        done = {s.kind: r for s, r in self.done}
        raise ActionIncomplete((Problem(ProblemCode.INCOMPLETE, message, ("email",)),), done)

    async def _undo(self, failed: _Step, refused: BackendRejected) -> NoReturn:
        """A create the backend refused: delete what exists, newest first, and say so."""
        reason = f"it was refused ({refusal_reason(refused)})"
        what = f"{failed.what} could not be created: {reason}."
        if not self.done:
            if refused.status not in (409, 422):
                raise refused  # a malformed request is the gateway's fault, not the person's
            raise ActionRefused.one(
                ProblemCode.BACKEND_REFUSED, f"Nothing was registered: {what}"
            ) from None
        undone: list[str] = []
        left: list[str] = []
        for step, record in reversed(self.done):
            label = f"{step.kind} {record['id']}"
            try:
                await step.source.delete(record["id"])
            except BackendError as exc:
                if not (isinstance(exc, BackendRejected) and exc.status == 404):
                    log.error("registration: could not delete %s: %s", label, exc)
                    left.append(label)
                    self.in_flight |= not isinstance(exc, BackendRejected)
                    continue
            undone.append(label)  # deleted, or gone already
        if not left:
            raise ActionRefused.one(
                ProblemCode.BACKEND_REFUSED,
                f"Registration failed: {what} The records created before it were deleted "
                f"again ({', '.join(undone)}): nothing was registered.",
            ) from None
        log.error("registration left behind: %s", ", ".join(left))
        message = (
            f"Registration failed: {what} These records were created and could not be deleted: "
            f"{', '.join(left)}"
            + (f"; deleted again: {', '.join(undone)}" if undone else "")
            + ". They do not keep this e-mail address from being registered: send the "
            "registration again once the problem is solved."
        )
        raise ActionIncomplete((Problem(ProblemCode.INCOMPLETE, message),)) from None
