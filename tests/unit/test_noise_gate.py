"""The caller-audio filter processor, on scripted frames through a real pipecat pipeline."""

from __future__ import annotations

import numpy as np
from pipecat.frames.frames import InputAudioRawFrame
from pipecat.tests.utils import run_test

from voice_agent.audio import float_to_pcm16, pcm16_to_float
from voice_agent.pipeline.noise_gate import CallerAudioFilter
from voice_agent.settings import Settings
from voice_agent.speech.noise import StationaryGate, StationaryNoiseFilter
from voice_agent.speech.vad import make_input_filter

from .test_barge_in import RATE, frames_of


async def test_caller_audio_is_gated_as_the_filter_gates_it_and_keeps_its_length() -> None:
    rng = np.random.default_rng(3)
    noise = (0.05 * rng.standard_normal(3 * RATE)).astype(np.float32)
    frames = frames_of(np.frombuffer(float_to_pcm16(noise), np.int16), lead_s=0, tail_s=0)
    down, _ = await run_test(
        CallerAudioFilter(StationaryNoiseFilter()),
        frames_to_send=frames,
        expected_down_frames=[InputAudioRawFrame] * len(frames),
    )
    heard = pcm16_to_float(b"".join(f.audio for f in down))  # type: ignore[attr-defined]
    assert len(heard) == len(noise)
    expected = StationaryGate(RATE).process(pcm16_to_float(float_to_pcm16(noise)))
    assert np.allclose(heard, expected, atol=2 / 32768)
    # Steady noise is turned down once the gate has learnt its floor (after warm-up).
    tail = slice(RATE, None)
    assert np.sqrt(np.mean(heard[tail] ** 2)) < 0.7 * np.sqrt(np.mean(noise[tail] ** 2))


def test_the_setting_picks_the_filter() -> None:
    assert Settings().noise_reduction is False
    assert make_input_filter(Settings().noise_reduction) is None
    on = Settings(noise_reduction=True)
    assert isinstance(make_input_filter(on.noise_reduction), StationaryNoiseFilter)
