"""Card numbers are recognised by their network's length and prefix and the Luhn check: refused
where they are, and nothing else is taken for one (phone numbers, ids, tokens)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from graph.actions import ActionRefused, ProblemCode
from graph.actions.checks import amount, contains_card_number, is_card_number, text

CARDS = [
    "4111111111111111",  # Visa
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "4111.1111.1111.1111",
    "4111/1111/1111/1111",
    "4111_1111_1111_1111",
    "4111  1111  1111  1111",
    "5555555555554444",  # Mastercard
    "2223003122003222",  # Mastercard 2-series
    "378282246310005",  # American Express
    "6011111111111117",  # Discover
    "30569309025904",  # Diners Club
    "4000056655665556122",  # 19 digits
]


@pytest.mark.parametrize("number", CARDS)
def test_card_numbers_are_recognised_alone_and_inside_a_text(number: str) -> None:
    assert is_card_number(number)
    assert contains_card_number(f"my card is {number}, please charge it")


@pytest.mark.parametrize(
    "value",
    [
        "4111111111111112",  # fails Luhn
        "+49 151 23456787",  # a phone number that passes Luhn (13 digits)
        "491512345678701",  # 15 digits, not an American Express prefix
        "1111111111111117",  # 16 digits, no card network starts with 1
        "order 123456789012 of 2026",  # 12 digits
        "DE89 3704 0044 0532 0130 00",  # an IBAN
    ],
)
def test_other_numbers_are_not_taken_for_cards(value: str) -> None:
    assert not contains_card_number(value)


def test_a_card_number_followed_by_more_digits_is_still_found() -> None:
    assert contains_card_number("4111 1111 1111 1111 12/30 123")
    assert contains_card_number("cvc 123 4111-1111-1111-1111")


def test_a_token_is_refused_only_when_it_is_a_card_number_as_a_whole() -> None:
    assert not is_card_number("tok_4111111111111111")
    assert not is_card_number("tok_a8c41111111111111111b")
    assert is_card_number(" 4111111111111111 ")


def test_a_text_with_a_card_number_is_refused_without_echoing_it() -> None:
    with pytest.raises(ActionRefused) as refused:
        text("pay with 5555 5555 5555 4444", 2000, "note")
    (problem,) = refused.value.problems
    assert problem.code is ProblemCode.CARD_NUMBER_REFUSED
    assert problem.field == ("note",)
    assert "5555" not in problem.message
    assert text("call me on +49 151 23456787", 2000, "note") == "call me on +49 151 23456787"


@pytest.mark.parametrize("given", ["0", "-1.00", "0.001", "100000.01", "NaN", "Infinity"])
def test_amounts_are_positive_whole_cents_and_bounded(given: str) -> None:
    with pytest.raises(ActionRefused) as refused:
        amount(Decimal(given), "amount")
    assert refused.value.problems[0].code is ProblemCode.INVALID_AMOUNT


def test_a_valid_amount_is_kept_exactly() -> None:
    assert amount(Decimal("12.30"), "amount") == Decimal("12.30")
    assert amount(Decimal("100000.00"), "amount") == Decimal("100000.00")
