"""Pick the caller-side VAD and input filter by name, so the pipeline can switch by setting."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pipecat.audio.filters.base_audio_filter import BaseAudioFilter
from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADParams

from voice_agent.speech.noise import StationaryNoiseFilter
from voice_agent.speech.silero import ConfidenceTap, SharedSileroVADAnalyzer

VadKind = Literal["silero", "webrtc"]

#: Chosen by ``python -m bench.asr_accuracy`` on noisy telephone-band audio (see docs in issue 5).
DEFAULT_VAD: VadKind = "silero"


def make_vad_analyzer(
    kind: VadKind = DEFAULT_VAD,
    *,
    start_secs: float = 0.2,
    stop_secs: float = 0.5,
    min_volume: float = VADParams().min_volume,
    silero_session: object = None,
    taps: Sequence[ConfidenceTap] = (),
) -> VADAnalyzer:
    """A fresh analyzer (one per call: analyzers keep per-stream state).

    Args:
        kind: ``"silero"`` (pipecat's bundled ONNX model) or ``"webrtc"`` (WebRTC GMM, mode 3).
        start_secs: Speech needed before the user counts as speaking.
        stop_secs: Silence needed before the user counts as stopped.
        min_volume: Volume (0-1) below which audio is not speech, whatever the model says.
        silero_session: The process's shared Silero session (the model registry's); without
            it, pipecat's analyzer loads one of its own.
        taps: Each receives every window's Silero confidence (one per reader: barge-in and
            the STT service's pause counter reuse them).

    """
    params = VADParams(start_secs=start_secs, stop_secs=stop_secs, min_volume=min_volume)
    if kind == "silero" and silero_session is not None:
        return SharedSileroVADAnalyzer(silero_session, params=params, taps=taps)
    if kind == "silero":
        from pipecat.audio.vad.silero import SileroVADAnalyzer

        return SileroVADAnalyzer(params=params)
    if kind == "webrtc":
        from voice_agent.speech.webrtc_vad import WebRTCVADAnalyzer

        return WebRTCVADAnalyzer(params=params, mode=3)
    raise ValueError(f"unknown VAD {kind!r}; expected 'silero' or 'webrtc'")


def make_input_filter(noise_reduction: bool) -> BaseAudioFilter | None:
    """The caller-audio filter for the transport's ``audio_in_filter`` (None when off)."""
    return StationaryNoiseFilter() if noise_reduction else None
