import numpy as np

from voice_agent.audio import (
    float_to_pcm16,
    mix_at_snr,
    pcm16_to_float,
    resample,
    telephone_band,
    ulaw_decode,
    ulaw_encode,
)
from voice_agent.replay import split_turns


def tone(seconds: float, rate: int = 16000, freq: float = 440.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_ulaw_round_trip_keeps_the_signal():
    x = tone(0.5, 8000)
    y = pcm16_to_float(ulaw_decode(ulaw_encode(float_to_pcm16(x))))
    snr = 10 * np.log10(np.sum(x**2) / np.sum((x - y) ** 2))
    assert snr > 30  # G.711 gives ~38 dB on a full-scale-ish tone


def test_telephone_band_removes_energy_above_4khz():
    rate = 16000
    high = tone(1.0, rate, freq=6000)
    low = tone(1.0, rate, freq=1000)
    assert np.sqrt(np.mean(telephone_band(high, rate) ** 2)) < 0.01
    assert np.sqrt(np.mean(telephone_band(low, rate) ** 2)) > 0.15


def test_resample_changes_length_by_the_ratio():
    assert len(resample(tone(1.0, 22050), 22050, 8000)) == 8000


def test_mix_at_snr_hits_the_requested_ratio():
    rng = np.random.default_rng(0)
    speech = tone(1.0)
    noise = rng.normal(0, 1, 8000).astype(np.float32)
    mixed = mix_at_snr(speech, noise, 10.0, rng)
    added = mixed - speech
    snr = 10 * np.log10(np.mean(speech**2) / np.mean(added**2))
    assert abs(snr - 10.0) < 0.1


def test_split_turns_finds_turns_separated_by_silence():
    rate = 16000
    gap = np.zeros(int(1.5 * rate), dtype=np.float32)
    short_gap = np.zeros(int(0.3 * rate), dtype=np.float32)
    audio = np.concatenate([gap, tone(1.0), short_gap, tone(0.5), gap, tone(0.8), gap])
    turns = split_turns(audio, rate)
    assert len(turns) == 2
    (s1, e1), (s2, e2) = turns
    assert abs(s1 / rate - 1.5) < 0.05 and abs(e1 / rate - 3.3) < 0.05
    assert abs((e2 - s2) / rate - 0.8) < 0.05


def test_split_turns_of_silence_is_empty():
    assert split_turns(np.zeros(16000, dtype=np.float32), 16000) == []
