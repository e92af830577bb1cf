"""Pure audio helpers: G.711 codecs, resampling, telephone-band simulation and WAV I/O.

Everything here is synchronous and works on ``numpy`` arrays (float32 in [-1, 1]) or raw bytes,
so codecs and the telephone-band path can be unit-tested without sockets or models.
"""

from __future__ import annotations

import audioop
import math
import wave
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

PHONE_RATE = 8000
ASR_RATE = 16000


def float_to_pcm16(audio: np.ndarray) -> bytes:
    """Float samples in [-1, 1] to little-endian 16-bit PCM bytes (clipped)."""
    return (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def pcm16_to_float(pcm: bytes) -> np.ndarray:
    """Little-endian 16-bit PCM bytes to float32 samples in [-1, 1]."""
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def ulaw_encode(pcm: bytes) -> bytes:
    """16-bit PCM to G.711 mu-law (one byte a sample)."""
    return audioop.lin2ulaw(pcm, 2)


def ulaw_decode(ulaw: bytes) -> bytes:
    """G.711 mu-law to 16-bit PCM."""
    return audioop.ulaw2lin(ulaw, 2)


def alaw_encode(pcm: bytes) -> bytes:
    """16-bit PCM to G.711 A-law."""
    return audioop.lin2alaw(pcm, 2)


def alaw_decode(alaw: bytes) -> bytes:
    """G.711 A-law to 16-bit PCM."""
    return audioop.alaw2lin(alaw, 2)


def resample(audio: np.ndarray, in_rate: int, out_rate: int, quality: str = "VHQ") -> np.ndarray:
    """High-quality (soxr ``quality``, VHQ by default) resampling of float mono audio."""
    if in_rate == out_rate:
        return audio.astype(np.float32, copy=False)
    return soxr.resample(audio, in_rate, out_rate, quality=quality).astype(np.float32)


def telephone_band(audio: np.ndarray, rate: int, out_rate: int = ASR_RATE) -> np.ndarray:
    """What a caller's voice sounds like after a phone line: 8 kHz, mu-law round trip, then
    resampled to ``out_rate``.
    """
    narrow = resample(audio, rate, PHONE_RATE)
    coded = pcm16_to_float(ulaw_decode(ulaw_encode(float_to_pcm16(narrow))))
    return resample(coded, PHONE_RATE, out_rate)


def mix_at_snr(
    speech: np.ndarray, noise: np.ndarray, snr_db: float, rng: np.random.Generator
) -> np.ndarray:
    """Add ``noise`` (looped or cut at a random offset) to ``speech`` at ``snr_db``."""
    if len(noise) < len(speech):
        noise = np.tile(noise, int(np.ceil(len(speech) / max(len(noise), 1))) + 1)
    start = int(rng.integers(0, len(noise) - len(speech) + 1))
    segment = noise[start : start + len(speech)].astype(np.float32)
    p_speech = float(np.mean(speech**2)) + 1e-12
    p_noise = float(np.mean(segment**2)) + 1e-12
    gain = np.sqrt(p_speech / (p_noise * 10 ** (snr_db / 10)))
    return (speech + gain * segment).astype(np.float32)


def read_audio(path: Path, channel: int | None = None) -> tuple[np.ndarray, int]:
    """Read any soundfile-supported file as float32 mono.

    Args:
        path: WAV/FLAC/OGG file.
        channel: For multi-channel files, which channel to keep (0 = left); None mixes down.

    Returns:
        The samples and their sample rate.
    """
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    if data.shape[1] == 1:
        mono = data[:, 0]
    elif channel is None:
        mono = data.mean(axis=1)
    else:
        if not 0 <= channel < data.shape[1]:
            raise ValueError(f"{path} has {data.shape[1]} channels; channel {channel} is not one")
        mono = data[:, channel]
    return np.ascontiguousarray(mono, dtype=np.float32), int(rate)


def write_wav(path: Path, audio: np.ndarray, rate: int) -> None:
    """Write float mono (1-D) or multi-channel (frames x channels) audio as 16-bit PCM WAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    channels = 1 if audio.ndim == 1 else audio.shape[1]
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(float_to_pcm16(audio.reshape(-1)))


class Upsampler2x:
    """Streaming 8 → 16 kHz PCM16 for the caller's audio: 20 ms in, 20 ms out, 8 ms of delay.

    pipecat's streaming soxr resampler (VHQ) hands audio back in ~100 ms bursts, so a caller's
    20 ms frame waited up to 95 ms (60 ms on average) before the VAD heard it: on every end of
    turn and every barge-in. This is zero-stuffing and a 256-tap windowed-sinc low-pass (Kaiser
    β 10, cut-off 3.92 kHz) that keeps its tail between frames. Measured with tiny.en on the
    telephone band it matches VHQ within a word: real speech 4.0% WER with both; synthesized
    hotline sentences 7.9% vs 8.5% clean, 10.8% vs 10.4% at 10 dB. soxr's low-latency "QQ" and
    a short 63-96 tap filter cost 1-2 points.
    """

    TAPS = 256

    def __init__(self) -> None:
        n = np.arange(self.TAPS) - (self.TAPS - 1) / 2
        kernel = np.sinc(2 * 0.245 * n) * np.kaiser(self.TAPS, 10.0)
        self._kernel = kernel * (2.0 / kernel.sum())  # x2 makes up the stuffed zeros
        self._state = np.zeros(self.TAPS - 1)

    def process(self, pcm: bytes) -> bytes:
        """Upsample 16-bit mono PCM at 8 kHz; returns twice as many samples at 16 kHz."""
        samples = np.frombuffer(pcm, dtype="<i2")
        stuffed = np.zeros(2 * len(samples))
        stuffed[::2] = samples
        work = np.concatenate([self._state, stuffed])
        self._state = work[len(work) - len(self._state) :]
        out = np.convolve(work, self._kernel, mode="valid")
        return np.clip(np.rint(out), -32768, 32767).astype("<i2").tobytes()


def level_dbfs(pcm: np.ndarray) -> float:
    """RMS level of int16 samples in dB relative to full scale (-inf for digital silence)."""
    if not len(pcm):
        return -math.inf
    rms = float(np.sqrt(np.mean(np.square(pcm.astype(np.float64))))) / 32768.0
    return 20 * math.log10(rms) if rms > 0 else -math.inf


#: How far a line's clock may run slower than ours: the estimate of when a stream began (the
#: earliest seen) may rise by this much of the stream's time since. A phone's clock can be sloppy
#: (the SIP test's, an asyncio loop, runs ~3.5% slow).
CLOCK_DRIFT = 0.05


class LineClock:
    """When a stream from a line began, and how far behind the line its handling is.

    The audio comes at the line's pace, so the earliest any of it was handled, less its place in
    the stream, is when the stream began (give or take :data:`CLOCK_DRIFT`). A piece handled
    later than that, less its place, is that much behind the line: it waited in the box (an
    event loop with more calls than it keeps up with). A wait that grows slower than ``drift``
    of the stream's pace is taken for a slow line clock.
    """

    def __init__(self, rate: int, drift: float = CLOCK_DRIFT) -> None:
        self.rate = rate
        self.drift = drift
        self.began: float | None = None
        self._samples = 0  # of the stream handled

    def heard(self, samples: int, now: float | None) -> float:
        """``samples`` more of the stream handled at ``now`` (``time.monotonic()``, or None
        if not known); how far behind the line that is, in seconds (0 without a time).
        """
        self._samples += samples
        if now is None:
            return 0.0
        began = now - self._samples / self.rate
        if self.began is not None:  # let the estimate follow a line clock slower than ours
            began = min(began, self.began + samples / self.rate * self.drift)
        self.began = began
        return now - began - self._samples / self.rate
