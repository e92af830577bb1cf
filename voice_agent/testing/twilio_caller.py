"""A caller that speaks the Twilio Media Streams protocol to the agent, in real time.

It behaves like Twilio does: after ``connected`` and ``start`` it streams 20 ms mu-law frames
without pause (silence when the caller is quiet, or the line's noise if it has ``line_noise``),
and it collects the agent's ``media``, ``mark``
and ``clear`` messages with arrival times, so tests and benchmarks can measure what a caller hears.
With an :class:`Echo` it also sends back what its speaker plays, late and quieter, the way a
speakerphone or a line's hybrid returns the agent's voice into the caller's audio.
"""

from __future__ import annotations

import asyncio
import audioop
import base64
import contextlib
import json
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import httpx
import numpy as np
import websockets

from voice_agent.audio import ulaw_decode, ulaw_encode
from voice_agent.telephony.twilio_security import sign
from voice_agent.testing.playout import voiced

FRAME_BYTES = 160  # 20 ms of 8 kHz mu-law
FRAME_S = 0.02
ULAW_SILENCE = b"\xff" * FRAME_BYTES


@dataclass(frozen=True)
class Echo:
    """The agent's audio coming back in the caller's: ``delay_s`` after the caller's speaker
    played it, ``return_loss_db`` quieter (a handset returns 30 dB or more below the agent's
    level, a speakerphone without echo control 10 dB or less).
    """

    delay_s: float = 0.2
    return_loss_db: float = 15.0
    #: A cheap speakerphone: its loudspeaker driven this far past full scale saturates
    #: (tanh), so the echo is no longer a copy of what was played. 0: a linear echo.
    overdrive_db: float = 0.0

    def through_speaker(self, pcm: bytes) -> bytes:
        """16-bit audio as the caller's loudspeaker plays it back into their microphone."""
        if not self.overdrive_db:
            return pcm
        drive = 10 ** (self.overdrive_db / 20)
        played = np.frombuffer(pcm, dtype=np.int16) / 32768
        return (np.tanh(played * drive) / drive * 32767).astype(np.int16).tobytes()

    @property
    def frames(self) -> int:
        return max(1, round(self.delay_s / FRAME_S))

    @property
    def gain(self) -> float:
        return float(10 ** (-self.return_loss_db / 20))


@dataclass
class Received:
    at: float
    event: str
    payload: bytes = b""
    name: str | None = None


class NotConnected(RuntimeError):
    """The webhook's TwiML connects no media stream (the lines are busy, or the agent is not
    ready); the TwiML is the message.
    """


async def ring(
    base_url: str,
    call_sid: str,
    caller_number: str = "+15550100999",
    auth_token: str | None = None,
    signed_base_url: str | None = None,
) -> ElementTree.Element:
    """POST the voice webhook as Twilio does when a call comes in (signed when an auth token is
    given); the TwiML it answers.
    """
    form = {
        "CallSid": call_sid,
        "AccountSid": "AC" + "0" * 32,
        "From": caller_number,
        "To": "+15550100000",
        "CallStatus": "ringing",
        "Direction": "inbound",
    }
    headers = {}
    if auth_token:
        url = (signed_base_url or base_url).rstrip("/") + "/twilio/voice"
        headers["X-Twilio-Signature"] = sign(auth_token, url, form)
    async with httpx.AsyncClient(base_url=base_url) as http:
        response = await http.post("/twilio/voice", data=form, headers=headers)
    response.raise_for_status()
    return ElementTree.fromstring(response.text)


async def place_call(
    base_url: str,
    *,
    call_sid: str | None = None,
    caller_number: str = "+15550100999",
    auth_token: str | None = None,
    signed_base_url: str | None = None,
) -> TwilioCaller:
    """Do what Twilio does when a call comes in: :func:`ring` the voice webhook and return a
    caller for the ``<Stream>`` its TwiML names, carrying the stream's ``<Parameter>``s.
    Connect with ``async with``.
    """
    call_sid = call_sid or "CA" + uuid.uuid4().hex
    twiml = await ring(base_url, call_sid, caller_number, auth_token, signed_base_url)
    stream = twiml.find("./Connect/Stream")
    if stream is None:
        raise NotConnected(ElementTree.tostring(twiml, encoding="unicode"))
    params = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
    ws_url = base_url.replace("http", "ws", 1).rstrip("/") + urlsplit(stream.get("url", "")).path
    return TwilioCaller(ws_url, call_sid=call_sid, custom_parameters=params)


@dataclass
class TwilioCaller:
    url: str
    call_sid: str = field(default_factory=lambda: "CA" + uuid.uuid4().hex)
    stream_sid: str = field(default_factory=lambda: "MZ" + uuid.uuid4().hex)
    account_sid: str = "AC" + "0" * 32
    custom_parameters: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    bad_messages: list[str] = field(default_factory=list)
    started_at: float = 0.0
    last_voice_sent_at: float | None = None
    closed_by_server: bool = False
    #: 16-bit PCM at 8 kHz, looped under everything the caller sends (a noisy line).
    line_noise: bytes = b""
    echo: Echo | None = None

    async def __aenter__(self) -> TwilioCaller:
        self._ws = await websockets.connect(self.url, max_size=2**20)
        self._played_until = 0.0
        self._pending_marks: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Future[None]] = set()
        self._noise_at = 0
        self._playout = bytearray()  # mu-law the speaker has still to play (Twilio's buffer)
        self._echo_line: deque[bytes] = deque()  # 16-bit PCM played, on its way back
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._sent_all = asyncio.Event()
        self._sent_all.set()
        await self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        params = {"callSid": self.call_sid} | self.custom_parameters
        await self._send(
            {
                "event": "start",
                "sequenceNumber": "1",
                "streamSid": self.stream_sid,
                "start": {
                    "streamSid": self.stream_sid,
                    "accountSid": self.account_sid,
                    "callSid": self.call_sid,
                    "tracks": ["inbound"],
                    "customParameters": params,
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                },
            }
        )
        self.started_at = time.monotonic()
        self._reader = asyncio.create_task(self._read())
        self._writer = asyncio.create_task(self._write())
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def closed_by_agent(self, timeout_s: float = 5.0) -> bool:
        """Wait up to ``timeout_s`` for the agent to close the stream; whether it did."""
        deadline = time.monotonic() + timeout_s
        while not self.closed_by_server and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return self.closed_by_server

    async def close(self) -> None:
        for handle in self._pending_marks.values():
            handle.cancel()
        for task in (self._writer, self._reader, *self._tasks):
            task.cancel()
        await asyncio.gather(self._writer, self._reader, *self._tasks, return_exceptions=True)
        await self._ws.close()

    async def _send(self, message: dict[str, Any]) -> None:
        await self._ws.send(json.dumps(message))

    async def send_raw(self, text: str) -> None:
        """Send any text message (for malformed-input tests)."""
        await self._ws.send(text)

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                now = time.monotonic()
                try:
                    msg = json.loads(raw)
                    event = msg["event"]
                    if msg.get("streamSid") != self.stream_sid:
                        self.bad_messages.append(f"wrong streamSid: {raw!r:.200}")
                    if event == "media":
                        payload = base64.b64decode(msg["media"]["payload"], validate=True)
                        self.received.append(Received(now, "media", payload))
                        if self.echo is not None:
                            self._playout += payload
                        self._played_until = max(self._played_until, now) + len(payload) / 8000
                    elif event == "mark":
                        name = msg["mark"]["name"]
                        self.received.append(Received(now, "mark", name=name))
                        self._echo_mark_when_played(name, now)
                    elif event == "clear":
                        self.received.append(Received(now, "clear"))
                        self._played_until = now
                        self._playout.clear()
                        for name in list(self._pending_marks):
                            self._pending_marks.pop(name).cancel()
                            self._echo_mark_when_played(name, now)
                    else:
                        self.bad_messages.append(f"unknown event: {raw!r:.200}")
                except (KeyError, ValueError, TypeError) as exc:
                    self.bad_messages.append(f"{exc}: {raw!r:.200}")
        except websockets.ConnectionClosed:
            pass
        self.closed_by_server = True

    def _echo_mark_when_played(self, name: str, now: float) -> None:
        """Like Twilio: echo a mark once the audio sent before it has played (or was cleared)."""
        delay = max(0.0, self._played_until - now)
        message = {"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}}

        def echo() -> None:
            self._pending_marks.pop(name, None)
            self._tasks.add(asyncio.ensure_future(self._send_quietly(message)))

        self._pending_marks[name] = asyncio.get_running_loop().call_later(delay, echo)

    async def _send_quietly(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            await self._send(message)

    async def _write(self) -> None:
        """Stream one frame every 20 ms on a fixed schedule, like Twilio."""
        seq = 2
        next_at = time.monotonic()
        while True:
            try:
                frame = self._queue.get_nowait()
                voiced = True
            except asyncio.QueueEmpty:
                frame, voiced = ULAW_SILENCE, False
                self._sent_all.set()
            if self.echo is not None:
                frame = self._add_echo(frame, self.echo)
            if self.line_noise:
                frame = self._add_line_noise(frame)
            payload = base64.b64encode(frame).decode("ascii")
            ts = int((time.monotonic() - self.started_at) * 1000)
            try:
                await self._send(
                    {
                        "event": "media",
                        "sequenceNumber": str(seq),
                        "streamSid": self.stream_sid,
                        "media": {"track": "inbound", "timestamp": str(ts), "payload": payload},
                    }
                )
            except websockets.ConnectionClosed:
                self._sent_all.set()  # the agent hung up: nothing more will be sent
                return
            if voiced:
                self.last_voice_sent_at = time.monotonic()
            seq += 1
            next_at += FRAME_S
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    def _add_echo(self, frame: bytes, echo: Echo) -> bytes:
        """Play the next 20 ms of the agent's audio and add what was played ``echo.delay_s``
        ago, ``echo.return_loss_db`` down.
        """
        played = bytes(self._playout[:FRAME_BYTES]).ljust(FRAME_BYTES, b"\xff")
        del self._playout[:FRAME_BYTES]
        self._echo_line.append(ulaw_decode(played))
        if len(self._echo_line) <= echo.frames:
            return frame
        returned = audioop.mul(echo.through_speaker(self._echo_line.popleft()), 2, echo.gain)
        return ulaw_encode(audioop.add(ulaw_decode(frame), returned, 2))

    def _add_line_noise(self, frame: bytes) -> bytes:
        width = 2 * len(frame)
        noise = self.line_noise[self._noise_at : self._noise_at + width]
        while len(noise) < width:  # loop
            noise += self.line_noise[: width - len(noise)]
        self._noise_at = (self._noise_at + width) % len(self.line_noise)
        return ulaw_encode(audioop.add(ulaw_decode(frame), noise, 2))

    async def say(self, ulaw: bytes) -> float:
        """Queue caller speech (8 kHz mu-law) and wait until it has all been sent.

        Returns:
            The monotonic time the last voiced frame was sent.

        Raises:
            ConnectionError: the agent ended the call before any of it was sent.
        """
        if self._writer.done():
            raise ConnectionError("the agent ended the call")
        self._sent_all.clear()
        for i in range(0, len(ulaw), FRAME_BYTES):
            self._queue.put_nowait(ulaw[i : i + FRAME_BYTES].ljust(FRAME_BYTES, b"\xff"))
        await self._sent_all.wait()
        if self.last_voice_sent_at is None:
            raise ConnectionError("the agent ended the call")
        return self.last_voice_sent_at

    async def dtmf(self, digit: str) -> None:
        await self._send({"event": "dtmf", "streamSid": self.stream_sid, "dtmf": {"digit": digit}})

    async def stop(self) -> None:
        """Send ``stop`` (the caller hung up); a no-op once the agent has closed the stream."""
        message = {
            "event": "stop",
            "streamSid": self.stream_sid,
            "stop": {"accountSid": self.account_sid, "callSid": self.call_sid},
        }
        try:
            await self._send(message)
        except websockets.ConnectionClosed:
            self.closed_by_server = True

    def media_since(self, t: float) -> list[Received]:
        return [r for r in self.received if r.event == "media" and r.at >= t]

    async def first_media_at(self, timeout_s: float = 15.0) -> float:
        """When the agent's first audio came (waiting for it up to ``timeout_s``).

        Raises:
            TimeoutError: none came.
        """
        deadline = time.monotonic() + timeout_s
        while not (media := self.media_since(self.started_at)):
            if time.monotonic() > deadline:
                raise TimeoutError("no greeting")
            await asyncio.sleep(0.005)
        return media[0].at

    async def wait_for_prompt(
        self, since: float, quiet_s: float = 0.9, timeout_s: float = 30.0
    ) -> tuple[float, bytes]:
        """Wait until the agent has spoken after ``since`` and then been quiet for ``quiet_s``.

        Returns:
            The arrival time of the prompt's first media event, and the prompt's mu-law audio.

        Raises:
            ConnectionError: the agent closed the stream with no new prompt.
            TimeoutError: no complete prompt within ``timeout_s``.
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            media = self.media_since(since)
            spoken = [m for m in media if voiced(m.payload)]
            if spoken and time.monotonic() - spoken[-1].at >= quiet_s:
                audio = b"".join(m.payload for m in media if m.at <= spoken[-1].at)
                return spoken[0].at, audio
            if self.closed_by_server and not spoken:
                raise ConnectionError("the agent ended the call")
            await asyncio.sleep(0.05)
        raise TimeoutError(f"no complete agent prompt after {timeout_s}s")
