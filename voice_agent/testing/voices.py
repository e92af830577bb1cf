"""Synthetic callers: Piper speech turned into what a phone line delivers (8 kHz mu-law)."""

from __future__ import annotations

import numpy as np
from piper import PiperVoice
from piper.config import SynthesisConfig

from voice_agent.audio import PHONE_RATE, float_to_pcm16, resample, ulaw_encode


def synthesize(
    voice: PiperVoice,
    text: str,
    *,
    length_scale: float = 1.0,
    noise_scale: float = 0.0,
    noise_w_scale: float = 0.0,
) -> tuple[np.ndarray, int]:
    """Float mono speech for ``text`` and its sample rate.

    Piper draws its voice and timing noise at random unless both noise scales are 0, so by
    default the same text always gives the same audio: a test's input must not change between
    runs (a random "Uh-huh." sometimes came out too faint to pause a prompt).
    """
    config = SynthesisConfig(
        length_scale=length_scale, noise_scale=noise_scale, noise_w_scale=noise_w_scale
    )
    chunks = [c.audio_float_array for c in voice.synthesize(text, syn_config=config)]
    audio = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    return audio.astype(np.float32), int(voice.config.sample_rate)


def to_phone_ulaw(audio: np.ndarray, rate: int) -> bytes:
    """Float audio at any rate to 8 kHz G.711 mu-law bytes."""
    return ulaw_encode(float_to_pcm16(resample(audio, rate, PHONE_RATE)))


def caller_ulaw(voice: PiperVoice, text: str, *, length_scale: float = 1.0) -> bytes:
    """A caller's turn, as 8 kHz mu-law."""
    audio, rate = synthesize(voice, text, length_scale=length_scale)
    return to_phone_ulaw(audio, rate)
