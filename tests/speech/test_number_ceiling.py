"""``bench.number_ceiling`` writes down the readings the pipeline's decodes make of a turn, and
``bench.digit_grammar`` the readings held to six digits."""

from __future__ import annotations

import pytest

from bench.digit_grammar import grammar_readings
from bench.number_ceiling import HYPOTHESES, readings
from voice_agent.speech.asr import ORDER_NUMBER_PROMPT, AsrOptions, hear
from voice_agent.speech.entities import SIX_DIGITS, order_number

pytestmark = pytest.mark.models


def test_readings_are_the_free_decode_and_the_digits_only_hypotheses(tiny_model, joe) -> None:
    audio = joe("Oh two four, double six one.")
    options = AsrOptions(initial_prompt=ORDER_NUMBER_PROMPT, expect_code=SIX_DIGITS)
    texts = readings(tiny_model, audio, options)
    assert len(texts) == 1 + HYPOTHESES
    # The first is the pipeline's free decode, which writes the "oh" as a letter ("L24, ...").
    assert texts[0] == hear(tiny_model, audio, AsrOptions(initial_prompt=ORDER_NUMBER_PROMPT)).text
    assert order_number(texts[0]) is None, texts
    # The digits-only decode reads it, as the pipeline's own does.
    assert order_number(texts[1]) == "024661", texts
    assert texts[1] == hear(tiny_model, audio, options).text


def _digit_count(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def test_grammar_readings_hold_exactly_six_digits(tiny_model, joe) -> None:
    options = AsrOptions(initial_prompt=ORDER_NUMBER_PROMPT, expect_code=SIX_DIGITS)
    texts = grammar_readings(tiny_model, joe("Zero nine one, nine nine one."), options)
    assert texts and order_number(texts[0]) == "091991", texts
    assert all(_digit_count(text) == 6 for text in texts), texts


def test_grammar_reads_half_a_number_as_a_whole_one(tiny_model, joe) -> None:
    """Why the pipeline does not decode this way: a caller giving the first three digits
    in one turn would be heard saying six."""
    options = AsrOptions(initial_prompt=ORDER_NUMBER_PROMPT, expect_code=SIX_DIGITS)
    half = joe("Four eight one.")
    assert order_number(hear(tiny_model, half, options).text) is None
    texts = grammar_readings(tiny_model, half, options)
    assert texts and _digit_count(texts[0]) == 6 and texts[0].startswith("4 8 1"), texts
