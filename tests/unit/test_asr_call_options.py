"""The Whisper options a call's STT gets from the settings (no model needed)."""

from dataclasses import replace
from types import SimpleNamespace

from voice_agent.pipeline.call import BACKCHANNEL_TURN_S, asr_options, turn_options
from voice_agent.settings import Settings
from voice_agent.speech.asr import (
    BACKCHANNEL_AND_LOGPROB,
    BACKCHANNEL_WORDS,
    ORDER_CODE_PROMPT,
    ORDER_NUMBER_PROMPT,
)
from voice_agent.testing.dialogs import LETTER_PATTERN

NAMES = {"asr": "tiny.en", "asr_number_check": "base"}
PATTERN = "^[0-9]{6}$"  # the returns dialog's order_id


def test_the_order_number_turn_is_primed_for_digits_and_the_check_for_numbers() -> None:
    options, number, check = asr_options(Settings(), PATTERN, NAMES)
    assert number.expect_code == PATTERN and number.initial_prompt == ORDER_NUMBER_PROMPT
    assert options.expect_code is None and options.initial_prompt != ORDER_NUMBER_PROMPT
    assert check.initial_prompt == ORDER_NUMBER_PROMPT


def test_the_number_check_decodes_on_its_own_shorter_window() -> None:
    options, number, check = asr_options(Settings(), PATTERN, NAMES)
    assert options.window_s == number.window_s == 20.0
    assert check.window_s == 10.0


def test_the_check_window_follows_its_setting_and_falls_back_to_the_asr_window() -> None:
    settings = Settings(asr_window_s=30.0, asr_number_check_window_s=8.0, asr_beam_size=2)
    options, number, check = asr_options(settings, PATTERN, NAMES)
    assert (options.window_s, number.window_s, check.window_s) == (30.0, 30.0, 8.0)
    assert options.beam_size == number.beam_size == 2
    settings = Settings(asr_window_s=15.0, asr_number_check_window_s=None)
    assert asr_options(settings, PATTERN, NAMES)[2].window_s == 15.0


def test_no_code_slot_means_no_digits_pass() -> None:
    assert asr_options(Settings(), None, NAMES)[1].expect_code is None


def test_order_numbers_with_letters_are_primed_with_letters() -> None:
    _, number, check = asr_options(Settings(), LETTER_PATTERN, NAMES)
    assert number.initial_prompt == check.initial_prompt == ORDER_CODE_PROMPT
    assert number.expect_code == LETTER_PATTERN
    _, number, check = asr_options(Settings(), PATTERN, NAMES)
    assert number.initial_prompt == check.initial_prompt == ORDER_NUMBER_PROMPT


def test_a_short_turn_begun_over_a_prompt_is_primed_for_an_acknowledgement():
    options, number, _ = asr_options(Settings(), PATTERN, NAMES)
    dialog = SimpleNamespace(expects_code=False, started_over_prompt=False)
    now = turn_options(dialog, options, number)  # type: ignore[arg-type]
    assert now(0.8) is options
    dialog.started_over_prompt = True
    assert now(0.8).initial_prompt == f"{options.initial_prompt} {BACKCHANNEL_WORDS}"
    assert now(0.8).drop_and_logprob == BACKCHANNEL_AND_LOGPROB  # Whisper going on from them
    assert options.drop_and_logprob is None
    assert now(0.8).expect_code is None
    assert now(BACKCHANNEL_TURN_S + 0.1) is options  # a sentence: the plain prompt
    dialog.expects_code = True
    assert now(0.8) is number  # the order number's turn keeps its own
    # base has no prompt: nothing to add the words to
    base = replace(options, initial_prompt=None)
    dialog.expects_code = False
    assert turn_options(dialog, base, number)(0.8) is base  # type: ignore[arg-type]
