"""WebRTC's GMM voice activity detector behind pipecat's ``VADAnalyzer`` interface.

A drop-in alternative to pipecat's ``SileroVADAnalyzer``: same ``VADParams`` (confidence,
start/stop seconds, minimum volume), same state machine (inherited), but scored by
``webrtcvad`` — no ONNX runtime, a few microseconds per frame.

WebRTC VAD answers yes/no per 10/20/30 ms frame. The analyzer scores one analysis window of
``frame_ms`` and returns as confidence the fraction of the last ``history`` frames judged voiced,
so with the default ``history=1`` the confidence is 0 or 1 and the inherited start/stop counters
do all the smoothing.
"""

from __future__ import annotations

from collections import deque

import webrtcvad
from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADParams

SUPPORTED_RATES = (8000, 16000, 32000, 48000)
SUPPORTED_FRAME_MS = (10, 20, 30)


class WebRTCVADAnalyzer(VADAnalyzer):
    """Voice activity detection with ``webrtcvad`` (Google's WebRTC GMM detector).

    Args:
        sample_rate: 8000, 16000, 32000 or 48000 Hz; None to take the transport's.
        params: Pipecat VAD parameters (thresholds, start/stop seconds, minimum volume).
        mode: WebRTC aggressiveness, 0 (permissive) to 3 (most aggressive at rejecting
            non-speech); noisy phone lines want 3.
        frame_ms: Analysis window: 10, 20 or 30 ms (30 ms is WebRTC's most reliable).
        history: Frames averaged into the confidence (1 = the current frame only).

    """

    def __init__(
        self,
        *,
        sample_rate: int | None = None,
        params: VADParams | None = None,
        mode: int = 3,
        frame_ms: int = 30,
        history: int = 1,
    ) -> None:
        if not 0 <= mode <= 3:
            raise ValueError(f"WebRTC VAD mode must be 0..3, not {mode}")
        if frame_ms not in SUPPORTED_FRAME_MS:
            raise ValueError(f"WebRTC VAD frame must be 10, 20 or 30 ms, not {frame_ms}")
        if history < 1:
            raise ValueError("history must be at least 1 frame")
        super().__init__(sample_rate=sample_rate, params=params)
        self._vad = webrtcvad.Vad(mode)
        self._mode = mode
        self._frame_ms = frame_ms
        self._recent: deque[bool] = deque(maxlen=history)

    @property
    def mode(self) -> int:
        """WebRTC aggressiveness (0..3)."""
        return self._mode

    def set_sample_rate(self, sample_rate: int) -> None:
        """Set the stream's sample rate (must be one WebRTC VAD supports)."""
        rate = self._init_sample_rate or sample_rate
        if rate not in SUPPORTED_RATES:
            raise ValueError(
                f"WebRTC VAD sample rate must be one of {SUPPORTED_RATES} (sample rate: {rate})"
            )
        self._recent.clear()
        super().set_sample_rate(sample_rate)

    def num_frames_required(self) -> int:
        """Return the samples per analysis window (``frame_ms`` at the stream rate)."""
        return self.sample_rate * self._frame_ms // 1000

    def voice_confidence(self, buffer: bytes) -> float:
        """Fraction of the recent ``history`` frames that WebRTC VAD judges voiced."""
        if len(buffer) != self.num_frames_required() * 2:
            return 0.0
        self._recent.append(self._vad.is_speech(buffer, self.sample_rate))
        return sum(self._recent) / len(self._recent)
