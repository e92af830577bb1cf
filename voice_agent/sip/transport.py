"""pipecat transport for one SIP call: RTP audio and RFC 4733 DTMF in, paced G.711 RTP out.

The SIP stack decodes/encodes G.711 and its media clock paces outgoing RTP at 20 ms; this
transport only moves 8 kHz PCM between the call's :class:`~voice_agent.sip.media.PlayoutBuffer` /
receive hook and pipecat frames.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from loguru import logger as log
from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.audio.utils import create_stream_resampler
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InputDTMFFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
    StartFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.transports.base_input import BaseInputTransport
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.base_transport import BaseTransport, TransportParams

from voice_agent.audio import Upsampler2x
from voice_agent.sip.media import RATE, CallLeg

#: Audio kept queued ahead of the media clock. Enough to ride out event-loop hiccups, small
#: enough that a barge-in (which clears the queue) cuts the agent off quickly.
PLAYOUT_LEAD_S = 0.08
#: Received frames kept when the pipeline falls behind (older ones are dropped).
MAX_PENDING_FRAMES = 100

#: Called when the pipeline ends; ``drain`` says whether queued audio should play out first.
EndHandler = Callable[[bool], Awaitable[None]]


def sip_transport_params(**overrides: object) -> TransportParams:
    """Transport parameters for a SIP call (audio both ways, 8 kHz out)."""
    values: dict[str, object] = {
        "audio_in_enabled": True,
        "audio_out_enabled": True,
        "audio_out_sample_rate": RATE,
        "audio_out_end_silence_secs": 0,
    }
    values.update(overrides)
    values["audio_out_sample_rate"] = RATE  # what the RTP side plays, whatever the pipeline makes
    return TransportParams(**values)  # type: ignore[arg-type]


class SipInputTransport(BaseInputTransport):
    """Pushes the caller's audio (resampled to the pipeline's input rate) and DTMF."""

    def __init__(self, transport: SipTransport, leg: CallLeg, params: TransportParams, **kw):
        super().__init__(params, **kw)
        self._transport = transport
        self._leg = leg
        self._pending: asyncio.Queue[bytes | KeypadEntry] = asyncio.Queue()
        self._resampler = create_stream_resampler()
        self._upsampler = Upsampler2x()
        self._receive_task: asyncio.Task | None = None
        self.frames_dropped = 0

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        self._leg.deliver = self._enqueue
        if self._receive_task is None:
            self._receive_task = self.create_task(self._receive())
        await self.set_transport_ready(frame)
        await self._transport.fire("on_client_connected")

    async def stop(self, frame: EndFrame) -> None:
        await super().stop(frame)
        await self._teardown()

    async def cancel(self, frame: CancelFrame) -> None:
        await super().cancel(frame)
        await self._teardown()

    async def cleanup(self) -> None:
        await super().cleanup()
        await self._teardown()

    def push_dtmf(self, digit: str) -> None:
        """Queue an RFC 4733 digit (event loop thread); unknown keys are ignored."""
        try:
            self._enqueue_item(KeypadEntry(digit))
        except ValueError:
            log.info("ignoring DTMF key {!r}", digit)

    async def _teardown(self) -> None:
        self._leg.deliver = None
        if self._receive_task is not None:
            await self.cancel_task(self._receive_task)
            self._receive_task = None

    def _enqueue(self, pcm: bytes) -> None:
        if self._pending.qsize() >= MAX_PENDING_FRAMES:
            self.frames_dropped += 1
            return
        self._pending.put_nowait(pcm)

    def _enqueue_item(self, item: bytes | KeypadEntry) -> None:
        self._pending.put_nowait(item)

    async def _receive(self) -> None:
        while True:
            item = await self._pending.get()
            if isinstance(item, KeypadEntry):
                await self.push_frame(InputDTMFFrame(button=item))
                continue
            assert isinstance(item, bytes)
            if self.sample_rate == RATE:
                audio = item
            elif self.sample_rate == 2 * RATE:
                audio = self._upsampler.process(item)
            else:
                audio = await self._resampler.resample(item, RATE, self.sample_rate)
            await self.push_audio_frame(
                InputAudioRawFrame(audio=audio, sample_rate=self.sample_rate, num_channels=1)
            )


class SipOutputTransport(BaseOutputTransport):
    """Queues the agent's 8 kHz audio for the media clock; clears it on barge-in."""

    def __init__(self, transport: SipTransport, leg: CallLeg, params: TransportParams, **kw):
        super().__init__(params, **kw)
        self._transport = transport
        self._leg = leg

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self.set_transport_ready(frame)

    async def stop(self, frame: EndFrame) -> None:
        await super().stop(frame)
        await self._transport.pipeline_ended(drain=True)

    async def cancel(self, frame: CancelFrame) -> None:
        await super().cancel(frame)
        await self._transport.pipeline_ended(drain=False)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InterruptionFrame):
            self._leg.playout.clear()

    async def write_audio_frame(self, frame: OutputAudioRawFrame) -> bool:
        if self._leg.disconnected:
            return False
        self._leg.playout.write(frame.audio)
        # Block like a sound card would, so pipecat's idea of "speaking" matches what plays.
        ahead = self._leg.playout.buffered_s - PLAYOUT_LEAD_S
        if ahead > 0:
            await asyncio.sleep(ahead)
        return True


class SipTransport(BaseTransport):
    """pipecat transport of one answered SIP call.

    Event handlers: ``on_client_connected(transport, leg)`` when the pipeline starts and
    ``on_client_disconnected(transport, leg)`` when the caller (or anyone) ends the call.
    """

    def __init__(
        self,
        leg: CallLeg,
        on_end: EndHandler,
        params: TransportParams | None = None,
        input_name: str | None = None,
        output_name: str | None = None,
    ):
        super().__init__(input_name=input_name, output_name=output_name)
        self.leg = leg
        self._on_end = on_end
        self._params = params or sip_transport_params()
        self._input = SipInputTransport(self, leg, self._params, name=self._input_name)
        self._output = SipOutputTransport(self, leg, self._params, name=self._output_name)
        self._register_event_handler("on_client_connected")
        self._register_event_handler("on_client_disconnected")
        self._ended = False

    def input(self) -> SipInputTransport:
        return self._input

    def output(self) -> SipOutputTransport:
        return self._output

    async def fire(self, event: str) -> None:
        await self._call_event_handler(event, self.leg)

    async def pipeline_ended(self, drain: bool) -> None:
        if not self._ended:
            self._ended = True
            await self._on_end(drain)
