"""SDP offer/answer for one audio stream: G.711 (PCMU, PCMA) at ptime 20 plus RFC 4733 DTMF."""

from __future__ import annotations

from dataclasses import dataclass, field

STATIC = {0: "PCMU", 8: "PCMA"}
SUPPORTED = ("PCMU", "PCMA")


class SdpError(ValueError):
    """The offer cannot be answered (malformed, no audio, or no common codec)."""


@dataclass
class Offer:
    address: str
    port: int
    payload_types: list[int]
    rtpmap: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MediaChoice:
    """What both sides will use: the remote RTP address, codec and DTMF payload types."""

    remote: tuple[str, int]
    codec: str
    payload_type: int
    dtmf_payload_type: int | None


def parse_offer(body: str) -> Offer:
    session_addr: str | None = None
    media_addr: str | None = None
    port: int | None = None
    pts: list[int] = []
    rtpmap: dict[int, str] = {}
    in_audio = False
    for raw in body.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        kind, value = line[0], line[2:]
        if kind == "m":
            parts = value.split()
            in_audio = bool(parts) and parts[0] == "audio" and port is None
            if in_audio:
                if len(parts) < 4 or not parts[1].split("/")[0].isdigit():
                    raise SdpError(f"bad m= line: {value}")
                port = int(parts[1].split("/")[0])
                pts = [int(p) for p in parts[3:] if p.isdigit()]
        elif kind == "c":
            parts = value.split()
            if len(parts) == 3:
                address = parts[2].split("/")[0]
                if port is None:
                    session_addr = address
                elif in_audio:
                    media_addr = address
        elif kind == "a" and in_audio and value.startswith("rtpmap:"):
            pt, _, encoding = value[7:].partition(" ")
            if pt.isdigit():
                rtpmap[int(pt)] = encoding.strip()
    found = media_addr or session_addr
    if port is None or found is None:
        raise SdpError("no audio stream with an address")
    return Offer(found, port, pts, rtpmap)


def negotiate(offer: Offer) -> MediaChoice:
    """Pick the offerer's first G.711 codec and its telephone-event type."""
    codec: tuple[str, int] | None = None
    dtmf: int | None = None
    for pt in offer.payload_types:
        encoding = offer.rtpmap.get(pt) or (STATIC.get(pt, "") + "/8000")
        name, _, rate = encoding.partition("/")
        rate = rate.split("/")[0]
        if name.upper() in SUPPORTED and rate == "8000" and codec is None:
            codec = (name.upper(), pt)
        elif name.lower() == "telephone-event" and rate == "8000" and dtmf is None:
            dtmf = pt
    if codec is None:
        raise SdpError("no PCMU or PCMA in the offer")
    if offer.port == 0:
        raise SdpError("audio stream rejected by the offerer")
    return MediaChoice((offer.address, offer.port), codec[0], codec[1], dtmf)


def answer(choice: MediaChoice, address: str, port: int, session_id: int) -> str:
    """The SDP answer for ``choice`` with our RTP ``address:port``."""
    fmts = f"{choice.payload_type}"
    lines = [
        "v=0",
        f"o=voice-agent {session_id} {session_id} IN IP4 {address}",
        "s=voice-agent",
        f"c=IN IP4 {address}",
        "t=0 0",
    ]
    extra = []
    if choice.dtmf_payload_type is not None:
        fmts += f" {choice.dtmf_payload_type}"
        extra = [
            f"a=rtpmap:{choice.dtmf_payload_type} telephone-event/8000",
            f"a=fmtp:{choice.dtmf_payload_type} 0-15",
        ]
    lines.append(f"m=audio {port} RTP/AVP {fmts}")
    lines.append(f"a=rtpmap:{choice.payload_type} {choice.codec}/8000")
    lines += extra + ["a=ptime:20", "a=sendrecv"]
    return "\r\n".join(lines) + "\r\n"
