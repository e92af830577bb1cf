from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voice_agent.speech.entities import digit_runs, order_number

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My order number is 481-526.", "481526"),
        ("four eight one, five two six", "481526"),
        ("It is oh seven three, double five nine.", "073559"),
        ("forty eight fifteen twenty six", "481526"),
        ("4, 8, 1, 5, 2, 6.", "481526"),
        ("double oh seven, one two three", "007123"),
        ("triple 5 one two three", "555123"),
        ("four hundred eighty one five two six", "481526"),
        ("Order number is O-7-3-5-5-9-1.", None),  # seven digits: not an order number
        ("Order number is O-7-3-5-5-9.", "073559"),
        ("I want to return 2 items, order 735902", "735902"),
        ("It's 220417. No wait, 220471.", "220471"),
        ("I'd like a refund please", None),
        ("one two three", None),
    ],
)
def test_order_number(text: str, expected: str | None) -> None:
    assert order_number(text) == expected


def test_letter_o_only_counts_next_to_digits() -> None:
    assert digit_runs("o 7 3") == ["073"]
    assert digit_runs("oh, I see") == []


@given(st.lists(st.integers(0, 9), min_size=6, max_size=6))
def test_any_number_read_digit_by_digit_round_trips(digits: list[int]) -> None:
    said = " ".join("oh" if d == 0 else WORDS[d] for d in digits)
    assert order_number(said) == "".join(map(str, digits))


def test_strict_takes_only_one_clean_run() -> None:
    assert order_number("2 2 11 6 Nero 2") == "221162"  # a pause mid-number is forgiven
    assert order_number("2 2 11 6 Nero 2", strict=True) is None
    assert order_number("It's 4 8 1 5 2 6.", strict=True) == "481526"
