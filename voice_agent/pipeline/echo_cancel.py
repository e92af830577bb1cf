"""The pipecat side of echo cancellation (:mod:`voice_agent.speech.echo`): the output transport's
writes are heard as they are sent, and a filter takes them out of the caller's audio, first in
the pipeline, so the VAD, barge-in, the STT and the call recording get the caller alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from pipecat.audio.filters.base_audio_filter import BaseAudioFilter
from pipecat.frames.frames import FilterControlFrame, OutputAudioRawFrame
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.transports.base_output import BaseOutputTransport

from voice_agent.pipeline.noise_gate import CallerAudioFilter
from voice_agent.speech.echo import RATE, CallerEchoCanceller, EchoReference


def hear_what_is_sent(output: BaseOutputTransport, reference: EchoReference) -> None:
    """Hand ``reference`` each chunk of audio the output transport writes, as it is written.

    The output transports write a chunk, sleep (pipecat's websocket one until the chunk is due,
    the SIP one while its playout is ahead), then pass it on. Taken as passed on (after the
    transport), a chunk sent after a stall of the event loop came later than the burst of
    caller audio read meanwhile, and was taken for due already: the time it was sent is what
    places it where the caller heard it. pipecat has no hook there, so the transport's
    ``write_audio_frame`` is wrapped (every chunk goes through it: speech, the silence at the
    end, keypad tones).
    """
    write = output.write_audio_frame

    async def write_and_hear(frame: OutputAudioRawFrame) -> bool:
        reference.played(frame.audio, frame.sample_rate, time.monotonic())
        return await write(frame)

    output.write_audio_frame = write_and_hear  # type: ignore[method-assign]


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
        return self._canceller.process(audio, time.monotonic()) if self._on else audio


def in_background(work: Callable[[], None]) -> None:
    """Run an echo canceller's warm-up in a thread of its own (AEC3 runs without the GIL).

    It costs the greeting little alone (``bench.latency``: p50 29-39 ms against 28-34 before),
    but four calls starting in the same instant wait ~70 ms more for theirs, two cores busy
    with four warm-ups. At the lowest priority that was 54 ms, but a busy box then starved
    the warm-up, and the first echo came back before the canceller was ready.
    """
    threading.Thread(target=work, name="echo-warm-up", daemon=True).start()


def echo_cancellation(output: FrameProcessor) -> tuple[CallerAudioFilter, CallerEchoCanceller]:
    """One call's canceller, hearing what ``output`` (a transport's output) sends, and its
    filter.
    """
    if not isinstance(output, BaseOutputTransport):
        raise TypeError(f"echo cancellation needs an output transport, not {output!r}")
    reference = EchoReference()
    hear_what_is_sent(output, reference)
    canceller = CallerEchoCanceller(reference, background=in_background)
    return CallerAudioFilter(EchoCancelAudioFilter(canceller)), canceller
