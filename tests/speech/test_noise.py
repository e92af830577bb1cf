from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pipecat.frames.frames import FilterEnableFrame

from voice_agent.audio import float_to_pcm16, mix_at_snr, pcm16_to_float, read_audio, resample
from voice_agent.speech.noise import StationaryGate, StationaryNoiseFilter


@pytest.mark.parametrize("rate", [8000, 16000])
@pytest.mark.parametrize("chunk", [160, 320, 333])
def test_zero_reduction_is_a_pure_delay(rate: int, chunk: int) -> None:
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(rate) * 0.1).astype(np.float32)
    gate = StationaryGate(rate, prop_decrease=0.0)
    out = np.concatenate([gate.process(x[i : i + chunk]) for i in range(0, len(x), chunk)])
    assert len(out) == len(x)
    d = gate.delay_samples
    # Exact after the first hop (which fades in: no earlier frame overlaps it).
    np.testing.assert_allclose(out[d + gate.hop :], x[gate.hop : len(x) - d], atol=1e-5)


def test_stationary_noise_is_reduced_and_loud_tone_kept() -> None:
    rate = 16000
    rng = np.random.default_rng(1)
    noise = (rng.standard_normal(4 * rate) * 0.01).astype(np.float32)
    t = np.arange(rate) / rate
    tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    audio = noise.copy()
    audio[2 * rate : 3 * rate] += tone
    out = StationaryGate(rate, prop_decrease=0.6).process_all(audio)
    noise_only = slice(int(1.0 * rate), int(1.9 * rate))
    reduction_db = 10 * np.log10(np.mean(out[noise_only] ** 2) / np.mean(audio[noise_only] ** 2))
    assert -9.0 < reduction_db < -4.0  # mild: about -8 dB at most (prop_decrease 0.6)
    tone_part = slice(int(2.2 * rate), int(2.8 * rate))
    kept = np.mean(out[tone_part] ** 2) / np.mean(audio[tone_part] ** 2)
    assert kept > 0.9


@pytest.mark.speech
async def test_filter_on_real_noisy_speech(speech_dir: Path) -> None:
    speech, rate = read_audio(speech_dir / "en/librivox-0880.wav")
    noise, nrate = read_audio(speech_dir / "noise/noise1.wav")
    noisy = mix_at_snr(speech, resample(noise, nrate, rate), 10.0, np.random.default_rng(2))
    filt = StationaryNoiseFilter()
    await filt.start(rate)
    pcm = float_to_pcm16(noisy)
    out = b"".join([await filt.filter(pcm[i : i + 640]) for i in range(0, len(pcm), 640)])
    assert len(out) == len(pcm)
    cleaned = pcm16_to_float(out)
    assert np.isfinite(cleaned).all()
    assert 0.3 < np.sqrt(np.mean(cleaned**2)) / np.sqrt(np.mean(noisy**2)) < 1.0
    await filt.process_frame(FilterEnableFrame(enable=False))
    assert await filt.filter(pcm[:640]) == pcm[:640]
    await filt.stop()


def test_bad_setting() -> None:
    with pytest.raises(ValueError):
        StationaryGate(8000, prop_decrease=1.5)
