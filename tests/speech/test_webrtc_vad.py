from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pipecat.audio.vad.vad_analyzer import VADParams, VADState

from voice_agent.audio import float_to_pcm16, resample, telephone_band
from voice_agent.speech.webrtc_vad import WebRTCVADAnalyzer


async def states(analyzer: WebRTCVADAnalyzer, audio: np.ndarray, rate: int) -> list[VADState]:
    analyzer.set_sample_rate(rate)
    pcm = float_to_pcm16(audio)
    chunk = rate // 50 * 2  # 20 ms, like a Twilio media frame
    return [await analyzer.analyze_audio(pcm[i : i + chunk]) for i in range(0, len(pcm), chunk)]


@pytest.mark.speech
@pytest.mark.parametrize("rate", [8000, 16000])
async def test_detects_real_phone_speech_and_returns_to_quiet(
    speech_dir: Path, load_16k, rate: int
) -> None:
    speech = telephone_band(load_16k(speech_dir / "en/librivox-0880.wav"), 16000)
    silence = np.zeros(16000, np.float32)
    audio = resample(np.concatenate([silence, speech, silence, silence]), 16000, rate)
    analyzer = WebRTCVADAnalyzer(params=VADParams(start_secs=0.2, stop_secs=0.5))
    seen = await states(analyzer, audio, rate)
    speaking = [i for i, s in enumerate(seen) if s == VADState.SPEAKING]
    assert speaking, "speech never detected"
    first_s, last_s = speaking[0] * 0.02, speaking[-1] * 0.02
    assert 1.0 <= first_s <= 1.6  # speech starts at 1.0 s; start_secs adds 0.2 s
    assert 3.5 <= last_s <= 4.8  # the 3 s utterance ends by 4.0 s; stop_secs adds 0.5 s
    assert seen[-1] == VADState.QUIET
    await analyzer.cleanup()


async def test_silence_never_triggers() -> None:
    rng = np.random.default_rng(3)
    hiss = (rng.standard_normal(3 * 8000) * 1e-4).astype(np.float32)
    analyzer = WebRTCVADAnalyzer()
    assert set(await states(analyzer, hiss, 8000)) == {VADState.QUIET}
    await analyzer.cleanup()


def test_frame_size_and_confidence_history() -> None:
    analyzer = WebRTCVADAnalyzer(frame_ms=20, history=2)
    analyzer.set_sample_rate(16000)
    assert analyzer.num_frames_required() == 320
    silent = bytes(640)
    assert analyzer.voice_confidence(silent) == 0.0
    assert analyzer.voice_confidence(b"\x00" * 10) == 0.0  # wrong size: not speech, no crash


def test_rejects_unsupported_settings() -> None:
    with pytest.raises(ValueError):
        WebRTCVADAnalyzer(mode=4)
    with pytest.raises(ValueError):
        WebRTCVADAnalyzer(frame_ms=25)
    with pytest.raises(ValueError):
        WebRTCVADAnalyzer().set_sample_rate(22050)
