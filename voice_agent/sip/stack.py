"""asyncio adapter around the sans-I/O :class:`~voice_agent.sip.core.UserAgent`.

It owns the SIP UDP socket, one RTP socket per call, the 20 ms media clock and the
retransmission ticker; everything runs in the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
from collections.abc import Callable
from typing import Protocol

from loguru import logger as log

from voice_agent.sip import events as ev
from voice_agent.sip.core import UserAgent
from voice_agent.sip.events import Address
from voice_agent.sip.media import CallLeg
from voice_agent.sip.options import SipOptions
from voice_agent.sip.register import registrar_address
from voice_agent.sip.rtp_session import Datagrams, RtpSession
from voice_agent.sip.sdp import SdpError, answer, negotiate, parse_offer

Headers = list[tuple[str, str]]
#: Decides on an INVITE from (raw message, "host:port"): None accepts it, otherwise the status
#: code and extra headers of the rejection.
Screen = Callable[[str, str], tuple[int, Headers] | None]

TICK_S = 0.05


class StackListener(Protocol):
    def on_incoming(self, leg: CallLeg) -> None: ...
    def on_media_ready(self, leg: CallLeg) -> None: ...
    def on_dtmf(self, leg: CallLeg, digit: str) -> None: ...
    def on_transfer_status(self, leg: CallLeg, code: int, reason: str, final: bool) -> None: ...
    def on_disconnected(self, leg: CallLeg, code: int, reason: str) -> None: ...
    def on_registration(self, code: int, reason: str, expires: int) -> None: ...


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
        self._media: dict[str, RtpSession] = {}
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
            lambda: Datagrams(self._on_sip), local_addr=(o.host, o.port)
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
        media = self._media[event.key] = RtpSession(
            leg, choice, lambda digit: self._listener.on_dtmf(leg, digit), host
        )
        self._spawn(self._prepare(leg, media))

    async def _prepare(self, leg: CallLeg, media: RtpSession) -> None:
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
