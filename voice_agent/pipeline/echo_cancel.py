"""The pipecat side of echo cancellation (:mod:`voice_agent.speech.echo`): one processor hears
what the agent played, after the output transport; the other takes it out of the caller's audio,
first in the pipeline, so the VAD, barge-in, the STT and the call recording get the caller alone.
"""

from __future__ import annotations

import threading

from pipecat.frames.frames import Frame, InputAudioRawFrame, StartFrame, TTSAudioRawFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

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


class EchoCancelFilter(FrameProcessor):
    """Takes the agent's echo out of each caller audio frame, in place, once the canceller has
    warmed up (:func:`warm_up_in_background`, from the call's start).
    """

    def __init__(self, canceller: CallerEchoCanceller) -> None:
        super().__init__(name="EchoCancel")
        self._canceller = canceller

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            warm_up_in_background(self._canceller)
        elif (
            isinstance(frame, InputAudioRawFrame)
            and frame.num_channels == 1
            and frame.sample_rate == RATE
        ):
            frame.audio = self._canceller.process(frame.audio)
        await self.push_frame(frame, direction)


def warm_up_in_background(canceller: CallerEchoCanceller) -> None:
    """Warm the canceller up in a thread of its own (AEC3 runs without the GIL).

    It costs the greeting little alone (``bench.latency``: p50 29-39 ms against 28-34 before),
    but four calls starting in the same instant wait ~70 ms more for theirs, two cores busy
    with four warm-ups. At the lowest priority that was 54 ms, but a busy box then starved
    the warm-up, and the first echo came back before the canceller was ready.
    """
    threading.Thread(target=canceller.warm_up, name="echo-warm-up", daemon=True).start()


def echo_cancellation() -> tuple[EchoCancelFilter, PlayedAudioTap]:
    """The two processors of one call, sharing its reference."""
    reference = EchoReference()
    return EchoCancelFilter(CallerEchoCanceller(reference)), PlayedAudioTap(reference)
