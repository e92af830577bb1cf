"""A caller that speaks the Twilio Media Streams protocol to the agent, in real time.

It behaves like Twilio does: after ``connected`` and ``start`` it streams 20 ms mu-law frames
without pause (silence when the caller is quiet), and it collects the agent's ``media``, ``mark``
and ``clear`` messages with arrival times, so tests and benchmarks can measure what a caller hears.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import websockets

FRAME_BYTES = 160  # 20 ms of 8 kHz mu-law
FRAME_S = 0.02
ULAW_SILENCE = b"\xff" * FRAME_BYTES


@dataclass
class Received:
    at: float
    event: str
    payload: bytes = b""
    name: str | None = None


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

    async def __aenter__(self) -> TwilioCaller:
        self._ws = await websockets.connect(self.url, max_size=2**20)
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

    async def close(self) -> None:
        for task in (self._writer, self._reader):
            task.cancel()
        await asyncio.gather(self._writer, self._reader, return_exceptions=True)
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
                    elif event == "mark":
                        self.received.append(Received(now, "mark", name=msg["mark"]["name"]))
                    elif event == "clear":
                        self.received.append(Received(now, "clear"))
                    else:
                        self.bad_messages.append(f"unknown event: {raw!r:.200}")
                except (KeyError, ValueError, TypeError) as exc:
                    self.bad_messages.append(f"{exc}: {raw!r:.200}")
        except websockets.ConnectionClosed:
            pass
        self.closed_by_server = True

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
                return
            if voiced:
                self.last_voice_sent_at = time.monotonic()
            seq += 1
            next_at += FRAME_S
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def say(self, ulaw: bytes) -> float:
        """Queue caller speech (8 kHz mu-law) and wait until it has all been sent.

        Returns:
            The monotonic time the last voiced frame was sent.
        """
        self._sent_all.clear()
        for i in range(0, len(ulaw), FRAME_BYTES):
            self._queue.put_nowait(ulaw[i : i + FRAME_BYTES].ljust(FRAME_BYTES, b"\xff"))
        await self._sent_all.wait()
        assert self.last_voice_sent_at is not None
        return self.last_voice_sent_at

    async def dtmf(self, digit: str) -> None:
        await self._send({"event": "dtmf", "streamSid": self.stream_sid, "dtmf": {"digit": digit}})

    async def stop(self) -> None:
        await self._send(
            {
                "event": "stop",
                "streamSid": self.stream_sid,
                "stop": {"accountSid": self.account_sid, "callSid": self.call_sid},
            }
        )

    def media_since(self, t: float) -> list[Received]:
        return [r for r in self.received if r.event == "media" and r.at >= t]

    async def wait_for_prompt(
        self, since: float, quiet_s: float = 0.9, timeout_s: float = 30.0
    ) -> tuple[float, bytes]:
        """Wait until the agent has spoken after ``since`` and then been quiet for ``quiet_s``.

        Returns:
            The arrival time of the prompt's first media event, and the prompt's mu-law audio.
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            media = self.media_since(since)
            voiced = [m for m in media if m.payload.strip(b"\xff\x7f")]
            if voiced and time.monotonic() - voiced[-1].at >= quiet_s:
                audio = b"".join(m.payload for m in media if m.at <= voiced[-1].at)
                return voiced[0].at, audio
            if self.closed_by_server and not voiced:
                break
            await asyncio.sleep(0.05)
        raise TimeoutError(f"no complete agent prompt after {timeout_s}s")
