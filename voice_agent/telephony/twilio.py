"""Twilio voice webhook (TwiML) and Media Streams websocket endpoints."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request, Response, WebSocket, WebSocketDisconnect
from loguru import logger
from pipecat.frames.frames import Frame, OutputTransportMessageFrame
from pipecat.transports.websocket.fastapi import (
    FastAPIWebsocketParams,
    FastAPIWebsocketTransport,
)
from twilio.twiml.voice_response import Connect, Dial, VoiceResponse

from voice_agent.capacity import CallCapacity
from voice_agent.pipeline.call import AgentServices, CallInfo, CallSession
from voice_agent.settings import Settings
from voice_agent.telephony import twilio_protocol as tp
from voice_agent.telephony.twilio_rest import TwilioRest
from voice_agent.telephony.twilio_security import (
    public_request_url,
    signature_is_valid,
    stream_token,
    stream_token_is_valid,
)
from voice_agent.telephony.twilio_serializer import TwilioCallSerializer

START_TIMEOUT_S = 10.0
MAX_PRELUDE_MESSAGES = 20
MARK_TIMEOUT_S = 5.0
SUMMARY_PARAMS = ("intent", "reason", "order_id")
LINES_BUSY = "Sorry, all our lines are busy right now. Please call again in a few minutes."
NOT_AVAILABLE = "Sorry, the returns line is not available right now. Please call again."


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


def stream_secret(settings: Settings) -> bytes:
    """The key of per-call stream tokens: the auth token when set (shared by every agent process
    behind one number), else a random key of this process (webhook and stream hit one process).
    """
    if settings.twilio_auth_token:
        return settings.twilio_auth_token.encode()
    return secrets.token_bytes(32)


def transfer_twiml(target: str, summary: dict[str, Any]) -> str:
    """``<Dial>`` the human; a SIP target gets the handoff summary as ``X-`` headers."""
    response = VoiceResponse()
    dial = Dial()
    if target.startswith("sip:"):
        slots = summary.get("slots") or {}
        values = {"intent": summary.get("intent"), "reason": summary.get("reason")} | {
            "order_id": slots.get("order_id")
        }
        headers = {f"X-VA-{k.replace('_', '-').title()}": str(v) for k, v in values.items() if v}
        dial.sip(target + ("?" + urlencode(headers) if headers else ""))
    else:
        dial.number(target)
    response.append(dial)
    return str(response)


def say_and_hang_up_twiml(text: str) -> str:
    """TwiML that says ``text`` and hangs up."""
    response = VoiceResponse()
    response.say(text)
    response.hangup()
    return str(response)


def busy_twiml(target: str | None) -> str:
    """A call beyond the agent's capacity: to ``target`` (a person), else told to call again."""
    if target:
        return transfer_twiml(target, {"reason": "all lines busy"})
    return say_and_hang_up_twiml(LINES_BUSY)


class TwilioCallControl:
    """Hang-up and transfer of one Twilio call.

    A hang-up waits until Twilio echoes a ``mark`` sent after the last audio (so the caller heard
    the goodbye), then completes the call over REST when credentials are set; otherwise closing
    the media stream ends ``<Connect>``, and with no further TwiML Twilio hangs up.
    """

    def __init__(self, call_sid: str, stream_sid: str, settings: Settings) -> None:
        self.call_sid = call_sid
        self.stream_sid = stream_sid
        self._settings = settings
        self._rest = (
            TwilioRest(
                settings.twilio_account_sid,
                settings.twilio_auth_token,
                settings.twilio_api_base_url,
            )
            if settings.twilio_account_sid and settings.twilio_auth_token
            else None
        )
        self.queue_frame: Any = None  # set once the call's pipeline exists
        self._marks: dict[str, asyncio.Event] = {}
        self._mark_seq = 0
        self.transferred_to: str | None = None

    def on_mark(self, name: str) -> None:
        event = self._marks.get(name)
        if event is not None:
            event.set()

    async def played(self, timeout: float = MARK_TIMEOUT_S) -> bool:
        """Wait until everything sent so far has been played to the caller."""
        if self.queue_frame is None:
            return False
        self._mark_seq += 1
        name = f"va-{self._mark_seq}"
        event = self._marks[name] = asyncio.Event()
        message = tp.mark_message(self.stream_sid, name)
        frame: Frame = OutputTransportMessageFrame(message=_json(message))
        await self.queue_frame(frame)
        try:
            await asyncio.wait_for(event.wait(), timeout)
            return True
        except TimeoutError:
            logger.info(f"[{self.call_sid}] no mark echo within {timeout}s")
            return False
        finally:
            self._marks.pop(name, None)

    async def transfer(self, target: str | None, summary: dict[str, Any]) -> bool:
        if not target:
            logger.warning(f"[{self.call_sid}] handoff requested but no transfer target is set")
            return False
        if self._rest is None:
            logger.warning(f"[{self.call_sid}] cannot transfer to {target}: no Twilio credentials")
            return False
        await self.played()
        ok = await self._rest.redirect(self.call_sid, transfer_twiml(target, summary))
        if ok:
            self.transferred_to = target
        return ok

    async def hang_up(self) -> None:
        await self.played()
        if self._rest is not None:
            await self._rest.hang_up(self.call_sid)

    async def aclose(self) -> None:
        if self._rest is not None:
            await self._rest.aclose()


def _json(text: str) -> dict[str, Any]:
    import json

    return dict(json.loads(text))


def twilio_router() -> APIRouter:
    router = APIRouter(prefix="/twilio", tags=["twilio"])

    @router.post("/voice")
    async def voice_webhook(request: Request) -> Response:
        settings: Settings = request.app.state.settings
        form = {k: str(v) for k, v in (await request.form()).items()}
        if settings.twilio_auth_token:
            url = public_request_url(settings.public_url, str(request.url))
            signature = request.headers.get("x-twilio-signature")
            if not signature_is_valid(settings.twilio_auth_token, url, form, signature):
                logger.warning(f"rejected webhook with a bad signature for {url}")
                return Response("invalid Twilio signature", status_code=403)
        call_sid = form.get("CallSid", "")
        if request.app.state.services is None or not call_sid:
            return Response(say_and_hang_up_twiml(NOT_AVAILABLE), media_type="application/xml")
        capacity: CallCapacity = request.app.state.capacity
        if not capacity.reserve(call_sid, time.monotonic()):
            logger.warning(f"[{call_sid}] {capacity.why_full(time.monotonic())}: not taken")
            return Response(busy_twiml(settings.transfer_target), media_type="application/xml")
        connect = Connect()
        stream = connect.stream(url=media_stream_url(settings.public_url, request))
        token = stream_token(request.app.state.stream_secret, call_sid)
        stream.parameter(name="token", value=token)
        if form.get("From"):
            stream.parameter(name="caller", value=form["From"])
        response = VoiceResponse()
        response.append(connect)
        return Response(str(response), media_type="application/xml")

    @router.websocket("/media")
    async def media_stream(websocket: WebSocket) -> None:
        await websocket.accept()
        services: AgentServices | None = websocket.app.state.services
        if services is None:
            await _close(websocket, 1013, "models are loading")
            return
        try:
            start = await asyncio.wait_for(_read_start(websocket), START_TIMEOUT_S)
        except (TimeoutError, WebSocketDisconnect, tp.ProtocolError) as exc:
            logger.warning(f"Twilio media stream closed before start: {exc!r}")
            await _close(websocket, 1008, "expected a start event")
            return
        token = start.custom_parameters.get("token")
        if not stream_token_is_valid(websocket.app.state.stream_secret, start.call_sid, token):
            logger.warning(f"[{start.call_sid}] media stream with a missing or bad token closed")
            await _close(websocket, 1008, "invalid stream token")
            return
        if start.encoding != "audio/x-mulaw" or start.sample_rate != 8000:
            await _close(websocket, 1003, "only 8 kHz mu-law is supported")
            return
        capacity: CallCapacity = websocket.app.state.capacity
        with capacity.holding(start.call_sid, time.monotonic()) as taken:
            if not taken:  # the slot its webhook reserved lapsed, and none is free
                why = capacity.why_full(time.monotonic())
                logger.warning(f"[{start.call_sid}] {why}: closed")
                await _close(websocket, 1013, "all lines busy")
                return
            await _run_twilio_call(websocket, start, services)

    return router


async def _run_twilio_call(websocket: WebSocket, start: tp.Start, services: AgentServices) -> None:
    control = TwilioCallControl(start.call_sid, start.stream_sid, services.settings)
    serializer = TwilioCallSerializer(start.stream_sid, start.call_sid, on_mark=control.on_mark)
    transport = FastAPIWebsocketTransport(
        websocket=websocket,
        params=FastAPIWebsocketParams(
            audio_in_enabled=True,
            audio_out_enabled=True,
            add_wav_header=False,
            serializer=serializer,
            audio_out_end_silence_secs=0,
        ),
    )
    call = CallInfo(
        call_sid=start.call_sid, channel="twilio", caller=start.custom_parameters.get("caller")
    )
    session = CallSession(transport, call, control, services)
    control.queue_frame = session.worker.queue_frame
    serializer.on_stop = lambda: asyncio.ensure_future(session.end_by_caller())
    logger.info(f"[{call.call_sid}] Twilio stream {start.stream_sid} started")
    try:
        await session.run()
    finally:
        await control.aclose()
    logger.info(f"[{call.call_sid}] call ended ({session.dialog.outcome})")


async def _read_start(websocket: WebSocket) -> tp.Start:
    for _ in range(MAX_PRELUDE_MESSAGES):
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        if message.get("text") is None:
            raise tp.ProtocolError("binary message; Twilio sends JSON text")
        event = tp.parse_message(message["text"])
        if isinstance(event, tp.Start):
            return event
        if isinstance(event, tp.Stop):
            raise tp.ProtocolError("stop before start")
    raise tp.ProtocolError(f"no start event in the first {MAX_PRELUDE_MESSAGES} messages")


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(RuntimeError):
        await websocket.close(code=code, reason=reason)
