"""The caller's audio through a filter before the VAD: the noise gate
(``VOICE_AGENT_NOISE_REDUCTION``), the echo canceller (:mod:`voice_agent.pipeline.echo_cancel`).

A filter is pipecat's ``BaseAudioFilter`` (:class:`voice_agent.speech.noise.
StationaryNoiseFilter`, :class:`~voice_agent.pipeline.echo_cancel.EchoCancelAudioFilter`), run
here rather than as the transport's ``audio_in_filter``: the filter keeps state per call, and one
processor built with each call's pipeline serves every transport (Twilio, SIP, the browser
phone, replay) without a filter object shared by calls.
"""

from __future__ import annotations

from pipecat.audio.filters.base_audio_filter import BaseAudioFilter
from pipecat.frames.frames import CancelFrame, EndFrame, Frame, InputAudioRawFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor


class CallerAudioFilter(FrameProcessor):
    """Runs each caller audio frame through ``audio_filter``, in place (same length, in order).

    The filter starts at the rate of the first caller audio frame. What the VAD, the STT and the
    call recording get is the filtered audio, what the agent heard; so a recording made with the
    filter on is replayed with it off.
    """

    def __init__(self, audio_filter: BaseAudioFilter) -> None:
        super().__init__()
        self._filter = audio_filter
        self._started = False

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            if not self._started:
                self._started = True
                await self._filter.start(frame.sample_rate)
            frame.audio = await self._filter.filter(frame.audio)
        elif isinstance(frame, (EndFrame, CancelFrame)) and self._started:
            self._started = False
            await self._filter.stop()
        await self.push_frame(frame, direction)
