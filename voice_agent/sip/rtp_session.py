"""The media half of a call: one RTP socket, the 20 ms media clock and a small jitter buffer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from loguru import logger as log

from voice_agent.sip.events import Address
from voice_agent.sip.media import FRAME_MS, SILENCE, CallLeg
from voice_agent.sip.rtp import (
    DtmfReceiver,
    RtpSender,
    SequenceGate,
    decode_g711,
    encode_g711,
    parse_rtp,
)
from voice_agent.sip.sdp import MediaChoice

RTP_PORT_SPAN = 2000
#: With no audio from the far end for this long (silence suppression, hold, packet loss), the
#: media clock feeds the pipeline silence so VAD still sees the caller stop talking.
SILENCE_FILL_AFTER_S = 0.1


class Datagrams(asyncio.DatagramProtocol):
    def __init__(self, handler: Callable[[bytes, Address], None]):
        self._handler = handler

    def datagram_received(self, data: bytes, addr: Address) -> None:  # type: ignore[override]
        try:
            self._handler(data, (addr[0], addr[1]))
        except Exception:  # one bad packet must never take the endpoint down
            log.exception("SIP/RTP datagram handling failed")


class RtpSession:
    """RTP of one call: paced G.711 out every 20 ms, G.711 and RFC 4733 DTMF in."""

    def __init__(
        self,
        leg: CallLeg,
        choice: MediaChoice,
        on_dtmf: Callable[[str], None],
        signalling_host: str,
    ):
        self.leg = leg
        self.choice = choice
        self._signalling_host = signalling_host
        self.foreign_packets = 0
        self.port = 0
        self.transport: asyncio.DatagramTransport | None = None
        self._sender = RtpSender(choice.payload_type)
        self._dtmf = DtmfReceiver()
        self._gate = SequenceGate()
        self._on_dtmf = on_dtmf
        self._task: asyncio.Task | None = None
        self._last_audio_at = float("-inf")
        self.rx_packets = 0

    async def bind(self, host: str, first_port: int, used: set[int]) -> None:
        loop = asyncio.get_running_loop()
        start = first_port + (first_port % 2)
        for port in range(start, start + RTP_PORT_SPAN, 2):
            if port in used:
                continue
            try:
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: Datagrams(self._received), local_addr=(host, port)
                )
            except OSError:
                continue
            self.transport, self.port = transport, port  # type: ignore[assignment]
            used.add(port)
            return
        raise OSError("no free RTP port")

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._pace(), name=f"rtp-{self.port}")

    async def _pace(self) -> None:
        loop = asyncio.get_running_loop()
        interval = FRAME_MS / 1000
        due = loop.time()
        while self.transport is not None:
            pcm = self.leg.playout.read_frame()
            packet = self._sender.packet(encode_g711(self.choice.codec, pcm))
            self.transport.sendto(packet, self.choice.remote)
            if loop.time() - self._last_audio_at > SILENCE_FILL_AFTER_S:
                self._deliver(SILENCE)
            due += interval
            delay = due - loop.time()
            if delay < -0.2:  # the loop stalled: start over rather than send a burst
                due, delay = loop.time(), 0
            await asyncio.sleep(max(delay, 0))

    def _received(self, data: bytes, addr: Address) -> None:
        if addr[0] not in (self.choice.remote[0], self._signalling_host):
            self.foreign_packets += 1  # not the far end: never let a stranger inject audio
            return
        packet = parse_rtp(data)
        if packet is None:
            return
        self.rx_packets += 1
        if packet.payload_type == self.choice.dtmf_payload_type:
            digit = self._dtmf.feed(packet)
            if digit:
                self._on_dtmf(digit)
        elif packet.payload_type == self.choice.payload_type and self._gate.accept(packet):
            # Audio goes to the pipeline as it arrives: no jitter buffer delay, and no silence
            # spliced into speech when our clock and the far end's drift apart.
            self.leg.frames_received += 1
            self._last_audio_at = asyncio.get_running_loop().time()
            self._deliver(decode_g711(self.choice.codec, packet.payload))

    def _deliver(self, pcm: bytes) -> None:
        deliver = self.leg.deliver
        if deliver is not None:
            deliver(pcm)

    def stats(self) -> dict[str, int]:
        return {"tx_packets": self._sender.sent, "rx_packets": self.rx_packets}

    async def close(self, used: set[int]) -> None:
        self.leg.rtp_stats = self.stats()
        transport, self.transport = self.transport, None
        if transport is not None:
            transport.close()
        used.discard(self.port)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
