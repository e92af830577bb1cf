from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.common import wer
from voice_agent.audio import telephone_band
from voice_agent.speech.asr import AsrOptions, transcribe

pytestmark = [pytest.mark.models, pytest.mark.speech]


def test_telephone_band_utterance_is_transcribed(
    tiny_model, speech_dir: Path, references: dict[str, str], load_16k
) -> None:
    name = "en/librivox-0870.wav"
    audio = telephone_band(load_16k(speech_dir / name), 16000)
    text = transcribe(tiny_model, audio, AsrOptions())
    assert wer(references[name], text) <= 0.15, text


def test_digits_come_back_as_digits_or_words(
    tiny_model, speech_dir: Path, references: dict[str, str], load_16k
) -> None:
    text = transcribe(tiny_model, load_16k(speech_dir / "en/one-two-three.wav"))
    assert wer(references["en/one-two-three.wav"], text) == 0.0, text


def test_silence_and_too_short_audio_give_empty_text(tiny_model) -> None:
    rng = np.random.default_rng(1)
    assert transcribe(tiny_model, np.zeros(16000, dtype=np.float32)) == ""
    assert transcribe(tiny_model, (rng.standard_normal(16000) * 1e-4).astype(np.float32)) == ""
    assert transcribe(tiny_model, np.full(800, 0.1, dtype=np.float32)) == ""
