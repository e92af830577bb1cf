"""asyncio adapter around the sans-I/O :class:`~voice_agent.sip.core.UserAgent`.

It owns the SIP UDP socket, one RTP socket per call, the 20 ms media clock and the
retransmission ticker; everything runs in the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from loguru import logger as log

from voice_agent.sip import events as ev
from voice_agent.sip.core import UserAgent
from voice_agent.sip.events import Address
from voice_agent.sip.media import FRAME_BYTES, FRAME_MS, SILENCE, PlayoutBuffer
from voice_agent.sip.options import SipOptions
from voice_agent.sip.register import registrar_address
from voice_agent.sip.rtp import (
    DtmfReceiver,
    RtpSender,
    SequenceGate,
    decode_g711,
    encode_g711,
    parse_rtp,
)
from voice_agent.sip.sdp import MediaChoice, SdpError, answer, negotiate, parse_offer

Headers = list[tuple[str, str]]
#: Decides on an INVITE from (raw message, "host:port"): None accepts it, otherwise the status
#: code and extra headers of the rejection.
Screen = Callable[[str, str], tuple[int, Headers] | None]

TICK_S = 0.05
RTP_PORT_SPAN = 2000
#: Receive jitter buffer: start delivering after this many frames, never hold more than the cap.
JITTER_PRIME_FRAMES = 2
JITTER_MAX_FRAMES = 10


@dataclass
class CallLeg:
    """One SIP call as the server and the transport see it."""

    key: str
    sip_call_id: str
    remote_uri: str
    source: str
    playout: PlayoutBuffer = field(default_factory=PlayoutBuffer)
    #: Set by the transport; gets each received frame of 8 kHz PCM16 (event loop thread).
    deliver: Callable[[bytes], None] | None = None
    frames_received: int = 0
    rtp_stats: dict[str, int] = field(default_factory=dict)
    media_ready: bool = False
    disconnected: bool = False
    #: ``time.monotonic()`` when the INVITE was accepted for processing.
    invited_at: float = field(default_factory=time.monotonic)


class StackListener(Protocol):
    def on_incoming(self, leg: CallLeg) -> None: ...
    def on_media_ready(self, leg: CallLeg) -> None: ...
    def on_dtmf(self, leg: CallLeg, digit: str) -> None: ...
    def on_transfer_status(self, leg: CallLeg, code: int, reason: str, final: bool) -> None: ...
    def on_disconnected(self, leg: CallLeg, code: int, reason: str) -> None: ...
    def on_registration(self, code: int, reason: str, expires: int) -> None: ...


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, handler: Callable[[bytes, Address], None]):
        self._handler = handler

    def datagram_received(self, data: bytes, addr: Address) -> None:  # type: ignore[override]
        try:
            self._handler(data, (addr[0], addr[1]))
        except Exception:  # one bad packet must never take the endpoint down
            log.exception("SIP/RTP datagram handling failed")


class _Media:
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
        self._rx = bytearray()
        self._primed = False
        self.rx_packets = 0

    async def bind(self, host: str, first_port: int, used: set[int]) -> None:
        loop = asyncio.get_running_loop()
        start = first_port + (first_port % 2)
        for port in range(start, start + RTP_PORT_SPAN, 2):
            if port in used:
                continue
            try:
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _Datagrams(self._received), local_addr=(host, port)
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
            self._deliver_frame()
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
            self.leg.frames_received += 1
            self._rx += decode_g711(self.choice.codec, packet.payload)
            excess = len(self._rx) - JITTER_MAX_FRAMES * FRAME_BYTES
            if excess > 0:  # the far end runs fast or sent a burst: keep latency bounded
                del self._rx[:excess]

    def _deliver_frame(self) -> None:
        """Hand the pipeline one 20 ms frame per media tick (silence while none is buffered).

        The pipeline then sees continuous audio even when the far end suppresses silence or its
        packets jitter.
        """
        if not self._primed and len(self._rx) >= JITTER_PRIME_FRAMES * FRAME_BYTES:
            self._primed = True
        if self._primed and len(self._rx) >= FRAME_BYTES:
            frame = bytes(self._rx[:FRAME_BYTES])
            del self._rx[:FRAME_BYTES]
        else:
            self._primed = False
            frame = SILENCE
        deliver = self.leg.deliver
        if deliver is not None:
            deliver(frame)

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


class SipStack:
    """Runs the SIP endpoint on ``options.host:options.port`` (UDP) in the running event loop."""

    def __init__(
        self,
        options: SipOptions,
        listener: StackListener,
        screen: Screen,
        permit: Callable[[str], bool] | None = None,
    ):
        self.options = options
        self._listener = listener
        self._screen = screen
        self._permit = permit
        self._ua: UserAgent | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._ticker: asyncio.Task | None = None
        self._legs: dict[str, CallLeg] = {}
        self._media: dict[str, _Media] = {}
        self._rtp_ports: set[int] = set()
        self._tasks: set[asyncio.Task] = set()

    @property
    def ua(self) -> UserAgent:
        assert self._ua is not None, "SIP stack not started"
        return self._ua

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        o = self.options
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Datagrams(self._on_sip), local_addr=(o.host, o.port)
        )
        self._transport = transport  # type: ignore[assignment]
        bound = transport.get_extra_info("sockname")
        self._ua = UserAgent((advertised_host(o), bound[1]))
        self._ticker = asyncio.create_task(self._tick(), name="sip-ticker")
        if o.register_uri:
            host, port = registrar_address(o.register_uri)
            infos = await loop.getaddrinfo(
                host, port, family=socket.AF_INET, type=socket.SOCK_DGRAM
            )
            addr = (str(infos[0][4][0]), int(infos[0][4][1]))
            self._apply(
                self.ua.register(
                    o.register_uri,
                    addr,
                    o.register_user or "voice-agent",
                    o.register_password or "",
                    o.register_expires,
                    loop.time(),
                )
            )

    async def stop(self) -> None:
        if self._ua is None:
            return
        loop = asyncio.get_running_loop()
        for leg in list(self._legs.values()):
            self.hangup(leg)
        if self.options.register_uri:
            self._apply(self.ua.unregister(loop.time()))
        deadline = loop.time() + 2.0
        while self.ua.pending_requests and loop.time() < deadline:
            await asyncio.sleep(TICK_S)  # let BYE/un-REGISTER get their answers
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for media in list(self._media.values()):
            await media.close(self._rtp_ports)
        self._media.clear()
        if self._transport is not None:
            self._transport.close()
        self._ua = None

    # ----- commands from the server -----

    def answer(self, leg: CallLeg, code: int = 200, headers: Headers | None = None) -> bool:
        media = self._media.get(leg.key)
        if leg.disconnected or self._ua is None:
            return False
        now = asyncio.get_running_loop().time()
        if code != 200 or media is None:
            out = self.ua.reject(leg.key, code, now, headers or [])
            self._apply(out)
            return bool(out)
        host = self.ua.local[0]
        sdp = answer(media.choice, host, media.port, secrets.randbits(31))
        out = self.ua.answer(leg.key, sdp, now)
        if not out:
            return False
        self._apply(out)
        media.start()
        leg.media_ready = True
        self._listener.on_media_ready(leg)
        return True

    def hangup(self, leg: CallLeg) -> bool:
        if leg.disconnected or self._ua is None:
            return False
        self._apply(self.ua.hang_up(leg.key, asyncio.get_running_loop().time()))
        return True

    def refer(self, leg: CallLeg, refer_to: str, headers: Headers) -> bool:
        if leg.disconnected or self._ua is None:
            return False
        out = self.ua.refer(leg.key, refer_to, headers, asyncio.get_running_loop().time())
        self._apply(out)
        return bool(out)

    # ----- events -----

    def _on_sip(self, data: bytes, addr: Address) -> None:
        if (
            self._permit is not None
            and not self._permit(addr[0])
            and not data.startswith((b"SIP/2.0 ", b"INVITE "))
        ):
            return  # requests from outside the allow-list get no answer (INVITEs get 403)
        if self._ua is not None:
            self._apply(self._ua.receive(data, addr, asyncio.get_running_loop().time()))

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(TICK_S)
            self._apply(self.ua.tick(loop.time()))

    def _apply(self, outputs: list[ev.Output]) -> None:
        for out in outputs:
            if isinstance(out, ev.Send):
                if self._transport is not None:
                    self._transport.sendto(out.data, out.addr)
            elif isinstance(out, ev.IncomingCall):
                self._incoming(out)
            elif isinstance(out, ev.CallEnded):
                self._ended(out.key, out.code, out.reason)
            elif isinstance(out, ev.TransferStatus):
                leg = self._legs.get(out.key)
                if leg is not None:
                    self._listener.on_transfer_status(leg, out.code, "", out.final)
            elif isinstance(out, ev.Registration):
                self._listener.on_registration(out.code, out.reason, out.expires)
            elif isinstance(out, ev.Dtmf):
                leg = self._legs.get(out.key)
                if leg is not None:
                    self._listener.on_dtmf(leg, out.digit)
            elif isinstance(out, ev.MediaUpdate):
                self._media_update(out.key, out.sdp)

    def _incoming(self, event: ev.IncomingCall) -> None:
        req, (host, port) = event.request, event.source
        now = asyncio.get_running_loop().time()
        if len(self._legs) >= self.options.max_calls:
            self._apply(self.ua.reject(event.key, 486, now))
            return
        verdict = self._screen(req.text(), f"{host}:{port}")
        if verdict is not None:
            log.info("SIP INVITE from {}:{} rejected with {}", host, port, verdict[0])
            self._apply(self.ua.reject(event.key, verdict[0], now, verdict[1]))
            return
        try:
            choice = negotiate(parse_offer(req.body.decode(errors="replace")))
        except SdpError as exc:
            log.info("SIP INVITE from {}:{}: {}", host, port, exc)
            self._apply(self.ua.reject(event.key, 488, now, [("Warning", f'399 - "{exc}"')]))
            return
        leg = CallLeg(event.key, req.call_id, req.get("From") or "", f"{host}:{port}")
        self._legs[event.key] = leg
        media = self._media[event.key] = _Media(
            leg, choice, lambda digit: self._listener.on_dtmf(leg, digit), host
        )
        self._spawn(self._prepare(leg, media))

    async def _prepare(self, leg: CallLeg, media: _Media) -> None:
        try:
            await media.bind(self.options.host, self.options.rtp_port, self._rtp_ports)
        except OSError:
            log.exception("call {}: no RTP port", leg.key)
            self._apply(self.ua.reject(leg.key, 500, asyncio.get_running_loop().time()))
            self._ended(leg.key, 500, "no RTP port", notify=False)
            return
        if leg.key not in self._legs:  # CANCELled while we were binding
            await media.close(self._rtp_ports)
            return
        self._apply(self.ua.ring(leg.key, asyncio.get_running_loop().time()))
        self._listener.on_incoming(leg)

    def _media_update(self, key: str, sdp: bytes) -> None:
        media = self._media.get(key)
        if media is None:
            return
        try:
            choice = negotiate(parse_offer(sdp.decode(errors="replace")))
        except SdpError as exc:
            log.info("call {}: ignoring new SDP offer: {}", key, exc)
            return
        if choice.codec == media.choice.codec:  # our answer keeps the codec we are sending
            media.choice = choice

    def _ended(self, key: str, code: int, reason: str, notify: bool = True) -> None:
        leg = self._legs.pop(key, None)
        if leg is None:
            return
        leg.disconnected = True
        media = self._media.pop(key, None)
        if media is not None:
            leg.rtp_stats = media.stats()
            self._spawn(media.close(self._rtp_ports))
        if notify:
            self._listener.on_disconnected(leg, code, reason)

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def advertised_host(options: SipOptions) -> str:
    """Pick the address put in Contact and SDP.

    That is ``public_host``, else the bound address, else (bound to a wildcard) the address of
    the interface that routes outward.
    """
    if options.public_host:
        return options.public_host
    if options.host not in ("0.0.0.0", "", "::"):
        return options.host
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only consults the routes
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"
