"""``/phone``: talk to the agent from a browser microphone, over a websocket.

Wire format on ``/phone/ws`` (kept deliberately small):

- browser -> agent: binary messages are 16-bit little-endian mono PCM at 16 kHz; text messages
  are JSON ``{"event": "dtmf", "digit": "5"}`` or ``{"event": "hangup"}``.
- agent -> browser: first a text ``{"event": "start", "call_sid": ...}``, then binary PCM
  (16 kHz, as played, paced by the transport). The agent closes the socket when the call ends.

The call runs through the same :class:`~voice_agent.pipeline.call.CallSession` as a phone call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, WebSocket
from fastapi.responses import HTMLResponse
from loguru import logger
from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.frames.frames import Frame, InputAudioRawFrame, InputDTMFFrame, OutputAudioRawFrame
from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport

from voice_agent.capacity import CallCapacity
from voice_agent.console.api import STATIC
from voice_agent.pipeline.call import AgentServices, CallInfo, CallSession

PHONE_RATE = 16000
MAX_MESSAGE_BYTES = 64_000  # 2 s of audio: browsers send 64-256 ms chunks
DIGITS = set("0123456789*#")


class BrowserPcmSerializer(FrameSerializer):
    """Raw PCM both ways; anything malformed is dropped (and counted), never raised."""

    def __init__(self, on_hangup: Callable[[], Any] | None = None) -> None:
        super().__init__()
        self.on_hangup = on_hangup
        self.bad_messages = 0

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if isinstance(frame, OutputAudioRawFrame):
            return frame.audio
        return None

    async def deserialize(self, data: str | bytes) -> Frame | None:
        return self.parse(data)

    def parse(self, data: str | bytes) -> Frame | None:
        if isinstance(data, bytes):
            if not data or len(data) % 2 or len(data) > MAX_MESSAGE_BYTES:
                self.bad_messages += 1
                return None
            return InputAudioRawFrame(audio=data, sample_rate=PHONE_RATE, num_channels=1)
        try:
            message = json.loads(data)
        except (json.JSONDecodeError, TypeError):
            self.bad_messages += 1
            return None
        if not isinstance(message, dict):
            self.bad_messages += 1
            return None
        if message.get("event") == "dtmf" and message.get("digit") in DIGITS:
            return InputDTMFFrame(KeypadEntry(message["digit"]))
        if message.get("event") == "hangup" and self.on_hangup is not None:
            self.on_hangup()
            return None
        self.bad_messages += 1
        return None


class BrowserCallControl:
    """A browser call has nobody to transfer to: a handoff ends the call (the page says so)."""

    def __init__(self) -> None:
        self.transfer_requested: dict[str, Any] | None = None

    async def transfer(self, target: str | None, summary: dict[str, Any]) -> bool:
        self.transfer_requested = {"target": target, "summary": summary}
        return False

    async def hang_up(self) -> None:
        return None


def phone_router() -> APIRouter:
    router = APIRouter(tags=["phone"])

    @router.get("/phone", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse((STATIC / "phone.html").read_text())

    @router.websocket("/phone/ws")
    async def phone_ws(websocket: WebSocket) -> None:
        await websocket.accept()
        services: AgentServices | None = websocket.app.state.services
        if services is None:
            with contextlib.suppress(RuntimeError):
                await websocket.close(code=1013, reason="models are loading")
            return
        call_sid = "WB" + uuid.uuid4().hex
        capacity: CallCapacity = websocket.app.state.capacity
        with capacity.holding(call_sid, time.monotonic()) as taken:
            if not taken:
                with contextlib.suppress(RuntimeError):
                    await websocket.close(code=1013, reason="all lines busy")
                return
            await websocket.send_text(json.dumps({"event": "start", "call_sid": call_sid}))
            await run_browser_call(websocket, call_sid, services)

    return router


async def run_browser_call(websocket: WebSocket, call_sid: str, services: AgentServices) -> None:
    serializer = BrowserPcmSerializer()
    transport = FastAPIWebsocketTransport(
        websocket=websocket,
        params=FastAPIWebsocketParams(
            audio_in_enabled=True,
            audio_out_enabled=True,
            audio_in_sample_rate=PHONE_RATE,
            audio_out_sample_rate=PHONE_RATE,
            add_wav_header=False,
            serializer=serializer,
            audio_out_end_silence_secs=0,
        ),
    )
    control = BrowserCallControl()
    session = CallSession(
        transport,
        CallInfo(call_sid=call_sid, channel="web"),
        control,
        services,
        audio_out_sample_rate=PHONE_RATE,
    )
    serializer.on_hangup = lambda: asyncio.ensure_future(session.end_by_caller())
    logger.info(f"[{call_sid}] browser call started")
    await session.run()
    logger.info(f"[{call_sid}] browser call ended ({session.dialog.outcome})")
