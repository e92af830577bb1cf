"""The Twilio wire layer: media messages in, pipeline audio frames out, one for one."""

from __future__ import annotations

import base64
import json

import numpy as np
from pipecat.frames.frames import InputAudioRawFrame

from voice_agent.audio import ulaw_encode
from voice_agent.telephony.twilio_serializer import TwilioCallSerializer


def media(pcm: bytes) -> str:
    payload = base64.b64encode(ulaw_encode(pcm)).decode()
    return json.dumps(
        {"event": "media", "streamSid": "MZ1", "media": {"track": "inbound", "payload": payload}}
    )


async def test_every_20_ms_media_message_is_a_20_ms_frame_at_once() -> None:
    serializer = TwilioCallSerializer("MZ1", "CA1")
    serializer._sample_rate = 16000  # what setup() takes from the pipeline's StartFrame
    t = np.arange(8000) / 8000
    pcm = (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").tobytes()
    frames = [await serializer.deserialize(media(pcm[i : i + 320])) for i in range(0, 16000, 320)]
    assert all(isinstance(f, InputAudioRawFrame) for f in frames)
    # No bursts: pipecat's soxr stream resampler returned nothing for 4 frames in 5.
    assert [len(f.audio) for f in frames if isinstance(f, InputAudioRawFrame)] == [640] * 50
    audio = np.frombuffer(b"".join(f.audio for f in frames if f is not None), "<i2")
    level = np.sqrt(np.mean(audio[1600:].astype(np.float64) ** 2))
    assert abs(level - 8000 / np.sqrt(2)) < 400  # the tone came through at its level


async def test_a_bad_message_is_skipped_not_raised() -> None:
    serializer = TwilioCallSerializer("MZ1", "CA1")
    serializer._sample_rate = 16000
    assert await serializer.deserialize("{not json") is None
    assert serializer.bad_messages == 1
