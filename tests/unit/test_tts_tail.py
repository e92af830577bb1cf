"""The TTS keeps only a short tail of silence after the last sentence of what the agent says.

An answer queued behind a short prompt ("Okay." while a number is read again) starts when that
prompt's audio ends; Piper ends every sentence on ~0.1-0.25 s of silence.
"""

from __future__ import annotations

import numpy as np
import pytest

from voice_agent.pipeline.tts import (
    TAIL_KEEP_S,
    SentenceAudioCache,
    SharedPiperTTSService,
    trim_tail,
)

RATE = 22050


def pcm(*parts: np.ndarray) -> bytes:
    return np.concatenate(parts).astype("<i2").tobytes()


def tone(seconds: float, level: float = 8000) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return level * np.sin(2 * np.pi * 220 * t)


def silence(seconds: float, level: float = 0) -> np.ndarray:
    return np.full(round(seconds * RATE), level)


def test_trailing_silence_is_cut_to_the_kept_tail() -> None:
    audio = pcm(silence(0.05), tone(0.4), silence(0.25, level=30))  # a faint hiss, not words
    out = trim_tail(audio, RATE)
    assert len(out) // 2 == pytest.approx(round((0.45 + TAIL_KEEP_S) * RATE), abs=2)
    assert out == audio[: len(out)]


def test_a_soft_ending_and_short_tails_are_kept_whole() -> None:
    soft = pcm(tone(0.4), tone(0.1, level=600), silence(0.03))  # a quiet final "s", then 30 ms
    assert trim_tail(soft, RATE) == soft
    assert trim_tail(pcm(silence(0.3)), RATE) == pcm(silence(0.3))  # nothing to cut back to
    assert trim_tail(b"", RATE) == b""


@pytest.mark.models
async def test_only_the_last_sentence_said_is_trimmed_and_the_cache_keeps_it_whole() -> None:
    from voice_agent.registry import load_piper_voice

    voice = load_piper_voice()
    cache = SentenceAudioCache()
    tts = SharedPiperTTSService(voice, cache)
    # "Okay." last: beyond the kept tail Piper's silence after it was 0.134 s or more in 60
    # draws (its noise is random), after "I couldn't find that order." as little as 0.022 s,
    # and 0.018 s once in CI.
    text = "I couldn't find that order. Okay."
    fresh = [chunk async for chunk in tts._sentence_audio(text)]
    first, last = cache.get("I couldn't find that order."), cache.get("Okay.")
    assert first is not None and last is not None
    assert b"".join(fresh) == first + trim_tail(last, voice.config.sample_rate)
    tail_s = (len(last) - len(trim_tail(last, voice.config.sample_rate))) / 2 / RATE
    assert tail_s > 0.03  # Piper's own silence was there to cut
    cached = [chunk async for chunk in tts._sentence_audio(text)]
    assert b"".join(cached) == b"".join(fresh)
    alone = b"".join([chunk async for chunk in tts._sentence_audio("Okay.")])
    assert alone == trim_tail(last, voice.config.sample_rate) and len(alone) < len(last)
