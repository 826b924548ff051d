"""Input checks shared by actions: ids, amounts, texts, card data. Pure functions, no I/O.

Each raises :class:`~graph.actions.problems.ActionRefused` naming the input field, before
anything is sent to a backend. Card data gets special care: a value that looks like a card
number (a card network's length and leading digits, Luhn-valid) is refused in every text and
wherever a token belongs, and is never echoed back, logged or stored.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Final

from graph.errors import GraphError
from graph.ids import decode_global_id

from .problems import ActionRefused, ProblemCode

__all__ = [
    "MAX_AMOUNT",
    "amount",
    "contains_card_number",
    "global_id",
    "is_card_number",
    "text",
]

MAX_AMOUNT: Final = Decimal("100000.00")
_CENT: Final = Decimal("0.01")
# Digits with up to two separators between them (spaces, dots, slashes, dashes, underscores):
# how card numbers get written, and how they get disguised.
_DIGIT_RUN: Final = re.compile(r"\d(?:[\s./_-]{0,2}\d)*")
_SEPARATORS: Final = re.compile(r"[\s./_-]{1,2}")


def global_id(value: str, type_name: str, *field: str) -> str:
    """The backend id in a global id of ``type_name``."""
    try:
        found, tmf_id = decode_global_id(value)
    except GraphError:
        found, tmf_id = "", ""
    if found != type_name:
        raise ActionRefused.one(ProblemCode.INVALID_INPUT, f"Not a {type_name} id.", *field)
    return tmf_id


def amount(value: Decimal, *field: str) -> Decimal:
    """A positive amount in whole cents, at most :data:`MAX_AMOUNT`."""
    try:
        exact = value.quantize(_CENT)
    except InvalidOperation:
        exact = Decimal(-1)
    if not value.is_finite() or exact != value or exact <= 0 or exact > MAX_AMOUNT:
        raise ActionRefused.one(
            ProblemCode.INVALID_AMOUNT,
            f"An amount is positive, in whole cents, and at most {MAX_AMOUNT}.",
            *field,
        )
    return exact


def contains_card_number(value: str) -> bool:
    """Whether ``value`` holds something that looks like a payment card number: a run of
    digits (up to two spaces, dots, slashes, dashes or underscores between them; or groups of
    such a run) with a card network's length and leading digits that passes the Luhn check.
    Lengths and prefixes keep phone numbers (at most 15 digits, E.164) and most other numbers
    out."""
    return any(_holds_card(run.group()) for run in _DIGIT_RUN.finditer(value))


def is_card_number(value: str) -> bool:
    """Whether ``value`` as a whole is a payment card number (separators aside): for
    fields that hold an opaque token, which may contain long digit runs of its own."""
    run = _DIGIT_RUN.fullmatch(value.strip())
    return run is not None and _is_card(_digits(run.group()))


def _holds_card(run: str) -> bool:
    """Whether the run, or consecutive groups of it (a card number followed by an expiry, say),
    is a card number."""
    groups = _SEPARATORS.split(run)
    for start in range(len(groups)):
        digits = ""
        for group in groups[start:]:
            digits += group
            if len(digits) > 19:
                break
            if len(digits) >= 14 and _is_card(digits):
                return True
    return False


def _digits(run: str) -> str:
    return "".join(c for c in run if c.isdigit())


def _is_card(digits: str) -> bool:
    length = len(digits)
    if length == 14:
        network = digits[:2] in ("30", "36", "38")  # Diners Club
    elif length == 15:
        network = digits[:2] in ("34", "37")  # American Express
    else:
        network = 16 <= length <= 19 and digits[0] in "23456"  # Visa, Mastercard, Discover...
    return network and _luhn([int(c) for c in digits])


def _luhn(digits: list[int]) -> bool:
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def text(value: str, limit: int, *field: str, required: bool = True) -> str:
    """A text stripped of surrounding space, non-empty when ``required``, at most ``limit``
    characters, without control characters, and holding no card number."""
    stripped = value.strip()
    if required and not stripped:
        raise ActionRefused.one(ProblemCode.INVALID_INPUT, "This may not be empty.", *field)
    if len(stripped) > limit:
        raise ActionRefused.one(
            ProblemCode.TOO_LONG, f"At most {limit} characters ({len(stripped)} given).", *field
        )
    if any(ord(c) < 32 and c not in "\n\t" for c in stripped):
        raise ActionRefused.one(ProblemCode.INVALID_INPUT, "Control characters.", *field)
    if contains_card_number(stripped):
        raise ActionRefused.one(
            ProblemCode.CARD_NUMBER_REFUSED,
            "This looks like a card number: never send one in a text. It was not stored.",
            *field,
        )
    return stripped
