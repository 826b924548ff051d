"""Every action is recorded as a TMF683 party interaction: what was done, by whom, where.

One interaction per successful action: the customer (and the assisting agent, when there is
one) as related parties, the channel, the action's name as the reason, and one interaction
item per object the action created or changed. Records go through the app's
:class:`~graph.auth.audit.AuditWriter`, like agents' access records: the action never waits for
TMF683, and a record TMF683 cannot take is retried, then spilled, never dropped silently.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from graph.auth.audit import CHANNEL_NAMES, AuditWriter

from .actor import Actor

__all__ = ["Touched", "action_interaction", "record_action"]

SELF_SERVICE: Final = "Self-service"
ASSISTED: Final = "Assisted service"


@dataclass(frozen=True, slots=True)
class Touched:
    """An object an action created or changed."""

    resource: str  # TMF resource name, e.g. payment
    record_id: str
    role: str  # created, changed, paid, cancelled ...


def _stamp(moment: datetime.datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def action_interaction(
    actor: Actor,
    action: str,
    summary: str,
    touched: Sequence[Touched],
    started: datetime.datetime,
    ended: datetime.datetime,
) -> dict[str, Any]:
    """The TMF683 ``PartyInteraction_Create`` body for one finished action."""
    channel_name = CHANNEL_NAMES.get(actor.channel, actor.channel)
    kind = ASSISTED if actor.agent else SELF_SERVICE
    by = f"Agent {actor.agent}, for the customer," if actor.agent else "The customer"
    parties: list[dict[str, Any]] = [
        {
            "id": actor.customer_id,
            "href": f"urn:csm-graph:customer:{actor.customer_id}",
            "role": "customer",
            "@referredType": "Customer",
        }
    ]
    if actor.agent:
        parties.append(
            {
                "id": actor.agent,
                "href": f"urn:csm-graph:agent:{actor.agent}",
                "role": "agent",
                "@referredType": "Individual",
            }
        )
    return {
        "description": f"{by} {summary} via {channel_name}.",
        "direction": "inbound",
        "reason": f"{kind}: {action}",
        "status": "completed",
        "interactionDate": {"startDateTime": _stamp(started), "endDateTime": _stamp(ended)},
        "channel": [
            {
                "id": actor.channel,
                "href": f"urn:csm-graph:channel:{actor.channel}",
                "name": channel_name,
                "role": "contactChannel",
            }
        ],
        "relatedParty": parties,
        "interactionItem": [
            {
                "id": str(n),
                "reason": f"{action}: {t.role} {t.resource} {t.record_id}",
                "itemDate": {"startDateTime": _stamp(started), "endDateTime": _stamp(ended)},
                "item": {
                    "id": t.record_id,
                    "role": t.role,
                    "name": t.resource,
                    "@referredType": t.resource[0].upper() + t.resource[1:],
                },
            }
            for n, t in enumerate(touched, start=1)
        ],
    }


def record_action(
    writer: AuditWriter,
    actor: Actor,
    action: str,
    summary: str,
    touched: Sequence[Touched],
    started: datetime.datetime,
) -> None:
    """Queue the interaction for a finished action (never waits for TMF683)."""
    ended = datetime.datetime.now(datetime.UTC)
    writer.submit(action_interaction(actor, action, summary, touched, started, ended))
