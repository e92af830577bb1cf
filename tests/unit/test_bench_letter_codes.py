"""bench.letter_codes' readings: every one says its code, as the dialog's parser reads text."""

from __future__ import annotations

import re

import numpy as np
import pytest

from bench.letter_codes import LETTER_STYLES, PATTERN, letter_codes, oms_answer, oms_codes, say
from bench.order_speech import STYLES
from voice_agent.dialog.codes import find_code


@pytest.mark.parametrize("letter_style", LETTER_STYLES)
@pytest.mark.parametrize("digit_style", STYLES)
def test_each_reading_says_its_code(letter_style: str, digit_style: str) -> None:
    for code in letter_codes(20, np.random.default_rng(3)):
        text = say(code, letter_style, digit_style)
        assert find_code(text, PATTERN)[0] == code, text


def test_the_three_ways_of_saying_letters() -> None:
    assert say("RT480015", "alone", "oh") == "R, T, four eight oh, oh one five."
    assert say("RT480015", "as_in", "digits").startswith("R as in robert, T as in tom, four")
    assert say("XZ480015", "nato", "pairs") == "X-ray Zulu, forty eight, oh zero, fifteen."


def test_what_the_dialog_makes_of_a_code_heard_with_the_oms_it_asks() -> None:
    others = oms_codes(1000, 5)
    assert len(others) == 1000 and all(re.fullmatch(PATTERN, c) for c in others)
    assert oms_answer("ZB235410", "ZB235410", others) == "found"
    assert oms_answer(None, "ZB235410", others) == "none"
    assert oms_answer("CB235410", "ZB235410", others) == "offered"  # its first sound-alike
    assert oms_answer("CB235410", "ZB235410", others | {"CB235410"}) == "wrong"  # found as heard
    # another order's code is a likelier sound-alike than the caller's: offered first
    assert oms_answer("CB235410", "ZV235410", others | {"ZB235410"}) == "wrong"
    assert oms_answer("RH235410", "RT235410", others) == "none"  # H has no sound-alikes
