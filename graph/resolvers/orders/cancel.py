"""Cancelling an open product order (TMF622).

TMF622 also defines a ``cancelProductOrder`` task resource; the sandbox does not serve it, and
order managers commonly take a PATCH of the order's ``state`` to ``cancelled`` while the order
is open -- which is what is sent here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graph.actions import ActionRefused, Actor, Done, ProblemCode, Touched
from graph.actions.records import backend_refusal
from graph.sources import BackendNotFound, BackendRejected

from .quote import ORDER_OPEN

__all__ = ["CancelOrder", "cancel_order"]


@dataclass(frozen=True, slots=True)
class CancelOrder:
    order_id: str
    reason: str | None


async def cancel_order(actor: Actor, request: CancelOrder) -> Done:
    """Cancel an open order of the customer's."""
    order = await actor.loaders.by_id(actor.sources.product_order).load(request.order_id)
    if order is None:
        raise ActionRefused.one(ProblemCode.NOT_FOUND, "No such order of yours.", "order")
    _require_open(order.get("state"))
    body: dict[str, Any] = {"state": "cancelled"}
    if request.reason:
        body["cancellationReason"] = request.reason
    try:
        await actor.sources.product_order.patch(request.order_id, body)
    except BackendNotFound:
        raise ActionRefused.one(ProblemCode.NOT_FOUND, "No such order of yours.", "order") from None
    except BackendRejected as refused:
        if refused.status in (409, 422):  # it moved on meanwhile? say what it is now
            now = await actor.sources.product_order.get(request.order_id)
            _require_open((now or {}).get("state"))
        said = "Order management refused the cancellation: {reason}."
        raise backend_refusal(refused, said, "order") from None
    return Done(
        outcome={"order": request.order_id},
        summary=f"cancelled product order {request.order_id}",
        touched=[Touched("productOrder", request.order_id, "cancelled")],
    )


def _require_open(state: Any) -> None:
    if state not in ORDER_OPEN:
        raise ActionRefused.one(
            ProblemCode.ORDER_NOT_CANCELLABLE,
            f"This order is {state or 'closed'}: only an order not yet completed (acknowledged, "
            "in progress, pending or held) can be cancelled.",
            "order",
        )
