"""Twilio Media Streams wire protocol, sans I/O: JSON text in, typed events out, and back.

See https://www.twilio.com/docs/voice/media-streams/websocket-messages. Anything malformed raises
:class:`ProtocolError` with a reason; the websocket adapter logs it and skips the message, so one
bad message never ends a call.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

MAX_MESSAGE_BYTES = 64 * 1024  # a 20 ms media frame is ~250 bytes; anything huge is hostile
MAX_MEDIA_PAYLOAD = 16 * 1024


class ProtocolError(ValueError):
    """A message that is not valid Twilio Media Streams JSON."""


@dataclass(frozen=True)
class Connected:
    protocol: str


@dataclass(frozen=True)
class Start:
    stream_sid: str
    call_sid: str
    account_sid: str | None
    custom_parameters: dict[str, str] = field(default_factory=dict)
    encoding: str = "audio/x-mulaw"
    sample_rate: int = 8000
    channels: int = 1


@dataclass(frozen=True)
class Media:
    stream_sid: str
    payload: bytes
    timestamp_ms: int | None = None
    track: str = "inbound"


@dataclass(frozen=True)
class Mark:
    stream_sid: str
    name: str


@dataclass(frozen=True)
class Dtmf:
    stream_sid: str
    digit: str


@dataclass(frozen=True)
class Stop:
    stream_sid: str
    call_sid: str | None = None


TwilioEvent = Connected | Start | Media | Mark | Dtmf | Stop

DTMF_KEYS = frozenset("0123456789*#")


def _str(obj: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"field {key!r} must be a non-empty string")
    return value


def _obj(message: dict[str, Any], key: str) -> dict[str, Any]:
    value = message.get(key)
    if not isinstance(value, dict):
        raise ProtocolError(f"field {key!r} must be an object")
    return value


def parse_message(data: str | bytes) -> TwilioEvent | None:
    """Parse one websocket text message.

    Returns:
        The event, or None for an event type this agent does not use (logged by the caller).

    Raises:
        ProtocolError: the message is too large, not JSON, or misses required fields.
    """
    if len(data) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    try:
        message = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError("message is not a JSON object")
    event = message.get("event")
    if event == "connected":
        return Connected(protocol=str(message.get("protocol", "")))
    if event == "start":
        start = _obj(message, "start")
        fmt = start.get("mediaFormat") or {}
        params = start.get("customParameters") or {}
        if not isinstance(fmt, dict) or not isinstance(params, dict):
            raise ProtocolError("start.mediaFormat/customParameters must be objects")
        try:
            rate = int(fmt.get("sampleRate", 8000))
            channels = int(fmt.get("channels", 1))
        except (TypeError, ValueError):
            raise ProtocolError("start.mediaFormat has a non-numeric rate/channels") from None
        return Start(
            stream_sid=_str(start, "streamSid") or _str(message, "streamSid") or "",
            call_sid=_str(start, "callSid") or "",
            account_sid=_str(start, "accountSid", required=False),
            custom_parameters={str(k): str(v) for k, v in params.items()},
            encoding=str(fmt.get("encoding", "audio/x-mulaw")),
            sample_rate=rate,
            channels=channels,
        )
    if event == "media":
        media = _obj(message, "media")
        payload = media.get("payload")
        if not isinstance(payload, str):
            raise ProtocolError("media.payload must be a base64 string")
        if len(payload) > MAX_MEDIA_PAYLOAD:
            raise ProtocolError("media.payload is too large")
        try:
            audio = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise ProtocolError("media.payload is not valid base64") from None
        ts = media.get("timestamp")
        return Media(
            stream_sid=str(message.get("streamSid", "")),
            payload=audio,
            timestamp_ms=int(ts) if isinstance(ts, (int, str)) and str(ts).isdigit() else None,
            track=str(media.get("track", "inbound")),
        )
    if event == "mark":
        mark = _obj(message, "mark")
        return Mark(stream_sid=str(message.get("streamSid", "")), name=_str(mark, "name") or "")
    if event == "dtmf":
        dtmf = _obj(message, "dtmf")
        digit = _str(dtmf, "digit") or ""
        if digit not in DTMF_KEYS:
            raise ProtocolError(f"dtmf.digit {digit!r} is not a keypad key")
        return Dtmf(stream_sid=str(message.get("streamSid", "")), digit=digit)
    if event == "stop":
        stop = message.get("stop") if isinstance(message.get("stop"), dict) else {}
        return Stop(
            stream_sid=str(message.get("streamSid", "")),
            call_sid=str(stop.get("callSid")) if stop and stop.get("callSid") else None,
        )
    if not isinstance(event, str):
        raise ProtocolError("missing 'event'")
    return None


def media_message(stream_sid: str, ulaw: bytes) -> str:
    """An outbound ``media`` message carrying 8 kHz mu-law audio."""
    payload = base64.b64encode(ulaw).decode("ascii")
    return json.dumps({"event": "media", "streamSid": stream_sid, "media": {"payload": payload}})


def mark_message(stream_sid: str, name: str) -> str:
    return json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


def clear_message(stream_sid: str) -> str:
    return json.dumps({"event": "clear", "streamSid": stream_sid})
