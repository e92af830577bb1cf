"""The pipecat side of echo cancellation (:mod:`voice_agent.speech.echo`): one processor hears
what the agent played, after the output transport; the other takes it out of the caller's audio,
first in the pipeline, so the VAD, barge-in, the STT and the call recording get the caller alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from pipecat.audio.filters.base_audio_filter import BaseAudioFilter
from pipecat.frames.frames import FilterControlFrame, Frame, TTSAudioRawFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from voice_agent.pipeline.noise_gate import CallerAudioFilter
from voice_agent.speech.echo import RATE, CallerEchoCanceller, EchoReference


class PlayedAudioTap(FrameProcessor):
    """Feeds the agent's audio to the reference as the output transport writes it (place it
    after the output transport, which passes each chunk on once sent, at the line's pace).
    """

    def __init__(self, reference: EchoReference) -> None:
        super().__init__(name="PlayedAudioTap")
        self._reference = reference

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TTSAudioRawFrame) and direction == FrameDirection.DOWNSTREAM:
            self._reference.played(frame.audio, frame.sample_rate)
        await self.push_frame(frame, direction)


class EchoCancelAudioFilter(BaseAudioFilter):
    """The canceller as a pipecat audio filter (run by :class:`~voice_agent.pipeline.noise_gate.
    CallerAudioFilter`): it warms up from the caller's first audio
    (:func:`in_background`), and caller audio at another rate than 16 kHz passes as it is.
    """

    def __init__(self, canceller: CallerEchoCanceller) -> None:
        self._canceller = canceller
        self._on = False

    async def start(self, sample_rate: int) -> None:
        self._on = sample_rate == RATE
        if self._on:
            in_background(self._canceller.warm_up)

    async def stop(self) -> None:
        pass

    async def process_frame(self, frame: FilterControlFrame) -> None:
        pass

    async def filter(self, audio: bytes) -> bytes:
        return self._canceller.process(audio) if self._on else audio


def in_background(work: Callable[[], None]) -> None:
    """Run an echo canceller's warm-up in a thread of its own (AEC3 runs without the GIL).

    It costs the greeting little alone (``bench.latency``: p50 29-39 ms against 28-34 before),
    but four calls starting in the same instant wait ~70 ms more for theirs, two cores busy
    with four warm-ups. At the lowest priority that was 54 ms, but a busy box then starved
    the warm-up, and the first echo came back before the canceller was ready.
    """
    threading.Thread(target=work, name="echo-warm-up", daemon=True).start()


def echo_cancellation() -> tuple[CallerAudioFilter, PlayedAudioTap, CallerEchoCanceller]:
    """The two processors of one call, sharing its reference, and its canceller."""
    reference = EchoReference()
    canceller = CallerEchoCanceller(reference, background=in_background)
    filter_ = CallerAudioFilter(EchoCancelAudioFilter(canceller))
    return filter_, PlayedAudioTap(reference), canceller
