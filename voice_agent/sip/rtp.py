"""RTP packets (RFC 3550), G.711 payloads and RFC 4733 telephone-events, pure and synchronous."""

from __future__ import annotations

import secrets
import struct
from dataclasses import dataclass

from voice_agent.audio import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from voice_agent.sip.media import FRAME_SAMPLES

DTMF_KEYS = "0123456789*#ABCD"


@dataclass(frozen=True)
class RtpPacket:
    payload_type: int
    marker: bool
    seq: int
    timestamp: int
    ssrc: int
    payload: bytes


def parse_rtp(data: bytes) -> RtpPacket | None:
    """Decode an RTP packet; None for anything that is not RTP version 2 (or is truncated)."""
    if len(data) < 12 or data[0] >> 6 != 2:
        return None
    first, second, seq, timestamp, ssrc = struct.unpack("!BBHII", data[:12])
    offset = 12 + 4 * (first & 0x0F)
    if first & 0x10:  # header extension
        if len(data) < offset + 4:
            return None
        (words,) = struct.unpack("!H", data[offset + 2 : offset + 4])
        offset += 4 + 4 * words
    end = len(data)
    if first & 0x20:  # padding
        end -= data[-1]
    if offset > end:
        return None
    return RtpPacket(second & 0x7F, bool(second & 0x80), seq, timestamp, ssrc, data[offset:end])


def build_rtp(packet: RtpPacket) -> bytes:
    second = (0x80 if packet.marker else 0) | packet.payload_type
    header = struct.pack(
        "!BBHII", 0x80, second, packet.seq & 0xFFFF, packet.timestamp & 0xFFFFFFFF, packet.ssrc
    )
    return header + packet.payload


def decode_g711(codec: str, payload: bytes) -> bytes:
    return ulaw_decode(payload) if codec == "PCMU" else alaw_decode(payload)


def encode_g711(codec: str, pcm: bytes) -> bytes:
    return ulaw_encode(pcm) if codec == "PCMU" else alaw_encode(pcm)


class RtpSender:
    """Numbers outgoing 20 ms packets: random SSRC/sequence/timestamp start, +1 / +160 a packet."""

    def __init__(self, payload_type: int):
        self.payload_type = payload_type
        self.ssrc = secrets.randbits(32)
        self.seq = secrets.randbits(16)
        self.timestamp = secrets.randbits(32)
        self.sent = 0

    def packet(self, payload: bytes) -> bytes:
        data = build_rtp(
            RtpPacket(
                self.payload_type, self.sent == 0, self.seq, self.timestamp, self.ssrc, payload
            )
        )
        self.seq = (self.seq + 1) & 0xFFFF
        self.timestamp = (self.timestamp + FRAME_SAMPLES) & 0xFFFFFFFF
        self.sent += 1
        return data


class DtmfReceiver:
    """Turns RFC 4733 telephone-event packets into key presses, one per event.

    An event is reported on its first packet (so a caller's key reaches the dialog at once);
    the repeats, including the three end packets, share its RTP timestamp and are ignored.
    """

    def __init__(self) -> None:
        self._last: tuple[int, int] | None = None

    def feed(self, packet: RtpPacket) -> str | None:
        if len(packet.payload) < 4:
            return None
        event = packet.payload[0]
        key = (packet.ssrc, packet.timestamp)
        if key == self._last or event >= len(DTMF_KEYS):
            return None
        self._last = key
        return DTMF_KEYS[event]


class SequenceGate:
    """Drops duplicated and late (already superseded) packets of one RTP stream.

    A new SSRC (the far end restarted its stream, e.g. after a transfer) starts over.
    """

    def __init__(self) -> None:
        self._ssrc: int | None = None
        self._highest = 0
        self.dropped = 0

    def accept(self, packet: RtpPacket) -> bool:
        if packet.ssrc != self._ssrc:
            self._ssrc, self._highest = packet.ssrc, packet.seq
            return True
        ahead = (packet.seq - self._highest) & 0xFFFF
        if ahead == 0 or ahead >= 0x8000:  # same or older sequence number
            self.dropped += 1
            return False
        self._highest = packet.seq
        return True
