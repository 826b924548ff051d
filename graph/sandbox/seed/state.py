"""What one customer's account-level build shares: its accounts, its products, its records.

The per-domain builders (:mod:`.billing`, :mod:`.inventory`, :mod:`.ordering`,
:mod:`.assurance`) all extend :class:`CustomerState`, so each of them reads and adds to the
same accounts, products and output; :mod:`.accounts` composes them into one builder.
"""

from __future__ import annotations

import datetime
import random

from graph.sandbox.registry import COLLECTIONS

from .catalog import Offering
from .party import CustomerIds, account_ids, customer_profile
from .plan import Record, SeedPlan
from .values import add_days, shift_months


class Account:
    """A billing account as planned: when it started, its bill dates, its payment method."""

    __slots__ = ("bill_dates", "bills", "id", "n", "name", "paper", "pm", "start")

    def __init__(self, n: int, rid: str, name: str, paper: bool) -> None:
        self.n = n
        self.id = rid
        self.name = name
        self.paper = paper
        self.start = datetime.date.min
        self.bill_dates: list[datetime.date] = []  # oldest first; period k = [k-1, k)
        self.pm = 1
        self.bills: list[Record] = []

    def period_start(self, k: int) -> datetime.date:
        """Start of the period billed by bill ``k`` (0-based)."""
        return shift_months(self.bill_dates[k], -1)


class Product:
    """A product as planned, with the services, resources and record built for it."""

    __slots__ = (
        "account",
        "base",
        "end",
        "id",
        "msisdn",
        "n",
        "offering",
        "order_date",
        "record",
        "resources",
        "services",
        "sim_type",
        "start",
        "status",
    )  # fmt: skip

    def __init__(self, n: int, rid: str, offering: Offering, account: Account) -> None:
        self.n = n
        self.id = rid
        self.offering = offering
        self.account = account
        self.start = account.start
        self.end: datetime.date | None = None
        self.status = "active"
        self.order_date = account.start
        self.base: Product | None = None  # the mobile plan an add-on relies on
        self.msisdn = ""
        self.sim_type = ""
        self.services: list[Record] = []
        self.resources: list[Record] = []
        self.record: Record = {}

    @property
    def kind(self) -> str:
        return self.offering.kind

    def charged(self, account: Account, k: int) -> bool:
        """Whether bill ``k`` of the account carries this product's recurring charge."""
        period = account.period_start(k)
        return self.start <= period and (self.end is None or period < self.end)


class CustomerState:
    """One customer's account-level build in progress; one instance per call.

    Each step draws from its own random stream (:meth:`rng`), so a change in one step leaves
    the records of the others as they were.
    """

    def __init__(self, plan: SeedPlan, index: int) -> None:
        self.plan = plan
        self.index = index
        self.today = plan.today
        self.now = datetime.datetime(plan.today.year, plan.today.month, plan.today.day)
        self.profile = profile = customer_profile(plan, index)
        self.ids = CustomerIds(plan, index)
        self.seed = f"{plan.seed}:{index}:"
        self.full = profile.full_name
        self.accounts = [
            Account(n, rid, name, profile.paper[n - 1])
            for n, (rid, name) in enumerate(account_ids(self.ids, profile), start=1)
        ]
        self.pm_ids = [
            self.ids.id("paymentMethod", n) for n in range(1, profile.payment_methods + 1)
        ]
        self.pm_names: list[str] = []
        self.products: list[Product] = []
        self.resources: dict[str, Record] = {}
        self.out: dict[str, list[Record]] = {
            name: []
            for name, spec in COLLECTIONS.items()
            if spec.owned and name not in ("individual", "customer")
        }

    def rng(self, section: str) -> random.Random:
        # One stream per section, so a change in one section leaves the others as they were.
        return random.Random(self.seed + section)

    def customer(self, role: str) -> Record:
        return self.ids.ref("customer", self.ids.customer, self.full, role=role)

    def account_ref(self, account: Account) -> Record:
        return self.ids.ref("billingAccount", account.id, account.name)

    def pm_ref(self, n: int) -> Record:
        return self.ids.ref("paymentMethod", self.pm_ids[n - 1], self.pm_names[n - 1])

    def product_ref(self, product: Product) -> Record:
        return self.ids.ref("product", product.id, product.offering.name)

    def moment(self, rng: random.Random, days_ago: float) -> datetime.datetime:
        """An instant ``days_ago`` days before today, at a plausible time of day."""
        day = add_days(self.today, -int(days_ago))
        return datetime.datetime(day.year, day.month, day.day, 8 + int(rng.random() * 12),
                                 int(rng.random() * 60), int(rng.random() * 60))  # fmt: skip
