"""Speech for the ASR benches: the speech folder's recordings and noise, mixed and put on the
phone line the way ``bench.asr_accuracy`` hears them."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voice_agent.audio import read_audio, resample, telephone_band
from voice_agent.speech.noise import StationaryGate

SR = 16000
LEAD_S = 1.5
SEED = 20261122
NOISY = {"phone_10db": 10.0, "phone_5db": 5.0}


@dataclass
class Utt:
    name: str
    reference: str
    audio: np.ndarray  # 16 kHz wideband


@dataclass
class Sample:
    """One utterance in one condition: what ASR hears, with noise-only context before it."""

    name: str
    reference: str
    audio: np.ndarray  # lead-in + utterance, 16 kHz, after the phone line
    lead: int  # samples of lead-in to cut off before ASR
    extra: dict[str, Any] = field(default_factory=dict)

    def asr_input(self, nr: bool) -> np.ndarray:
        audio = StationaryGate(SR).process_all(self.audio) if nr else self.audio
        return audio[self.lead :]


def load_manifest(speech_dir: Path) -> tuple[list[Utt], list[np.ndarray]]:
    utts: list[Utt] = []
    noises: list[np.ndarray] = []
    with open(speech_dir / "manifest.tsv", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if row["kind"] == "speech" and row["language"] == "en":
                audio, rate = read_audio(speech_dir / row["path"])
                utts.append(
                    Utt(Path(row["path"]).stem, row["reference"], resample(audio, rate, SR))
                )
            elif row["kind"] == "noise":
                audio, rate = read_audio(speech_dir / row["path"])
                noises.append(resample(audio, rate, SR))
    return utts, noises


def noise_for(noise: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    if len(noise) < n:
        noise = np.tile(noise, n // len(noise) + 2)
    start = int(rng.integers(0, len(noise) - n + 1))
    return noise[start : start + n].astype(np.float32)


def on_the_phone(audio: np.ndarray) -> np.ndarray:
    """``audio`` over the telephone band, first brought under 0.99 if it peaks above it (the
    mu-law coder clips)."""
    return telephone_band(audio / max(1.0, np.abs(audio).max() / 0.99), SR)


def noise_at(
    noise: np.ndarray, n: int, speech_power: float, snr: float, rng: np.random.Generator
) -> np.ndarray:
    """``n`` samples of ``noise`` at the level ``snr`` dB below speech of ``speech_power``."""
    clip = noise_for(noise, n, rng)
    clip *= np.sqrt(speech_power / np.mean(clip**2)) * 10 ** (-snr / 20)
    return clip


def noise_clip(
    noise: np.ndarray, seconds: float, speech_power: float, snr: float, rng: np.random.Generator
) -> np.ndarray:
    """``seconds`` of ``noise`` at the level it has ``snr`` dB below speech of
    ``speech_power``, on the phone: what a line carries with no one speaking."""
    return on_the_phone(noise_at(noise, int(seconds * SR), speech_power, snr, rng))


def active_power(audio: np.ndarray) -> float:
    """Mean power over the 10 ms frames within 35 dB of the loudest (speech, not pauses)."""
    frames = audio[: len(audio) // 160 * 160].reshape(-1, 160)
    power = (frames**2).mean(axis=1) + 1e-12
    return float(power[power > power.max() * 10 ** (-3.5)].mean())


def make_sample(
    utt: Utt, condition: str, noises: list[np.ndarray], rng: np.random.Generator, index: int
) -> Sample:
    if condition == "wideband":
        return Sample(utt.name, utt.reference, utt.audio, 0)
    lead = int(LEAD_S * SR)
    speech = np.concatenate([np.zeros(lead, np.float32), utt.audio])
    if condition in NOISY:
        noise = noise_for(noises[index % len(noises)], len(speech), rng)
        gain = np.sqrt(active_power(utt.audio) / (np.mean(noise**2) + 1e-12))
        speech = speech + noise * gain * 10 ** (-NOISY[condition] / 20)
    peak = float(np.abs(speech).max())
    if peak > 0.99:  # keep the mu-law coder out of clipping
        speech = speech * (0.99 / peak)
    return Sample(utt.name, utt.reference, telephone_band(speech, SR), lead)
