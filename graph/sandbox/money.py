"""TMF ``Money`` ({unit, value}) handled in integer cents, so amounts add up exactly."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from .errors import TmfError

__all__ = ["cents", "money"]


def cents(amount: Any, what: str = "amount") -> tuple[int, str]:
    """(cents, currency) of a Money value; 422 when it is not a valid amount."""
    if not isinstance(amount, dict) or not isinstance(amount.get("unit"), str):
        raise TmfError(422, "Invalid amount", f"{what} must be a Money {{unit, value}}")
    value = amount.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TmfError(422, "Invalid amount", f"{what}.value must be a number")
    try:
        exact = Decimal(str(value))
    except InvalidOperation:
        raise TmfError(422, "Invalid amount", f"{what}.value must be a number") from None
    if not exact.is_finite() or exact != exact.quantize(Decimal("0.01")):
        raise TmfError(422, "Invalid amount", f"{what} has more than two decimals")
    return int((exact * 100).to_integral_value(ROUND_HALF_EVEN)), amount["unit"]


def money(amount_cents: int, unit: str) -> dict[str, Any]:
    return {"unit": unit, "value": float(Decimal(amount_cents) / 100)}
