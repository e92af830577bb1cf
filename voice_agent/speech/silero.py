"""Silero VAD on one shared ONNX session: per-stream confidences, the turn VAD, and a tap.

Pipecat's ``SileroVADAnalyzer`` loads a session of its own for every call and scores each 20 ms
frame through a thread-pool hop. :class:`SharedSileroVADAnalyzer` is the same analysis (pipecat's
``VADAnalyzer`` start/stop logic over Silero's confidence) on the registry's session, scored inline
(a window takes well under a millisecond), and it can hand each window's confidence to readers
further down the stream (the barge-in rule, the STT service's pause counter) through
:class:`ConfidenceTap`s, so the caller's audio is scored once, not once per reader.
"""

from __future__ import annotations

import importlib.resources
from collections import deque
from collections.abc import Sequence

import numpy as np
from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADParams, VADState

from voice_agent.audio import level_dbfs


def load_silero_session() -> object:
    """The Silero VAD ONNX model pipecat bundles. Load it once per process (the model registry
    does) and share it: sessions are thread-safe and stateless, the recurrent state lives in
    :class:`SileroConfidence`.
    """
    import onnxruntime

    path = importlib.resources.files("pipecat.audio.vad.data").joinpath("silero_vad.onnx")
    opts = onnxruntime.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    return onnxruntime.InferenceSession(
        str(path), providers=["CPUExecutionProvider"], sess_options=opts
    )


class SileroConfidence:
    """Silero speech confidence of consecutive windows of one audio stream.

    Same model and input handling as pipecat's ``SileroVADAnalyzer``, including its periodic
    state reset during clear non-speech (stale state after a long silence under-reports speech).
    """

    RESET_AFTER_S = 2.0

    def __init__(self, sample_rate: int, session: object) -> None:
        if sample_rate not in (8000, 16000):
            raise ValueError(f"Silero needs 8 or 16 kHz audio, not {sample_rate}")
        self.sample_rate = sample_rate
        self.window = 512 if sample_rate == 16000 else 256
        self._context_size = 64 if sample_rate == 16000 else 32
        self._session = session
        self.reset()

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros((1, self._context_size), dtype=np.float32)
        self._since_reset = 0
        self._low = 0

    def __call__(self, pcm: np.ndarray) -> float:
        """Confidence for one window of int16 samples (``self.window`` of them)."""
        x = pcm.astype(np.float32)[np.newaxis, :] / 32768.0
        x = np.concatenate((self._context, x), axis=1)
        inputs = {"input": x, "state": self._state, "sr": np.array(self.sample_rate, np.int64)}
        out, self._state = self._session.run(None, inputs)  # type: ignore[attr-defined]
        self._context = x[:, -self._context_size :]
        confidence = float(out[0][0])
        self._since_reset += 1
        self._low = self._low + 1 if confidence < 0.1 else 0
        if (
            self._since_reset * self.window >= self.RESET_AFTER_S * self.sample_rate
            and self._low >= 5
        ):
            self.reset()
        return confidence


class ConfidenceTap:
    """The windows the turn VAD scored, for a processor further down the same audio stream.

    Each window is kept as (end, confidence, level in dBFS), ``end`` counted in samples from the
    start of the stream, so the reader takes exactly the windows of the audio it has seen
    (:meth:`take`) however far the VAD runs ahead of it or lags behind. Bounded: windows
    nobody takes fall off the front.
    """

    def __init__(self, max_windows: int = 256) -> None:
        self._windows: deque[tuple[int, float, float]] = deque(maxlen=max_windows)

    def put(self, end: int, confidence: float, level: float) -> None:
        self._windows.append((end, confidence, level))

    def take(self, until: int) -> list[tuple[int, float, float]]:
        """The windows that end by sample ``until``, oldest first (and forget them)."""
        taken = []
        while self._windows and self._windows[0][0] <= until:
            taken.append(self._windows.popleft())
        return taken


class SharedSileroVADAnalyzer(VADAnalyzer):
    """Pipecat's Silero turn VAD on a shared session, scored inline, with optional taps (one
    per reader: a reader takes the windows off its tap).
    """

    def __init__(
        self,
        session: object,
        *,
        params: VADParams | None = None,
        taps: Sequence[ConfidenceTap] = (),
    ) -> None:
        super().__init__(params=params)
        self._session = session
        self._taps = tuple(taps)
        self._silero: SileroConfidence | None = None
        self._scored = 0  # samples of the stream scored so far

    def set_sample_rate(self, sample_rate: int) -> None:
        self._silero = SileroConfidence(sample_rate, self._session)  # checks the rate
        super().set_sample_rate(sample_rate)

    def num_frames_required(self) -> int:
        return 512 if self.sample_rate == 16000 else 256

    def voice_confidence(self, buffer: bytes) -> float:
        if self._silero is None:
            raise RuntimeError("set_sample_rate() first")
        pcm = np.frombuffer(buffer, np.int16)
        confidence = self._silero(pcm)
        self._scored += len(pcm)
        if self._taps:
            level = level_dbfs(pcm)
            for tap in self._taps:
                tap.put(self._scored, confidence, level)
        return confidence

    async def analyze_audio(self, buffer: bytes) -> VADState:
        return self._run_analyzer(buffer)
