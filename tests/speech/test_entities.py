from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voice_agent.speech.entities import (
    check_overrides,
    order_number,
    pick_reading,
    readings_split,
    words_alone,
)

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
        ("Order number is 7-3-5-5-9-1-4.", None),  # seven digits: not an order number
        # A leading "oh" may be an interjection ("Oh, 735591"): the six after it are taken.
        ("Order number is O-7-3-5-5-9-1.", "735591"),
        ("Order number is O-7-3-5-5-9.", "073559"),
        ("Oh, four one, double eight oh.", "041880"),  # here the "oh" is the first digit
        ("L 6 0 1 16", "060116"),  # tiny.en's "L" for a spoken "oh"
        ("I want to return 2 items, order 735902", "735902"),
        ("It's 220417. No wait, 220471.", "220471"),  # the correction counts
        ("I'd like a refund please", None),
        ("one two three", None),
        ("2 2 11 6 Nero 2", None),  # base's reading of a broken run: not a number
    ],
)
def test_order_number(text: str, expected: str | None) -> None:
    assert order_number(text) == expected


def test_other_lengths() -> None:
    assert order_number("four eight one five", r"\d{4}") == "4815"
    assert order_number("four eight one five", r"\d{6}") is None


@given(st.lists(st.integers(0, 9), min_size=6, max_size=6))
def test_any_number_read_digit_by_digit_round_trips(digits: list[int]) -> None:
    said = " ".join("oh" if d == 0 else WORDS[d] for d in digits)
    assert order_number(said) == "".join(map(str, digits))


@pytest.mark.parametrize(
    ("first", "check", "overrides"),
    [
        ("7 3 5 9 oh 2", "735902", True),  # the check reads the number the first was unsure of
        ("It's 7 3 5 9 0 8.", "It's 735902.", True),  # six digits against six: the check wins
        ("7 3 5 9 oh 2", "2 2 11 6 Nero 2", False),  # not a number
        ("9 0 2.", "902 902", False),  # base looping on the three digits the caller said
        ("It's 7 3 5.", "735, 735.", False),
        ("9 0.", "9 0 9 0 9 0", False),
        ("9 0 2.", "902 903", True),  # not the same group again: a reading, not a loop
        ("", "735902", True),
    ],
)
def test_the_number_check_overrides_with_a_number_but_not_with_a_loop(
    first: str, check: str, overrides: bool
) -> None:
    assert check_overrides(first, check) is overrides


@pytest.mark.parametrize(
    ("first", "check", "more", "kept"),
    [
        # Two of three readings hold the same number: it wins over the check.
        ("It's 2 0 7 7 2 0", "2 8 7 8 8 8", ["It's 2 0 7 7 2 0."], "It's 2 0 7 7 2 0"),
        ("M time free, two o' ticks.", "M and time 3 2 0 big.", ["7 5 3 2 0 6"], "7 5 3 2 0 6"),
        ("Oh, four 46 40.", "Oh, 4 46 14.", ["Oh 4 46 14"], "Oh, 4 46 14."),
        # All differ: the check, as without the slowed reading.
        ("24 55 17.", "24 55 70.", ["24 55 71"], "24 55 70."),
        # The check holds no number and the others disagree: the first reading stays.
        ("7 3 5 9 0 8", "I'm a big time.", ["7 3 5 9 0 2"], "7 3 5 9 0 8"),
        # A reading that loops the first reading's digits is no vote, the slowed one neither.
        ("9 0 2.", "902 902", [""], "9 0 2."),
        ("9 0 2.", "902 902", ["9 0 2 9 0 2"], "9 0 2."),
        # No slowed reading (it failed): the check decides as before.
        ("7 3 5 9 oh", "735902", [], "735902"),
    ],
)
def test_the_number_most_readings_hold_is_kept(
    first: str, check: str, more: list[str], kept: str
) -> None:
    assert pick_reading(first, check, more) == kept


@pytest.mark.parametrize(
    ("first", "check", "split"),
    [
        ("7 3 5 9 0 8", "735902", True),  # two numbers: a third reading decides
        ("It's 7 3 5 9 0 2", "735902.", False),  # the same number
        ("7 3 5 9 oh", "735902", False),  # only the check holds one: it is kept either way
        ("7 3 5 9 0 8", "I'm a big time.", False),  # only the first holds one
        ("9 0 2.", "902 902", True),  # a loop is no number: neither holds one
        ("Eight, double.", "8 double", True),
    ],
)
def test_a_further_reading_is_needed_only_when_the_two_split(
    first: str, check: str, split: bool
) -> None:
    assert readings_split(first, check) is split


_READING = st.one_of(
    st.lists(st.sampled_from(["1", "2", "7", "oh", "double", "902", "It's", "a"]), max_size=7).map(
        " ".join
    ),
    st.sampled_from(["735902", "7 3 5 9 0 2", "735908", "902 902", ""]),
)


@given(_READING, _READING, _READING)
def test_when_the_two_agree_a_third_reading_changes_nothing(
    first: str, check: str, third: str
) -> None:
    if not readings_split(first, check):
        assert pick_reading(first, check, [third]) == pick_reading(first, check)


@pytest.mark.parametrize(
    ("text", "alone"),
    [
        ("They arrived damaged.", True),
        ("Hold on, it's in my email, for sure.", True),  # "for" is a digit only beside digits
        ("I don't have one.", False),  # "one" may be a digit: the check may read more
        ("Maybe only a row 46", False),
        ("8, double oh, oh four six.", False),
        ("", False),  # nothing heard: another model may hear something
        (".", False),
    ],
)
def test_an_answer_in_words_alone(text: str, alone: bool) -> None:
    assert words_alone(text) is alone
