"""The root Mutation: the self-service actions of every domain, composed.

Each domain declares its actions on a class of its own (``*_actions`` modules); this module only
merges them. Every action takes one ``input`` and answers with a payload that carries the
result or typed user errors (:mod:`graph.schema.payloads`).
"""

from __future__ import annotations

from strawberry.tools import merge_types

from .assurance_actions import AssuranceActions
from .billing_actions import BillingActions
from .fulfillment_actions import FulfillmentActions
from .payment_method_actions import PaymentMethodActions
from .profile_actions import ProfileActions

__all__ = ["Mutation"]

ACTIONS = (
    BillingActions,
    AssuranceActions,
    PaymentMethodActions,
    ProfileActions,
    FulfillmentActions,
)

Mutation = merge_types("Mutation", ACTIONS)
