"""Twilio voice webhook (TwiML) and Media Streams websocket endpoints."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response, WebSocket, WebSocketDisconnect
from loguru import logger
from pipecat.transports.websocket.fastapi import (
    FastAPIWebsocketParams,
    FastAPIWebsocketTransport,
)
from twilio.twiml.voice_response import Connect, VoiceResponse

from voice_agent.pipeline.call import AgentServices, CallInfo, run_call
from voice_agent.telephony import twilio_protocol as tp
from voice_agent.telephony.twilio_serializer import TwilioCallSerializer

START_TIMEOUT_S = 10.0
MAX_PRELUDE_MESSAGES = 20


def media_stream_url(public_url: str | None, request: Request) -> str:
    """``wss://HOST/twilio/media`` from the configured public URL, else from the request."""
    if public_url:
        parts = urlsplit(public_url)
        scheme = "ws" if parts.scheme == "http" else "wss"
        return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}/twilio/media"
    host = request.headers.get("x-forwarded-host") or request.headers.get("host", "localhost")
    proto = request.headers.get("x-forwarded-proto", request.url.scheme)
    scheme = "wss" if proto in ("https", "wss") else "ws"
    return f"{scheme}://{host}/twilio/media"


class TwilioCallControl:
    """Hang-up and transfer for a Twilio call.

    Closing the media websocket ends ``<Connect>``; with no further TwiML Twilio hangs up, so a
    hang-up needs no REST request.
    """

    def __init__(self, call_sid: str, services: AgentServices) -> None:
        self.call_sid = call_sid
        self._services = services
        self.transferred_to: str | None = None

    async def transfer(self, target: str | None, summary: dict[str, Any]) -> bool:
        if not target:
            logger.warning(f"[{self.call_sid}] handoff requested but no transfer target is set")
            return False
        self.transferred_to = target
        logger.info(f"[{self.call_sid}] transfer to {target} ({summary.get('reason')})")
        return False

    async def hang_up(self) -> None:
        return None


def twilio_router() -> APIRouter:
    router = APIRouter(prefix="/twilio", tags=["twilio"])

    @router.post("/voice")
    async def voice_webhook(request: Request) -> Response:
        services: AgentServices | None = request.app.state.services
        form = await request.form()
        call_sid = str(form.get("CallSid", ""))
        settings = request.app.state.settings
        response = VoiceResponse()
        if services is None:
            response.say("Sorry, the returns line is starting up. Please call again in a minute.")
            response.hangup()
            return Response(str(response), media_type="application/xml")
        connect = Connect()
        stream = connect.stream(url=media_stream_url(settings.public_url, request))
        stream.parameter(name="callSid", value=call_sid)
        caller = form.get("From")
        if caller:
            stream.parameter(name="caller", value=str(caller))
        response.append(connect)
        return Response(str(response), media_type="application/xml")

    @router.websocket("/media")
    async def media_stream(websocket: WebSocket) -> None:
        await websocket.accept()
        services: AgentServices | None = websocket.app.state.services
        if services is None:
            await websocket.close(code=1013, reason="models are loading")
            return
        try:
            start = await asyncio.wait_for(_read_start(websocket), START_TIMEOUT_S)
        except (TimeoutError, WebSocketDisconnect, tp.ProtocolError) as exc:
            logger.warning(f"Twilio media stream closed before start: {exc!r}")
            await _close(websocket, 1008, "expected a start event")
            return
        if start.encoding != "audio/x-mulaw" or start.sample_rate != 8000:
            await _close(websocket, 1003, "only 8 kHz mu-law is supported")
            return
        serializer = TwilioCallSerializer(start.stream_sid, start.call_sid)
        transport = FastAPIWebsocketTransport(
            websocket=websocket,
            params=FastAPIWebsocketParams(
                audio_in_enabled=True,
                audio_out_enabled=True,
                add_wav_header=False,
                serializer=serializer,
                audio_out_end_silence_secs=1,
            ),
        )
        call = CallInfo(
            call_sid=start.call_sid,
            channel="twilio",
            caller=start.custom_parameters.get("caller"),
        )
        control = TwilioCallControl(start.call_sid, services)
        logger.info(f"[{call.call_sid}] Twilio stream {start.stream_sid} started")
        await run_call(transport, call, control, services)
        logger.info(f"[{call.call_sid}] call ended")

    return router


async def _read_start(websocket: WebSocket) -> tp.Start:
    for _ in range(MAX_PRELUDE_MESSAGES):
        event = tp.parse_message(await websocket.receive_text())
        if isinstance(event, tp.Start):
            return event
        if isinstance(event, tp.Stop):
            raise tp.ProtocolError("stop before start")
    raise tp.ProtocolError(f"no start event in the first {MAX_PRELUDE_MESSAGES} messages")


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(RuntimeError):
        await websocket.close(code=code, reason=reason)
