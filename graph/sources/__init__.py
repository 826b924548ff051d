"""Clients for the TMF backends. Plain typed data in and out; nothing here knows GraphQL.

:class:`Sources` bundles one :class:`ResourceSource` per TMF resource the gateway reads, each on
its API's shared :class:`TmfClient`; :func:`open_clients` creates those clients (one
``aiohttp.ClientSession`` and one circuit breaker per API) for the app's life.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp

from . import assurance, billing, crm, fulfillment, inventory
from .apis import API_BY_KEY, APIS, ApiInfo
from .client import CallHook, Observer, ResourceSource, TmfClient
from .credentials import ServiceCredentials
from .errors import (
    BackendError,
    BackendNotFound,
    BackendRejected,
    BackendTimeout,
    BackendUnavailable,
)
from .resilience import (
    CircuitBreaker,
    CircuitOpen,
    ResilienceObserver,
    ResiliencePolicy,
    deadline_in,
)

__all__ = [
    "APIS",
    "API_BY_KEY",
    "ApiInfo",
    "BackendError",
    "BackendNotFound",
    "BackendRejected",
    "BackendTimeout",
    "BackendUnavailable",
    "CircuitOpen",
    "ResiliencePolicy",
    "ResourceSource",
    "Sources",
    "TmfClient",
    "breaker_states",
    "deadline_in",
    "open_clients",
]


@dataclass(frozen=True, slots=True)
class Sources:
    customer: ResourceSource[crm.Customer]
    individual: ResourceSource[crm.Individual]
    billing_account: ResourceSource[crm.BillingAccount]
    interaction: ResourceSource[crm.PartyInteraction]
    bill: ResourceSource[billing.CustomerBill]
    bill_rate: ResourceSource[billing.AppliedCustomerBillingRate]
    payment: ResourceSource[billing.Payment]
    payment_method: ResourceSource[billing.PaymentMethod]
    usage: ResourceSource[billing.Usage]
    ticket: ResourceSource[assurance.TroubleTicket]
    service_problem: ResourceSource[assurance.ServiceProblem]
    offering: ResourceSource[fulfillment.ProductOffering]
    offering_price: ResourceSource[fulfillment.ProductOfferingPrice]
    category: ResourceSource[fulfillment.Category]
    product_order: ResourceSource[fulfillment.ProductOrder]
    product: ResourceSource[fulfillment.Product]
    service_order: ResourceSource[fulfillment.ServiceOrder]
    service: ResourceSource[inventory.Service]
    resource: ResourceSource[inventory.Resource]

    @classmethod
    def on(cls, clients: Mapping[str, TmfClient]) -> Sources:
        c = clients
        return cls(
            customer=ResourceSource(c["TMF629"], "customer"),
            individual=ResourceSource(c["TMF632"], "individual"),
            billing_account=ResourceSource(c["TMF666"], "billingAccount"),
            interaction=ResourceSource(c["TMF683"], "partyInteraction"),
            bill=ResourceSource(c["TMF678"], "customerBill"),
            bill_rate=ResourceSource(c["TMF678"], "appliedCustomerBillingRate"),
            payment=ResourceSource(c["TMF676"], "payment"),
            payment_method=ResourceSource(c["TMF670"], "paymentMethod"),
            usage=ResourceSource(c["TMF635"], "usage"),
            ticket=ResourceSource(c["TMF621"], "troubleTicket"),
            service_problem=ResourceSource(c["TMF656"], "serviceProblem"),
            offering=ResourceSource(c["TMF620"], "productOffering"),
            offering_price=ResourceSource(c["TMF620"], "productOfferingPrice"),
            category=ResourceSource(c["TMF620"], "category"),
            product_order=ResourceSource(c["TMF622"], "productOrder"),
            product=ResourceSource(c["TMF637"], "product"),
            service_order=ResourceSource(c["TMF641"], "serviceOrder"),
            service=ResourceSource(c["TMF638"], "service"),
            resource=ResourceSource(c["TMF639"], "resource"),
        )


def _no_event(api: str, event: str) -> None:
    return None


@asynccontextmanager
async def open_clients(
    base_urls: Mapping[str, str],
    timeout_seconds: float,
    observer: Observer,
    page_size: int = 1000,
    credentials: ServiceCredentials | None = None,
    forward_user_token: bool = False,
    policy: ResiliencePolicy | None = None,
    events: ResilienceObserver = _no_event,
    call_hook: CallHook | None = None,
) -> AsyncIterator[dict[str, TmfClient]]:
    """One client (and one ClientSession and circuit breaker) per API, closed when the block
    exits. Each API's timeout is ``policy.timeouts``' or ``timeout_seconds``; GETs are retried
    and breakers judge every API as ``policy`` says (the defaults of :mod:`.resilience` when
    None); ``events`` hears of retries, timeouts and rejections. Every request carries
    ``credentials`` (the gateway's own; none by default) and the identity headers of
    :mod:`.identity`, with the end user's token only if ``forward_user_token``; ``call_hook``
    is called around each request (a trace span: graph.observability.tracing)."""
    policy = policy or ResiliencePolicy()
    sessions: list[aiohttp.ClientSession] = []
    clients: dict[str, TmfClient] = {}
    try:
        for api in APIS:
            timeout = policy.timeout_for(api.key, timeout_seconds)
            session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=timeout),
                connector=aiohttp.TCPConnector(limit=100, ttl_dns_cache=300),
            )
            sessions.append(session)
            clients[api.key] = TmfClient(
                api.key,
                base_urls[api.key],
                session,
                observer,
                page_size,
                credentials=credentials,
                forward_user_token=forward_user_token,
                timeout=timeout,
                retry=policy.retry,
                breaker=CircuitBreaker(api.key, policy.breaker),
                events=events,
                call_hook=call_hook,
            )
        yield clients
    finally:
        for session in sessions:
            await session.close()


def breaker_states(clients: Mapping[str, TmfClient]) -> dict[str, str]:
    """Each API's breaker state (``closed``, ``open``, ``half_open``), for /readyz and metrics."""
    return {api: client.breaker_state for api, client in clients.items()}
