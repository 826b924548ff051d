"""Assurance and care: trouble tickets (TMF621), service problems (TMF656) and the party
interactions (TMF683) that record each contact with the customer.
"""

from __future__ import annotations

import datetime
from typing import Final

from .plan import Record
from .state import CustomerState
from .values import CHANNELS, add_days, pick, stamp, ts

_TICKET_STATUS: Final = (
    (0.3, "closed"), (0.15, "resolved"), (0.2, "inProgress"), (0.1, "acknowledged"),
    (0.1, "pending"), (0.05, "held"), (0.05, "cancelled"), (0.05, "rejected"),
)  # fmt: skip
_TICKET_PATH: Final = {
    "acknowledged": ("acknowledged",),
    "inProgress": ("acknowledged", "inProgress"),
    "pending": ("acknowledged", "inProgress", "pending"),
    "held": ("acknowledged", "held"),
    "resolved": ("acknowledged", "inProgress", "resolved"),
    "closed": ("acknowledged", "inProgress", "resolved", "closed"),
    "cancelled": ("acknowledged", "cancelled"),
    "rejected": ("rejected",),
}
_TICKET_OPEN: Final = frozenset({"acknowledged", "inProgress", "pending", "held"})
_CHANGE_REASON: Final = {
    "acknowledged": "Ticket created",
    "inProgress": "Assigned to technical support",
    "pending": "Waiting for the customer's confirmation",
    "held": "Waiting for a technician appointment",
    "resolved": "Fault repaired",
    "closed": "Confirmed by the customer",
    "cancelled": "Cancelled at the customer's request",
    "rejected": "Duplicate of an earlier report",
}
_AGENT_NOTE: Final = {
    "inProgress": "We are looking into this and will update you shortly.",
    "pending": "Could you please restart your device and tell us whether the issue persists?",
    "held": "A technician appointment has been scheduled.",
    "resolved": "The fault has been repaired. Please let us know if anything is still wrong.",
    "closed": "Thank you for confirming. We are closing this ticket.",
    "cancelled": "Cancelled as requested.",
}
_INCIDENTS: Final = {
    "mobile": ("No mobile data", "Calls drop frequently", "Cannot send text messages"),
    "broadband": ("Internet connection drops", "Internet slower than booked", "No dial tone"),
    "tv": ("TV picture freezes", "TV box does not start"),
}
_COMPLAINTS: Final = ("Bill higher than expected", "Unknown charges on my bill", "Charged twice")
_REQUESTS: Final = {
    "mobile": ("Switch to eSIM", "Unlock my SIM card"),
    "broadband": ("Move my broadband to a new address", "Reschedule installation"),
    "tv": ("Add a second TV box", "Change my TV package"),
}
_CONTACT_REASON: Final = {
    "incident": "Reported a fault",
    "complaint": "Complaint about a bill",
    "request": "Service request",
}
_PROBLEM_STATUS: Final = {
    "acknowledged": "acknowledged",
    "inProgress": "inProgress",
    "pending": "inProgress",
    "held": "held",
    "resolved": "resolved",
    "closed": "closed",
    "cancelled": "cancelled",
    "rejected": "rejected",
}


class AssuranceBuilder(CustomerState):
    """What went wrong for the customer, and how often we spoke with them."""

    def tickets(self) -> list[tuple[Record, datetime.datetime, str, Record | None]]:
        """Trouble tickets (TMF621) with a consistent status history; returns (ticket,
        creation time, channel, affected service)."""
        rng = self.rng("tickets")
        r = rng.random
        plans = []
        for _ in range(self.profile.tickets):
            kind = pick(rng, ((0.55, "incident"), (0.3, "complaint"), (0.15, "request")))
            status: str = pick(rng, _TICKET_STATUS)
            created = self.moment(rng, 1 + r() * 19 if status in _TICKET_OPEN else 10 + r() * 170)
            usable = [
                p for p in self.products
                if p.kind != "addon" and p.status in ("active", "pendingTerminate")
                and p.start < created.date()
            ]  # fmt: skip
            if not usable:
                kind = "complaint"
            plans.append((created, kind, status, rng.choice(usable) if usable else None))
        plans.sort(key=lambda plan: plan[0])

        result: list[tuple[Record, datetime.datetime, str, Record | None]] = []
        for n, (created, kind, status, product) in enumerate(plans, start=1):
            tid = self.ids.id("troubleTicket", n)
            service: Record | None = None
            entities: list[Record] = []
            if kind == "complaint" or product is None:
                bills = [
                    b for a in self.accounts for b in a.bills if b["billDate"] < stamp(created)
                ]
                bill = max(bills[-3:], key=lambda b: b["billDate"]) if r() < 0.5 else bills[-1]
                title = rng.choice(_COMPLAINTS)
                text = f"{title}: bill {bill['billNo']} of {bill['amountDue']['value']:.2f} EUR."
                entities.append(
                    self.ids.ref("customerBill", bill["id"], bill["billNo"], role="disputedBill")
                )
                severity = "Minor"
            else:
                service = product.services[0]  # the main service: access, IPTV
                where = product.msisdn or product.offering.name
                if kind == "incident":
                    title = rng.choice(_INCIDENTS[product.kind])
                    severity = "Critical" if r() < 0.1 else "Major" if r() < 0.6 else "Minor"
                    entities.append(
                        self.ids.ref("service", service["id"], service["name"],
                                     role="affectedService")
                    )  # fmt: skip
                else:
                    title = rng.choice(_REQUESTS[product.kind])
                    severity = "Minor"
                    service = None
                text = f"{title} ({product.offering.name}, {where})."
                entities.append(
                    self.ids.ref("product", product.id, product.offering.name,
                                 role="affectedProduct" if kind == "incident" else "relatedProduct")
                )  # fmt: skip
            path = _TICKET_PATH[status]
            span = (self.now - created).total_seconds() / len(path)
            times = [created]
            for _ in path[1:]:
                times.append(times[-1] + datetime.timedelta(seconds=span * (0.2 + 0.7 * r())))
            changes = [
                {"status": s, "changeDate": stamp(t), "changeReason": _CHANGE_REASON[s]}
                for s, t in zip(path, times, strict=True)
            ]
            notes = [{"id": "1", "author": self.full, "date": stamp(created), "text": text}]
            for s, t in zip(path[1:], times[1:], strict=True):
                if s in _AGENT_NOTE:
                    notes.append(
                        {"id": str(len(notes) + 1), "author": "Customer care",
                         "date": stamp(t), "text": _AGENT_NOTE[s]}
                    )  # fmt: skip
            channel = rng.choice(tuple(CHANNELS))
            last = changes[-1]
            record: Record = {
                "id": tid,
                "href": self.ids.href("troubleTicket", tid),
                "@type": "TroubleTicket",
                "name": title,
                "description": text,
                "ticketType": kind,
                "severity": severity,
                "priority": {"Critical": "High", "Major": "Medium"}.get(severity, "Low"),
                "status": status,
                "creationDate": stamp(created),
                "lastUpdate": last["changeDate"],
                "statusChangeDate": last["changeDate"],
                "statusChangeReason": last["changeReason"],
                "statusChange": changes,
                "note": notes,
                "channel": {"id": channel, "name": CHANNELS[channel]},
                "relatedEntity": entities,
                "relatedParty": [self.customer("reporter")],
            }
            if status in _TICKET_OPEN:
                record["expectedResolutionDate"] = ts(add_days(self.today, 1 + int(r() * 5)), 18)
            if "resolved" in path:
                record["resolutionDate"] = changes[path.index("resolved")]["changeDate"]
            self.out["troubleTicket"].append(record)
            result.append((record, created, channel, service))
        return result

    def problems(self, tickets: list[tuple[Record, datetime.datetime, str, Record | None]]) -> None:
        """Service problems (TMF656), most raised from an incident ticket; an open problem
        puts the first resource of its service in alarm."""
        rng = self.rng("problems")
        r = rng.random
        linkable = [t for t in tickets if t[3] is not None]
        live = [
            s for p in self.products
            if p.kind != "addon" and p.status in ("active", "pendingTerminate")
            for s in p.services
        ]  # fmt: skip
        for n in range(1, self.profile.problems + 1):
            pid = self.ids.id("serviceProblem", n)
            ticket: Record | None = None
            if linkable and r() < 0.8:
                ticket, created, _, service = linkable.pop(0)
                assert service is not None
                created += datetime.timedelta(minutes=10 + r() * 110)
                status = _PROBLEM_STATUS[ticket["status"]]
                origin = "Trouble ticketing"
            else:
                status = pick(
                    rng,
                    ((0.1, "acknowledged"), (0.3, "inProgress"), (0.3, "resolved"),
                     (0.3, "closed")),
                )  # fmt: skip
                open_ = status in ("acknowledged", "inProgress")
                created = self.moment(rng, 1 + r() * 9 if open_ else 10 + r() * 80)
                running = [s for s in live if s["startDate"] < stamp(created)]
                service = rng.choice(running or live)
                origin = "Self-diagnostics"
            changed = created + (self.now - created) * (0.1 + 0.8 * r())
            record: Record = {
                "id": pid,
                "href": self.ids.href("serviceProblem", pid),
                "@type": "ServiceProblem",
                "name": f"{service['name']} degraded",
                "description": f"{service['name']} does not work as expected",
                "category": "connectivity" if service["serviceType"] != "iptv" else "quality",
                "priority": 1 + int(r() * 4),
                "impactImportanceFactor": "medium",
                "reason": "Service degradation reported",
                "originatingSystem": origin,
                "status": status,
                "creationDate": stamp(created),
                "statusChangeDate": stamp(changed),
                "lastUpdate": stamp(changed),
                "affectedNumberOfServices": 1,
                "affectedService": [self.ids.ref("service", service["id"], service["name"])],
                "originatorParty": self.customer("originator"),
                "relatedParty": [self.customer("customer")],
            }
            if ticket is not None:
                record["troubleTicket"] = [
                    self.ids.ref("troubleTicket", ticket["id"], ticket["name"])
                ]
            if status in ("resolved", "closed"):
                record["resolutionDate"] = stamp(changed)
            elif status not in ("cancelled", "rejected"):
                first = service["supportingResource"][0]["id"]
                self.resources[first]["resourceStatus"] = "alarm"
            self.out["serviceProblem"].append(record)

    # -- CRM ---------------------------------------------------------------------------------

    def interactions(
        self,
        tickets: list[tuple[Record, datetime.datetime, str, Record | None]],
        orders: list[tuple[Record, datetime.datetime, str]],
    ) -> None:
        """Past contacts with the customer (TMF683), most about a ticket, order or bill."""
        rng = self.rng("interactions")
        r = rng.random
        open_tickets = list(tickets)
        open_orders = list(orders)
        surveys = [t for t in tickets if t[0]["status"] == "closed"]
        bills = [b for a in self.accounts for b in a.bills[-4:]]
        plans: list[tuple[datetime.datetime, str, str, str, Record | None]] = []
        for _ in range(self.profile.interactions):
            x = r()
            if x < 0.35 and open_tickets:
                ticket, created, channel, _ = open_tickets.pop(0)
                item = self.ids.ref("troubleTicket", ticket["id"], ticket["name"],
                                    role="createdTicket")  # fmt: skip
                start = created - datetime.timedelta(minutes=3 + r() * 20)
                reason = _CONTACT_REASON[ticket["ticketType"]]
                plans.append((start, channel, "inbound", reason, item))
            elif x < 0.6 and open_orders:
                order, at, channel = open_orders.pop(0)
                item = self.ids.ref("productOrder", order["id"], role="createdOrder")
                start = at - datetime.timedelta(minutes=5 + r() * 25)
                plans.append((start, channel, "inbound", "Placed an order", item))
            elif x < 0.7 and surveys:
                ticket = surveys.pop(0)[0]
                closed = datetime.datetime.fromisoformat(ticket["statusChangeDate"][:-1])
                start = min(closed + datetime.timedelta(days=1 + r() * 2),
                            self.now - datetime.timedelta(hours=6))  # fmt: skip
                item = self.ids.ref("troubleTicket", ticket["id"], ticket["name"], role="subject")
                reason = "Customer satisfaction survey"
                plans.append((start, "agent-desktop", "outbound", reason, item))
            elif x < 0.88:
                bill = rng.choice(bills)
                day = datetime.datetime.fromisoformat(bill["billDate"][:-1])
                start = min(day + datetime.timedelta(days=1 + r() * 8, hours=6 + r() * 10),
                            self.now - datetime.timedelta(hours=6))  # fmt: skip
                item = self.ids.ref("customerBill", bill["id"], bill["billNo"], role="subject")
                channel = rng.choice(tuple(CHANNELS))
                plans.append((start, channel, "inbound", "Question about a bill", item))
            else:
                channel = rng.choice(tuple(CHANNELS))
                plans.append((self.moment(rng, 5 + r() * 300), channel, "inbound",
                              "Tariff advice", None))  # fmt: skip
        plans.sort(key=lambda plan: plan[0])
        for n, (start, channel, direction, reason, subject) in enumerate(plans, start=1):
            iid = self.ids.id("partyInteraction", n)
            end = stamp(start + datetime.timedelta(minutes=3 + r() * 22))
            record: Record = {
                "id": iid,
                "href": self.ids.href("partyInteraction", iid),
                "@type": "PartyInteraction",
                "description": f"{reason} via {CHANNELS[channel]}",
                "reason": reason,
                "direction": direction,
                "status": "completed",
                "creationDate": stamp(start),
                "statusChangeDate": end,
                "interactionDate": {"startDateTime": stamp(start), "endDateTime": end},
                # TMF683 RelatedChannel requires an href, yet channels are no resource here.
                "channel": [
                    {
                        "id": channel,
                        "href": f"urn:csm-graph:channel:{channel}",
                        "name": CHANNELS[channel],
                        "role": "contactChannel",
                    }
                ],
                "relatedParty": [self.customer("customer")],
            }
            if subject is not None:
                record["interactionItem"] = [{"id": "1", "reason": reason, "item": subject}]
            self.out["partyInteraction"].append(record)
