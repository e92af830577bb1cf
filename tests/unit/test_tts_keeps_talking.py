"""A prompt whose next sentence a busy box synthesizes slowly is still one prompt.

pipecat's output transport takes 3 s without audio for the end of the agent's speech. A prompt
whose second sentence took longer than that to synthesize (24 calls on 2 cores) played its
first sentence, "stopped", then went on; the dialog took it for played at the stop. The TTS
now sends 40 ms of silence every second while it waits. The voice is the real one, made slow
on purpose.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    OutputAudioRawFrame,
    StartFrame,
    TTSSpeakFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.tests.utils import SleepFrame, run_test
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.base_transport import TransportParams

from voice_agent.pipeline.tts import (
    SentenceAudioCache,
    SharedPiperTTSService,
    SynthesisQueue,
    trim_tail,
)

pytestmark = pytest.mark.models

FIRST = "To confirm:"
SECOND = "you're returning the shoes."


class SlowVoice:
    """The Piper voice, taking ``delay_s`` more for each sentence that holds ``slow``."""

    def __init__(self, voice: Any, slow: str, delay_s: float) -> None:
        self._voice, self.config = voice, voice.config
        self._slow, self._delay_s = slow, delay_s

    def synthesize(self, text: str, **options: Any) -> Iterator[Any]:
        if self._slow in text:
            time.sleep(self._delay_s)
        yield from self._voice.synthesize(text, **options)

    def phonemize(self, text: str) -> list[list[str]]:
        return self._voice.phonemize(text)  # type: ignore[no-any-return]


class PacedOutput(BaseOutputTransport):
    """An output that plays audio in real time, as the websocket transports do."""

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self.set_transport_ready(frame)

    async def write_audio_frame(self, frame: OutputAudioRawFrame) -> bool:
        await asyncio.sleep(len(frame.audio) / 2 / frame.sample_rate)
        return True


class SpeakingSpy(FrameProcessor):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        speaking = (BotStartedSpeakingFrame, BotStoppedSpeakingFrame)
        if isinstance(frame, speaking) and direction == FrameDirection.UPSTREAM:
            self.seen.append(type(frame).__name__)
        await self.push_frame(frame, direction)


@pytest.fixture(scope="module")
def voice() -> Any:
    from voice_agent.registry import load_piper_voice

    return load_piper_voice()


async def test_a_slow_sentence_is_waited_for_with_silence_after_the_first_audio(voice) -> None:
    cache = SentenceAudioCache()
    # each sentence slow
    tts = SharedPiperTTSService(SlowVoice(voice, "", 0.25), cache, keep_talking_s=0.05)
    chunks = [chunk async for chunk in tts._sentence_audio(f"{FIRST} {SECOND}")]
    assert chunks[0] is not None  # nothing goes out before the prompt's first audio
    assert chunks.count(None) >= 3  # the second sentence, waited for
    first, second = cache.get(FIRST), cache.get(SECOND)
    assert first is not None and second is not None
    words = [chunk for chunk in chunks if chunk is not None]
    assert words == [first, trim_tail(second, voice.config.sample_rate)]  # the audio unchanged


async def test_a_prompt_paused_longer_than_the_transports_stop_is_one_stretch_of_speech(
    voice,
) -> None:
    spy = SpeakingSpy()
    tts = SharedPiperTTSService(SlowVoice(voice, SECOND, 4.0), SentenceAudioCache())
    out = PacedOutput(TransportParams(audio_out_enabled=True, audio_out_sample_rate=8000))
    await run_test(
        Pipeline([spy, tts, out]),
        frames_to_send=[TTSSpeakFrame(f"{FIRST} {SECOND}"), SleepFrame(7.0)],
        pipeline_params=PipelineParams(audio_out_sample_rate=8000),  # the transport's, as in calls
    )
    # Without the silence: started, stopped 3 s after "To confirm:", started, stopped.
    assert spy.seen == ["BotStartedSpeakingFrame", "BotStoppedSpeakingFrame"]


async def test_another_calls_later_sentence_does_not_hold_up_a_first_sentence(voice) -> None:
    """Two calls on one queue: the first's second sentence takes 1.5 s to make; the other
    call's first sentence comes out meanwhile, and its own second sentence waits its turn.
    """
    queue = SynthesisQueue()
    slow = SharedPiperTTSService(
        SlowVoice(voice, SECOND, 1.5), SentenceAudioCache(), keep_talking_s=0.05, synthesis=queue
    )
    other = SharedPiperTTSService(voice, SentenceAudioCache(), keep_talking_s=0.05, synthesis=queue)
    heard: list[tuple[str, float]] = []

    async def speak(name: str, tts: SharedPiperTTSService, text: str) -> None:
        async for chunk in tts._sentence_audio(text):
            if chunk is not None:
                heard.append((name, time.monotonic()))

    first_call = asyncio.ensure_future(speak("slow", slow, f"{FIRST} {SECOND}"))
    while len(heard) < 1:  # "To confirm:" out, "you're returning the shoes." being made
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)
    started = time.monotonic()
    await speak("other", other, "Your order shipped today. It arrives on Friday.")
    await first_call
    other_first, other_second = (at for name, at in heard if name == "other")
    slow_second = [at for name, at in heard if name == "slow"][1]
    assert other_first - started < 1.0  # not behind the slow sentence
    assert other_second > slow_second  # behind it: one later sentence at a time
