"""pipecat's ``TwilioFrameSerializer`` made robust and mark-aware.

Parsing goes through :mod:`voice_agent.telephony.twilio_protocol`: malformed, oversized or unknown
messages are logged and skipped instead of raising inside the transport (which would end the call).
"""

from __future__ import annotations

from collections.abc import Callable

from loguru import logger
from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.audio.utils import ulaw_to_pcm
from pipecat.frames.frames import Frame, InputAudioRawFrame, InputDTMFFrame
from pipecat.serializers.twilio import TwilioFrameSerializer

from voice_agent.audio import PHONE_RATE, Upsampler2x, ulaw_decode
from voice_agent.telephony import twilio_protocol as tp


class TwilioCallSerializer(TwilioFrameSerializer):
    """Hang-up is left to the call control (after the last ``mark``), not to ``EndFrame``."""

    def __init__(
        self,
        stream_sid: str,
        call_sid: str,
        on_mark: Callable[[str], None] | None = None,
        on_stop: Callable[[], object] | None = None,
    ) -> None:
        params = TwilioFrameSerializer.InputParams(auto_hang_up=False)
        super().__init__(stream_sid, call_sid, params=params)
        self.on_mark = on_mark
        self.on_stop = on_stop
        self.bad_messages = 0
        # Not pipecat's soxr stream resampler: it returns audio in ~100 ms bursts, which delays
        # every end of turn and barge-in by up to 95 ms (see Upsampler2x).
        self._upsampler = Upsampler2x()

    async def deserialize(self, data: str | bytes) -> Frame | None:
        try:
            event = tp.parse_message(data)
        except tp.ProtocolError as exc:
            self.bad_messages += 1
            logger.warning(f"Twilio stream {self._stream_sid}: skipped bad message ({exc})")
            return None
        if isinstance(event, tp.Media):
            if not event.payload or event.track not in ("inbound", "inbound_track"):
                return None
            if self._twilio_sample_rate == PHONE_RATE and self._sample_rate == 2 * PHONE_RATE:
                pcm = self._upsampler.process(ulaw_decode(event.payload))
            else:
                pcm = await ulaw_to_pcm(
                    event.payload,
                    self._twilio_sample_rate,
                    self._sample_rate,
                    self._input_resampler,
                )
            if not pcm:
                return None
            return InputAudioRawFrame(audio=pcm, num_channels=1, sample_rate=self._sample_rate)
        if isinstance(event, tp.Dtmf):
            return InputDTMFFrame(KeypadEntry(event.digit))
        if isinstance(event, tp.Mark) and self.on_mark is not None:
            self.on_mark(event.name)
        elif isinstance(event, tp.Stop) and self.on_stop is not None:
            logger.info(f"Twilio stream {self._stream_sid}: stop (the caller hung up)")
            self.on_stop()
        return None
