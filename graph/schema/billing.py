"""Billing types: billing accounts, bills and their lines, payments, payment methods, usage."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Final, cast

import strawberry

from graph.auth.masking import HIDDEN, Masked
from graph.context import Info
from graph.resolvers import billing, fulfillment
from graph.sources.billing import AppliedCustomerBillingRate as BillLineRecord
from graph.sources.billing import CustomerBill as CustomerBillRecord
from graph.sources.billing import Payment as PaymentRecord
from graph.sources.billing import PaymentMethod as PaymentMethodRecord
from graph.sources.billing import Usage as UsageRecord
from graph.sources.crm import BillingAccount as BillingAccountRecord

from .common import (
    After,
    Connection,
    First,
    Money,
    Node,
    NodeKind,
    as_text,
    build_node,
    encode_global_id,
    enum_member,
    money,
    paginate,
    parse_date,
    parse_datetime,
    ref_id,
    register_node,
)
from .projection import Reads, reads

__all__ = [
    "AppliedPayment",
    "Balance",
    "BankAccount",
    "Bill",
    "BillDocument",
    "BillLine",
    "BillState",
    "BillingAccount",
    "BillingPeriod",
    "Payment",
    "PaymentCard",
    "PaymentItem",
    "PaymentMethod",
    "PaymentMethodKind",
    "Tax",
    "Usage",
    "UsageCharacteristic",
    "UsageStatus",
]

if TYPE_CHECKING:
    from graph.schema.fulfillment import Product


OUTSTANDING: Final = "outstanding"  # the TMF666 balanceType of what the account still owes


def _sum(amounts: Iterable[Money | None]) -> Money | None:
    """The sum of the amounts given, or None when there are none or currencies differ."""
    present = [m for m in amounts if m is not None]
    if not present or len({m.currency for m in present}) > 1:
        return None
    total = sum((m.amount for m in present), Decimal(0))
    return Money(amount=total, currency=present[0].currency)


def _masked(number: str) -> str:
    """An account number with every letter and digit hidden except a leading country code and
    the last four; a number the backend already masked (``DE** … **24 01``) stays as it is."""
    positions = [i for i, ch in enumerate(number) if ch.isalnum()]
    keep = set(positions[-4:])
    if len(positions) > 4 and number[positions[0]].isalpha() and number[positions[1]].isalpha():
        keep.update(positions[:2])
    return "".join(ch if i in keep or not ch.isalnum() else "*" for i, ch in enumerate(number))


# -- enums ------------------------------------------------------------------------------------


@strawberry.enum(description="Lifecycle state of a bill (TMF678 stateValue).")
class BillState(Enum):
    NEW = strawberry.enum_value("new", description="Created, not yet validated or sent.")
    ON_HOLD = strawberry.enum_value("onHold", description="Held back before sending.")
    VALIDATED = strawberry.enum_value("validated", description="Checked and ready to send.")
    SENT = strawberry.enum_value("sent", description="Sent to the customer; unpaid.")
    PARTIALLY_PAID = strawberry.enum_value(
        "partiallyPaid", description="Paid in part; something remains to pay."
    )
    SETTLED = strawberry.enum_value("settled", description="Paid in full.")


@strawberry.enum(description="Kind of payment method (TMF670 PaymentMethod @type).")
class PaymentMethodKind(Enum):
    CASH = strawberry.enum_value("cash", description="Cash.")
    DIGITAL_WALLET = strawberry.enum_value("digitalWallet", description="A digital wallet.")
    TOKENIZED_CARD = strawberry.enum_value(
        "tokenizedCard", description="A card stored as a payment-provider token."
    )
    BANK_ACCOUNT_TRANSFER = strawberry.enum_value(
        "bankAccountTransfer", description="A transfer from a bank account."
    )
    BANK_ACCOUNT_DEBIT = strawberry.enum_value(
        "bankAccountDebit", description="A debit from a bank account."
    )
    BANK_CARD = strawberry.enum_value("bankCard", description="A bank card.")
    VOUCHER = strawberry.enum_value("voucher", description="A voucher.")
    CHECK = strawberry.enum_value("check", description="A cheque.")
    BUCKET_PAYMENT_METHOD = strawberry.enum_value(
        "bucketPaymentMethod", description="A bucket (e.g. prepaid balance)."
    )
    ACCOUNT_PAYMENT_METHOD = strawberry.enum_value(
        "accountPaymentMethod", description="Charged to an account."
    )
    LOYALTY_PAYMENT_METHOD = strawberry.enum_value(
        "loyaltyPaymentMethod", description="Loyalty points."
    )
    DIRECT_DEBIT = strawberry.enum_value("directDebit", description="A direct-debit mandate.")


_CARDS: Final = frozenset({PaymentMethodKind.TOKENIZED_CARD, PaymentMethodKind.BANK_CARD})
_BANK_ACCOUNTS: Final = frozenset(
    {
        PaymentMethodKind.BANK_ACCOUNT_DEBIT,
        PaymentMethodKind.BANK_ACCOUNT_TRANSFER,
        PaymentMethodKind.DIRECT_DEBIT,
    }
)


@strawberry.enum(description="Processing status of a usage record (TMF635 UsageStatusType).")
class UsageStatus(Enum):
    RECEIVED = strawberry.enum_value("received", description="Received, not yet processed.")
    REJECTED = strawberry.enum_value("rejected", description="Rejected as invalid.")
    RECYCLED = strawberry.enum_value("recycled", description="Set aside to be processed again.")
    GUIDED = strawberry.enum_value("guided", description="Assigned to a product or account.")
    RATED = strawberry.enum_value("rated", description="Priced, not yet billed.")
    RERATED = strawberry.enum_value("rerated", description="Priced again after a change.")
    BILLED = strawberry.enum_value("billed", description="Charged on a bill.")


# -- small value types ------------------------------------------------------------------------


@strawberry.type(description="A span of calendar days, both ends included.")
class BillingPeriod:
    start: datetime.date | None = strawberry.field(description="The first day covered.")
    end: datetime.date | None = strawberry.field(description="The last day covered.")

    @classmethod
    def from_record(cls, period: Mapping[str, Any] | None) -> BillingPeriod | None:
        if not period:
            return None
        return cls(
            start=parse_date(period.get("startDateTime")),
            end=parse_date(period.get("endDateTime")),
        )


@strawberry.type(description="Tax charged at one rate (TMF678 TaxItem / AppliedBillingTaxRate).")
class Tax:
    category: str | None = strawberry.field(description="Tax category, e.g. VAT.")
    rate: float | None = strawberry.field(description="Rate as a fraction, e.g. 0.19 for 19 %.")
    amount: Money | None = strawberry.field(description="Amount of tax.")

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Tax:
        rate = record.get("taxRate")
        return cls(
            category=record.get("taxCategory"),
            rate=float(rate) if isinstance(rate, int | float) else None,
            amount=money(record.get("taxAmount")),
        )


@strawberry.type(description="One charge on a bill (TMF678 AppliedCustomerBillingRate).")
class BillLine:
    name: str | None = strawberry.field(description="Name of the charge, as printed.")
    description: str | None = strawberry.field(description="Description of the charge.")
    type: str | None = strawberry.field(
        description="Kind of charge, e.g. recurringCharge, oneTimeCharge, usageCharge."
    )
    date: datetime.datetime | None = strawberry.field(description="When the charge was applied.")
    period_coverage: BillingPeriod | None = strawberry.field(
        description="The days the charge covers."
    )
    tax_excluded_amount: Money | None = strawberry.field(description="Amount before tax.")
    tax_included_amount: Money | None = strawberry.field(description="Amount including tax.")
    taxes: list[Tax] = strawberry.field(description="Taxes applied to the charge.")
    product_reference: str | None = strawberry.field(
        description="Backend id (TMF637) of the product charged, if any."
    )

    @classmethod
    def from_record(cls, record: BillLineRecord) -> BillLine:
        return cls(
            name=record.get("name"),
            description=record.get("description"),
            type=record.get("type"),
            date=parse_datetime(record.get("date")),
            period_coverage=BillingPeriod.from_record(record.get("periodCoverage")),
            tax_excluded_amount=money(record.get("taxExcludedAmount")),
            tax_included_amount=money(record.get("taxIncludedAmount")),
            taxes=[Tax.from_record(t) for t in record.get("appliedTax") or []],
            product_reference=ref_id(record.get("product")),
        )

    @strawberry.field(description="The product charged, if the charge is for one.")
    async def product(
        self, info: Info
    ) -> Annotated[Product, strawberry.lazy("graph.schema.fulfillment")] | None:
        record = await fulfillment.product_by_id(info, self.product_reference)
        return cast("Product", build_node("Product", record)) if record else None


@strawberry.type(description="The printable document of a bill (TMF678 billDocument).")
class BillDocument:
    name: str | None = strawberry.field(description="File name, e.g. INV-202502-1.pdf.")
    url: str | None = strawberry.field(description="Where to download the document.")
    mime_type: str | None = strawberry.field(description="Media type, e.g. application/pdf.")

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> BillDocument:
        return cls(name=record.get("name"), url=record.get("url"), mime_type=record.get("mimeType"))


@strawberry.type(description="Part of a payment applied to a bill (TMF678 AppliedPayment).")
class AppliedPayment:
    applied_amount: Money | None = strawberry.field(description="Amount applied to the bill.")
    payment_id: strawberry.Private[str | None]

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> AppliedPayment:
        return cls(
            applied_amount=money(record.get("appliedAmount")),
            payment_id=ref_id(record.get("payment")),
        )

    @strawberry.field(description="The payment the amount comes from.")
    async def payment(self, info: Info) -> Payment | None:
        record = await billing.payment_by_id(info, self.payment_id)
        return Payment.from_record(record) if record else None


@strawberry.type(description="A balance of a billing account (TMF666 AccountBalance).")
class Balance:
    type: str | None = strawberry.field(description="Kind of balance, e.g. outstanding.")
    amount: Money | None = strawberry.field(description="The balance.")
    valid_from: datetime.datetime | None = strawberry.field(
        description="Since when the balance holds."
    )

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Balance:
        return cls(
            type=record.get("balanceType"),
            amount=money(record.get("amount")),
            valid_from=parse_datetime((record.get("validFor") or {}).get("startDateTime")),
        )


@strawberry.type(description="Part of a payment, allocated to one bill (TMF676 PaymentItem).")
class PaymentItem:
    amount: Money | None = strawberry.field(description="Amount allocated.")
    bill_id: strawberry.Private[str | None]

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> PaymentItem:
        item = record.get("item")
        is_bill = isinstance(item, Mapping) and item.get("@referredType") == "CustomerBill"
        return cls(amount=money(record.get("amount")), bill_id=ref_id(item) if is_bill else None)

    @strawberry.field(description="The bill paid, when the item pays a bill.")
    async def bill(self, info: Info) -> Bill | None:
        record = await billing.bill_by_id(info, self.bill_id)
        return Bill.from_record(record) if record else None


@strawberry.type(description="Safe details of a payment card: never its number or token.")
class PaymentCard:
    brand: str | None = strawberry.field(description="Card brand, e.g. Visa.")
    card_type: str | None = strawberry.field(description="e.g. credit, debit.")
    last_four_digits: str | None = strawberry.field(description="Last four digits of the card.")
    expiration_month: int | None = strawberry.field(description="Month of expiry, 1 to 12.")
    expiration_year: int | None = strawberry.field(description="Year of expiry.")

    @classmethod
    def from_record(cls, record: PaymentMethodRecord) -> PaymentCard:
        expires = parse_date(record.get("expirationDate"))
        last_four = record.get("lastFourDigits")
        return cls(
            brand=record.get("brand"),
            card_type=cast(Mapping[str, Any], record).get("cardType"),
            last_four_digits=last_four[-4:] if last_four else None,
            expiration_month=expires.month if expires else None,
            expiration_year=expires.year if expires else None,
        )


@strawberry.type(description="Safe details of a bank account: the number is masked.")
class BankAccount:
    account_number: str | None = strawberry.field(
        description="Masked account number (e.g. IBAN): only the last four digits show."
    )
    account_number_type: str | None = strawberry.field(description="e.g. IBAN.")
    bank: str | None = strawberry.field(description="Name of the bank.")

    @classmethod
    def from_record(cls, record: PaymentMethodRecord) -> BankAccount:
        number = record.get("accountNumber")
        return cls(
            account_number=_masked(number) if number else None,
            account_number_type=record.get("accountNumberType"),
            bank=record.get("bank"),
        )


@strawberry.type(description="One measured characteristic of a usage, e.g. duration.")
class UsageCharacteristic:
    name: str = strawberry.field(description="Name of the characteristic, e.g. duration.")
    value: str | None = strawberry.field(
        description="The value as text (numbers and structures as JSON)."
    )
    unit: str | None = strawberry.field(
        description="Unit of the value, e.g. seconds or MB, when the backend gives one."
    )


# -- nodes ------------------------------------------------------------------------------------


@strawberry.type(description="An account bills are issued to and paid from (TMF666).")
class BillingAccount(Node):
    reference: str = strawberry.field(description="The account's id in the backend (TMF666).")
    name: str | None = strawberry.field(description="Name of the account, e.g. Main account.")
    account_type: str | None = strawberry.field(description="e.g. postpaid, prepaid.")
    state: str | None = strawberry.field(description="Lifecycle state, e.g. active, closed.")
    payment_status: str | None = strawberry.field(
        description="Payment condition, e.g. due, paid, in arrears."
    )
    balances: list[Balance] = strawberry.field(description="The account's balances.")
    outstanding: Money | None = strawberry.field(
        description="What the account still owes (its `outstanding` balance)."
    )
    credit_limit: Money | None = strawberry.field(
        description="The most that may be charged to the account."
    )
    record: strawberry.Private[BillingAccountRecord]

    @classmethod
    def from_record(cls, record: BillingAccountRecord) -> BillingAccount:
        balances = record.get("accountBalance") or []
        outstanding = next((b for b in balances if b.get("balanceType") == OUTSTANDING), None)
        return cls(
            id=strawberry.ID(encode_global_id("BillingAccount", record["id"])),
            reference=record["id"],
            name=record.get("name"),
            account_type=record.get("accountType"),
            state=record.get("state"),
            payment_status=record.get("paymentStatus"),
            balances=[Balance.from_record(b) for b in balances],
            outstanding=money(outstanding.get("amount")) if outstanding else None,
            credit_limit=money(record.get("creditLimit")),
            record=record,
        )

    @strawberry.field(description="The method the account's bills are paid with by default.")
    async def default_payment_method(self, info: Info) -> PaymentMethod | None:
        record = await billing.default_payment_method_of(info, self.record)
        return PaymentMethod.from_record(record) if record else None

    @strawberry.field(description="The account's bills, newest first.")
    async def bills(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[Bill] | None:
        records = await billing.bills_of_account(info, self.reference)
        maximum = info.context.settings.max_page_size
        return paginate(records, first, after, maximum, Bill.from_record)

    @strawberry.field(description="Payments made on the account, newest first.")
    async def payments(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[Payment] | None:
        records = await billing.payments_of_account(info, self.reference)
        maximum = info.context.settings.max_page_size
        return paginate(records, first, after, maximum, Payment.from_record)


@strawberry.type(description="A bill issued to a billing account (TMF678 CustomerBill).")
class Bill(Node):
    reference: str = strawberry.field(description="The bill's id in the backend (TMF678).")
    bill_no: str | None = strawberry.field(description="Bill number, as printed.")
    bill_date: datetime.date | None = strawberry.field(description="Date the bill was issued.")
    payment_due_date: datetime.date | None = strawberry.field(
        description="Date by which the bill is to be paid."
    )
    billing_period: BillingPeriod | None = strawberry.field(description="The days the bill covers.")
    category: str | None = strawberry.field(description="e.g. normal, duplicate, interim.")
    run_type: str | None = strawberry.field(description="e.g. onCycle, offCycle.")
    state: BillState | None = strawberry.field(
        description="Lifecycle state; null when the backend reports an unknown one."
    )
    amount_due: Money | None = strawberry.field(description="Amount to pay for this bill.")
    remaining_amount: Money | None = strawberry.field(description="What is still to pay.")
    tax_excluded_amount: Money | None = strawberry.field(description="Total before tax.")
    tax_included_amount: Money | None = strawberry.field(description="Total including tax.")
    taxes: list[Tax] = strawberry.field(description="Tax per rate and category.")
    applied_payments: list[AppliedPayment] = strawberry.field(
        description="Payments applied to the bill so far."
    )
    document: BillDocument | None = strawberry.field(description="The printable bill.")
    record: strawberry.Private[CustomerBillRecord]

    @classmethod
    def from_record(cls, record: CustomerBillRecord) -> Bill:
        documents = record.get("billDocument") or []
        return cls(
            id=strawberry.ID(encode_global_id("Bill", record["id"])),
            reference=record["id"],
            bill_no=record.get("billNo"),
            bill_date=parse_date(record.get("billDate")),
            payment_due_date=parse_date(record.get("paymentDueDate")),
            billing_period=BillingPeriod.from_record(record.get("billingPeriod")),
            category=record.get("category"),
            run_type=record.get("runType"),
            state=enum_member(BillState, record.get("state")),
            amount_due=money(record.get("amountDue")),
            remaining_amount=money(record.get("remainingAmount")),
            tax_excluded_amount=money(record.get("taxExcludedAmount")),
            tax_included_amount=money(record.get("taxIncludedAmount")),
            taxes=[Tax.from_record(t) for t in record.get("taxItem") or []],
            applied_payments=[
                AppliedPayment.from_record(p) for p in record.get("appliedPayment") or []
            ],
            document=BillDocument.from_record(documents[0]) if documents else None,
            record=record,
        )

    @strawberry.field(description="The charges on the bill.")
    async def lines(self, info: Info) -> list[BillLine] | None:
        return [BillLine.from_record(r) for r in await billing.lines_of_bill(info, self.reference)]

    @strawberry.field(description="The billing account the bill was issued to.")
    async def account(self, info: Info) -> BillingAccount | None:
        record = await billing.account_of_bill(info, self.record)
        return BillingAccount.from_record(record) if record else None


@strawberry.type(description="A payment made on a billing account (TMF676).")
class Payment(Node):
    reference: str = strawberry.field(description="The payment's id in the backend (TMF676).")
    name: str | None = strawberry.field(description="Short name of the payment.")
    description: str | None = strawberry.field(description="What the payment is for.")
    status: str | None = strawberry.field(description="Status, e.g. done, authorized, failed.")
    payment_date: datetime.datetime | None = strawberry.field(
        description="When the payment was made."
    )
    status_date: datetime.datetime | None = strawberry.field(
        description="When the status was last set."
    )
    total_amount: Money | None = strawberry.field(description="Amount paid, including tax.")
    amount: Money | None = strawberry.field(description="Amount paid, net of tax.")
    channel: str | None = strawberry.field(
        description="Channel the payment came through, e.g. Online portal."
    )
    items: list[PaymentItem] = strawberry.field(
        description="How the payment is allocated to bills."
    )
    record: strawberry.Private[PaymentRecord]

    @classmethod
    def from_record(cls, record: PaymentRecord) -> Payment:
        channel = record.get("channel") or {}
        return cls(
            id=strawberry.ID(encode_global_id("Payment", record["id"])),
            reference=record["id"],
            name=record.get("name"),
            description=record.get("description"),
            status=record.get("status"),
            payment_date=parse_datetime(record.get("paymentDate")),
            status_date=parse_datetime(record.get("statusDate")),
            total_amount=money(record.get("totalAmount")),
            amount=money(record.get("amount")),
            channel=channel.get("name") or channel.get("id"),
            items=[PaymentItem.from_record(i) for i in record.get("paymentItem") or []],
            record=record,
        )

    @strawberry.field(description="The payment method used.")
    async def method(self, info: Info) -> PaymentMethod | None:
        record = await billing.method_of_payment(info, self.record)
        return PaymentMethod.from_record(record) if record else None

    @strawberry.field(description="The billing account paid.")
    async def account(self, info: Info) -> BillingAccount | None:
        record = await billing.account_of_payment(info, self.record)
        return BillingAccount.from_record(record) if record else None


@strawberry.type(
    description=(
        "A way a customer pays (TMF670). Only safe details are exposed: never a card number, "
        "token or unmasked account number."
    )
)
class PaymentMethod(Node):
    reference: str = strawberry.field(description="The method's id in the backend (TMF670).")
    name: str | None = strawberry.field(
        description="Friendly name, e.g. Visa ending 1234. Hidden for analysts.",
        extensions=[Masked(HIDDEN)],
    )
    description: str | None = strawberry.field(
        description="Description of the method. Hidden for analysts.", extensions=[Masked(HIDDEN)]
    )
    kind: PaymentMethodKind | None = strawberry.field(
        description="Kind of method; null when the backend reports an unknown one."
    )
    is_preferred: bool = strawberry.field(description="Whether the owner prefers this method.")
    status: str | None = strawberry.field(description="Status, e.g. active.")
    status_date: datetime.datetime | None = strawberry.field(
        description="When the status was last set."
    )
    valid_until: datetime.datetime | None = strawberry.field(
        description="End of the method's validity, if it ends."
    )
    card: PaymentCard | None = strawberry.field(
        description="Card details, for card methods. Hidden (null) for analysts.",
        extensions=[Masked(HIDDEN)],
    )
    bank_account: BankAccount | None = strawberry.field(
        description="Bank account details, for debit and transfer methods. Hidden (null) for "
        "analysts.",
        extensions=[Masked(HIDDEN)],
    )

    @classmethod
    def from_record(cls, record: PaymentMethodRecord) -> PaymentMethod:
        kind = enum_member(PaymentMethodKind, cast(Mapping[str, Any], record).get("@type"))
        return cls(
            id=strawberry.ID(encode_global_id("PaymentMethod", record["id"])),
            reference=record["id"],
            name=record.get("name"),
            description=record.get("description"),
            kind=kind,
            is_preferred=bool(record.get("isPreferred", False)),
            status=record.get("status"),
            status_date=parse_datetime(record.get("statusDate")),
            valid_until=parse_datetime((record.get("validFor") or {}).get("endDateTime")),
            card=PaymentCard.from_record(record) if kind in _CARDS else None,
            bank_account=BankAccount.from_record(record) if kind in _BANK_ACCOUNTS else None,
        )


@strawberry.type(description="A recorded use of a product, e.g. a call (TMF635 Usage).")
class Usage(Node):
    reference: str = strawberry.field(description="The usage's id in the backend (TMF635).")
    usage_type: str | None = strawberry.field(description="e.g. voice, data, sms.")
    usage_date: datetime.datetime | None = strawberry.field(description="When it happened.")
    description: str | None = strawberry.field(
        description="Description of the usage. Hidden for analysts.", extensions=[Masked(HIDDEN)]
    )
    status: UsageStatus | None = strawberry.field(
        description="Processing status; null when the backend reports an unknown one."
    )
    characteristics: list[UsageCharacteristic] = strawberry.field(
        description="What was measured, e.g. duration, volume, destination. Hidden for analysts.",
        extensions=[Masked(HIDDEN)],
    )
    rated_amount: Money | None = strawberry.field(
        description="Price of the usage including tax; null when it was not rated."
    )
    product_reference: str | None = strawberry.field(
        description="Backend id (TMF637) of the product used."
    )

    @classmethod
    def from_record(cls, record: UsageRecord) -> Usage:
        characteristics = [
            cast(Mapping[str, Any], c) for c in record.get("usageCharacteristic") or []
        ]
        values = {c.get("name"): c.get("value") for c in characteristics}
        rated = record.get("ratedProductUsage") or []
        products = (ref_id(r.get("productRef")) for r in rated)
        return cls(
            id=strawberry.ID(encode_global_id("Usage", record["id"])),
            reference=record["id"],
            usage_type=record.get("usageType"),
            usage_date=parse_datetime(record.get("usageDate")),
            description=record.get("description"),
            status=enum_member(UsageStatus, record.get("status")),
            characteristics=[
                UsageCharacteristic(
                    name=str(c.get("name") or ""),
                    value=as_text(c.get("value")),
                    unit=as_text(c.get("unit") or values.get(f"{c.get('name')}Unit")),
                )
                for c in characteristics
            ],
            rated_amount=_sum(money(r.get("taxIncludedRatingAmount")) for r in rated),
            product_reference=next((p for p in products if p), None),
        )

    @strawberry.field(description="The product used.")
    async def product(
        self, info: Info
    ) -> Annotated[Product, strawberry.lazy("graph.schema.fulfillment")] | None:
        record = await fulfillment.product_by_id(info, self.product_reference)
        return cast("Product", build_node("Product", record)) if record else None


register_node(
    "BillingAccount",
    NodeKind(source=lambda s: s.billing_account, build=BillingAccount.from_record),
)
register_node("Bill", NodeKind(source=lambda s: s.bill, build=Bill.from_record))
register_node("Payment", NodeKind(source=lambda s: s.payment, build=Payment.from_record))
register_node(
    "PaymentMethod", NodeKind(source=lambda s: s.payment_method, build=PaymentMethod.from_record)
)
register_node("Usage", NodeKind(source=lambda s: s.usage, build=Usage.from_record))

# What each field reads of its records (TMF fields= projection, graph.schema.projection).
reads(
    BillingAccount,
    "billingAccount",
    reference="id",
    balances="accountBalance",
    outstanding="accountBalance",
    default_payment_method="defaultPaymentMethod",
    bills=Reads(joins={"customerBill": ("billDate",)}),
    payments=Reads(joins={"payment": ("paymentDate",)}),
)
reads(
    Bill,
    "customerBill",
    reference="id",
    taxes="taxItem",
    applied_payments="appliedPayment",
    document="billDocument",
    lines=Reads(),
    account="billingAccount",
)
reads(
    BillLine,
    "appliedCustomerBillingRate",
    taxes="appliedTax",
    product_reference="product",
    product="product",
)
reads(AppliedPayment, None, payment=Reads())
reads(PaymentItem, None, bill=Reads())
reads(
    Payment,
    "payment",
    reference="id",
    items="paymentItem",
    method="paymentMethod",
    account="account",
)
reads(
    PaymentMethod,
    "paymentMethod",
    reference="id",
    kind="@type",
    is_preferred="isPreferred",
    valid_until="validFor",
    card=("@type", "brand", "cardType", "lastFourDigits", "expirationDate"),
    bank_account=("@type", "accountNumber", "accountNumberType", "bank"),
)
reads(
    Usage,
    "usage",
    reference="id",
    characteristics="usageCharacteristic",
    rated_amount="ratedProductUsage",
    product_reference="ratedProductUsage",
    product="ratedProductUsage",
)
