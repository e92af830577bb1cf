"""``bench.number_ceiling`` writes down the readings the pipeline's decodes make of a turn."""

from __future__ import annotations

import pytest

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
