"""Mild stationary noise reduction for the caller's audio, as a streaming spectral gate.

The same idea as ``noisereduce``'s stationary mode (gate the STFT bins that sit near a noise
floor), but causal and incremental so it can run as pipecat's input audio filter, in numpy only:

- STFT with a sqrt-Hann window at 50% overlap (32 ms frames), which overlap-adds back exactly,
  so with ``prop_decrease=0`` the output is the input delayed by two hops (32 ms).
- The noise floor of each bin is a low percentile of its level over the last few seconds, so
  it follows a car or street that changes slowly, while speech (which is not there most of the
  time in any one bin) does not raise it.
- Bins less than ``threshold_db`` above the floor are attenuated by ``prop_decrease``
  (0.6 = -8 dB: mild on purpose; aggressive gating and DeepFilterNet made 8 kHz WER worse),
  with the mask smoothed over neighbouring bins and frames to avoid musical noise.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from pipecat.audio.filters.base_audio_filter import BaseAudioFilter
from pipecat.frames.frames import FilterControlFrame, FilterEnableFrame

from voice_agent.audio import float_to_pcm16, pcm16_to_float


class StationaryGate:
    """Streaming spectral gate over float32 mono audio (pure; no I/O).

    Args:
        sample_rate: Audio rate in Hz (frames are 32 ms at any rate).
        prop_decrease: How much a gated bin is reduced, 0 (not at all) to 1 (silenced).
        threshold_db: How far above the noise floor a bin must be to pass untouched.
        floor_percentile: Percentile of a bin's recent levels taken as its noise floor.
        history_s: Seconds of recent levels the floor is taken over.
        warmup_s: Audio passes unchanged until this much has been seen (no floor yet).

    """

    def __init__(
        self,
        sample_rate: int,
        *,
        prop_decrease: float = 0.6,
        threshold_db: float = 12.0,
        floor_percentile: float = 20.0,
        history_s: float = 3.0,
        warmup_s: float = 0.3,
    ) -> None:
        if not 0.0 <= prop_decrease <= 1.0:
            raise ValueError("prop_decrease must be within [0, 1]")
        self.sample_rate = sample_rate
        self.prop_decrease = prop_decrease
        self.threshold_db = threshold_db
        self.floor_percentile = floor_percentile
        n_fft = 1
        while n_fft < 0.032 * sample_rate:
            n_fft *= 2
        self.n_fft = n_fft
        self.hop = n_fft // 2
        self._window = np.sqrt(np.hanning(n_fft + 1)[:-1]).astype(np.float32)
        frames_per_s = sample_rate / self.hop
        self._levels: deque[np.ndarray] = deque(maxlen=max(int(history_s * frames_per_s), 8))
        self._warmup_frames = int(warmup_s * frames_per_s)
        self._floor_db: np.ndarray | None = None
        self._frames = 0
        self._prev_mask = np.ones(n_fft // 2 + 1, dtype=np.float32)
        self._in = np.zeros(n_fft - self.hop, dtype=np.float32)  # tail of the last frame
        self._out = np.zeros(self.hop, dtype=np.float32)  # overlap not yet complete
        # One hop of priming keeps every output chunk as long as its input chunk whatever the
        # chunk size; with the zero tail above the delay is two hops (32 ms).
        self._ready = np.zeros(self.hop, dtype=np.float32)

    @property
    def delay_samples(self) -> int:
        """Fixed delay of :meth:`process`'s output behind its input."""
        return 2 * self.hop

    def process(self, audio: np.ndarray) -> np.ndarray:
        """Filter a chunk of any length; returns exactly ``len(audio)`` delayed samples."""
        samples = np.concatenate([self._in, np.asarray(audio, dtype=np.float32)])
        produced = [self._ready]
        start = 0
        while start + self.n_fft <= len(samples):
            produced.append(self._frame(samples[start : start + self.n_fft]))
            start += self.hop
        self._in = samples[start:]
        ready = np.concatenate(produced)
        out, self._ready = ready[: len(audio)], ready[len(audio) :]
        return out

    def _frame(self, frame: np.ndarray) -> np.ndarray:
        spectrum = np.fft.rfft(frame * self._window)
        level_db = 10.0 * np.log10(np.abs(spectrum) ** 2 + 1e-10)
        self._levels.append(level_db)
        self._frames += 1
        if self._frames % 4 == 1 or self._floor_db is None:
            self._floor_db = np.percentile(np.stack(self._levels), self.floor_percentile, axis=0)
        if self._frames > self._warmup_frames and self.prop_decrease > 0:
            above = (level_db > self._floor_db + self.threshold_db).astype(np.float32)
            smoothed = np.convolve(above, (0.25, 0.5, 0.25), mode="same")
            mask = np.maximum(smoothed, 0.5 * self._prev_mask)  # a short release in time
            self._prev_mask = mask
            gain = 1.0 - self.prop_decrease * (1.0 - mask)
            spectrum = spectrum * gain
        synth = np.fft.irfft(spectrum, n=self.n_fft).astype(np.float32) * self._window
        synth[: self.hop] += self._out
        self._out = synth[self.hop :].copy()
        return synth[: self.hop]

    def process_all(self, audio: np.ndarray) -> np.ndarray:
        """Filter a whole recording and undo the delay (offline use, e.g. benchmarks)."""
        delay = self.delay_samples
        padded = np.concatenate([audio.astype(np.float32), np.zeros(delay, np.float32)])
        return self.process(padded)[delay:]


class StationaryNoiseFilter(BaseAudioFilter):
    """Pipecat input audio filter running :class:`StationaryGate` on 16-bit PCM.

    Keeps the audio's length (delaying it by 32 ms). ``FilterEnableFrame`` switches it off and
    on at run time; while off, audio passes through untouched.
    """

    def __init__(self, *, prop_decrease: float = 0.6, threshold_db: float = 12.0) -> None:
        self._prop_decrease = prop_decrease
        self._threshold_db = threshold_db
        self._gate: StationaryGate | None = None
        self._enabled = True

    async def start(self, sample_rate: int) -> None:
        self._gate = StationaryGate(
            sample_rate, prop_decrease=self._prop_decrease, threshold_db=self._threshold_db
        )

    async def stop(self) -> None:
        self._gate = None

    async def process_frame(self, frame: FilterControlFrame) -> None:
        if isinstance(frame, FilterEnableFrame):
            self._enabled = frame.enable

    async def filter(self, audio: bytes) -> bytes:
        if not self._enabled or self._gate is None or not audio:
            return audio
        return float_to_pcm16(self._gate.process(pcm16_to_float(audio)))
