"""The account level: one builder composed of the per-domain builders, run in a fixed order.

Each step has its own random stream, but the order still matters, because later steps read
what earlier ones made: the inventory realizes the planned products, bills charge them and
payments read the payment methods, billing accounts sum the bills, orders point products at
their order, tickets dispute bills and name services, problems follow tickets and put
resources in alarm, and interactions recall tickets, orders and bills.
"""

from __future__ import annotations

from .assurance import AssuranceBuilder
from .billing import BillingBuilder
from .inventory import InventoryBuilder
from .ordering import OrderingBuilder
from .plan import Record, SeedPlan


class AccountLevelBuilder(BillingBuilder, InventoryBuilder, OrderingBuilder, AssuranceBuilder):
    """Builds one customer's account-level records; one instance per call."""

    def build(self) -> dict[str, list[Record]]:
        """Run every step, in order; products go out last, once orders have marked them."""
        self.plan_accounts()
        self.payment_methods()
        self.plan_products()
        self.inventory()
        self.bills()
        self.billing_accounts()
        self.usage()
        orders = self.orders()
        tickets = self.tickets()
        self.problems(tickets)
        self.interactions(tickets, orders)
        for product in self.products:
            self.out["product"].append(product.record)
        return self.out


def account_records(plan: SeedPlan, index: int) -> dict[str, list[Record]]:
    """Everything customer ``index`` owns beyond the party level: accounts, bills, rates,
    payments, payment methods, usage, inventory, tickets, problems, orders, interactions."""
    return AccountLevelBuilder(plan, index).build()
