"""PJSIP (pjsua2) adapter: one thread owns the SIP stack, asyncio talks to it through commands.

Threading model (why it is built this way):

* PJSIP runs with ``threadCnt = 0``; our own ``pjsip`` thread polls ``libHandleEvents`` and runs
  queued commands, so every SIP callback and every API call happens on that one thread.
* The media clock (null audio device) calls :class:`_AudioPort` every 20 ms on PJSIP's clock
  thread; those callbacks only touch the thread-safe :class:`~voice_agent.sip.media.PlayoutBuffer`
  and a ``deliver`` hook that hands received audio to the event loop.
* PJSIP objects (calls, ports) are created, kept and released on the ``pjsip`` thread only
  (:class:`CallLeg`, which asyncio code holds, never references them): releasing one elsewhere
  would run its C++ destructor on a thread PJSIP does not know.
* Events go to the event loop through ``call_soon_threadsafe``; commands come back through
  :meth:`PjStack.submit`, which returns an awaitable future.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

import pjsua2 as pj

from voice_agent.sip.media import FRAME_MS, RATE, PlayoutBuffer
from voice_agent.sip.options import SipOptions

log = logging.getLogger(__name__)

Headers = list[tuple[str, str]]
#: Decides on an incoming INVITE from (raw message, source address): None accepts it,
#: otherwise the status code and extra headers of the rejection.
Screen = Callable[[str, str], tuple[int, Headers] | None]

_CODEC_PRIORITY = {"PCMU/8000/1": 255, "PCMA/8000/1": 254}


@dataclass
class CallLeg:
    """State of one SIP call shared between the ``pjsip`` thread and the event loop."""

    pj_id: int
    sip_call_id: str
    remote_uri: str
    source: str
    playout: PlayoutBuffer = field(default_factory=PlayoutBuffer)
    #: Set by the transport; called on the media clock thread with each received 20 ms frame.
    deliver: Callable[[bytes], None] | None = None
    frames_received: int = 0
    rtp_stats: dict[str, int] = field(default_factory=dict)
    media_ready: bool = False
    disconnected: bool = False


class StackListener(Protocol):
    """Receives stack events on the event loop thread."""

    def on_incoming(self, leg: CallLeg) -> None: ...
    def on_media_ready(self, leg: CallLeg) -> None: ...
    def on_dtmf(self, leg: CallLeg, digit: str) -> None: ...
    def on_transfer_status(self, leg: CallLeg, code: int, reason: str, final: bool) -> None: ...
    def on_disconnected(self, leg: CallLeg, code: int, reason: str) -> None: ...
    def on_registration(self, code: int, reason: str, expires: int) -> None: ...


def _op(code: int = 0, headers: Headers | None = None) -> pj.CallOpParam:
    op = pj.CallOpParam(True)
    if code:
        op.statusCode = code
    for name, value in headers or []:
        header = pj.SipHeader()
        header.hName = name
        header.hValue = value
        op.txOption.headers.append(header)
    return op


class _AudioPort(pj.AudioMediaPort):
    """Conference-bridge port of one call: 8 kHz mono PCM16, 20 ms frames."""

    def __init__(self, leg: CallLeg):
        super().__init__()
        self._leg = leg

    def onFrameRequested(self, frame: pj.MediaFrame) -> None:  # noqa: N802 (pjsua2 API)
        try:
            pcm = self._leg.playout.read_frame()
            frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
            frame.buf = pj.ByteVector(pcm)
            frame.size = len(pcm)
        except Exception:  # an exception must never unwind into PJSIP's clock thread
            log.exception("SIP audio output failed")

    def onFrameReceived(self, frame: pj.MediaFrame) -> None:  # noqa: N802
        try:
            deliver = self._leg.deliver
            if deliver is None or frame.type != pj.PJMEDIA_FRAME_TYPE_AUDIO or not frame.size:
                return
            self._leg.frames_received += 1
            deliver(bytes(frame.buf))
        except Exception:
            log.exception("SIP audio input failed")


class _Call(pj.Call):
    def __init__(self, stack: PjStack, account: pj.Account, call_id: int, leg: CallLeg):
        super().__init__(account, call_id)
        self.stack = stack
        self.leg = leg
        self.port: _AudioPort | None = None

    def onCallState(self, prm: Any) -> None:  # noqa: N802
        try:
            info = self.getInfo()
            if info.state == pj.PJSIP_INV_STATE_DISCONNECTED and not self.leg.disconnected:
                self.leg.disconnected = True
                self.stack.emit("on_disconnected", self.leg, info.lastStatusCode, info.lastReason)
                self.stack.release_later(self.leg.pj_id)
        except Exception:
            log.exception("SIP call state handler failed")

    def onCallMediaState(self, prm: Any) -> None:  # noqa: N802
        try:
            info = self.getInfo()
            for index, media in enumerate(info.media):
                if (
                    media.type != pj.PJMEDIA_TYPE_AUDIO
                    or media.status != pj.PJSUA_CALL_MEDIA_ACTIVE
                ):
                    continue
                audio = self.getAudioMedia(index)
                if self.port is None:
                    fmt = pj.MediaFormatAudio()
                    fmt.type = pj.PJMEDIA_TYPE_AUDIO
                    fmt.clockRate = RATE
                    fmt.channelCount = 1
                    fmt.bitsPerSample = 16
                    fmt.frameTimeUsec = FRAME_MS * 1000
                    self.port = _AudioPort(self.leg)
                    self.port.createPort(f"call{self.leg.pj_id}", fmt)
                audio.startTransmit(self.port)
                self.port.startTransmit(audio)
                if not self.leg.media_ready:
                    self.leg.media_ready = True
                    self.stack.emit("on_media_ready", self.leg)
        except Exception:
            log.exception("SIP media state handler failed")

    def onStreamDestroyed(self, prm: Any) -> None:  # noqa: N802
        try:
            stat = self.getStreamStat(prm.streamIdx).rtcp
            self.leg.rtp_stats = {
                "tx_packets": stat.txStat.pkt,
                "rx_packets": stat.rxStat.pkt,
                "rx_lost": stat.rxStat.loss,
            }
        except Exception:
            log.debug("no stream stats for call %s", self.leg.pj_id, exc_info=True)

    def onDtmfDigit(self, prm: Any) -> None:  # noqa: N802
        self.stack.emit("on_dtmf", self.leg, str(prm.digit))

    def onCallTransferStatus(self, prm: Any) -> None:  # noqa: N802
        self.stack.emit(
            "on_transfer_status", self.leg, int(prm.statusCode), str(prm.reason), prm.finalNotify
        )

    def onCallTransferRequest(self, prm: Any) -> None:  # noqa: N802
        # A caller must never make the agent dial out (toll fraud): decline incoming REFERs.
        prm.statusCode = 603

    def onCallReplaceRequest(self, prm: Any) -> None:  # noqa: N802
        prm.statusCode = 603


class _Account(pj.Account):
    def __init__(self, stack: PjStack):
        super().__init__()
        self.stack = stack

    def onIncomingCall(self, prm: Any) -> None:  # noqa: N802
        self.stack.incoming(self, prm)

    def onRegState(self, prm: Any) -> None:  # noqa: N802
        self.stack.emit("on_registration", int(prm.code), str(prm.reason), int(prm.expiration))


class PjStack:
    """Owns the process-wide pjsua2 endpoint and the thread that drives it.

    Only one can run per process (PJSIP's endpoint is a singleton).
    """

    def __init__(self, options: SipOptions, listener: StackListener, screen: Screen):
        self.options = options
        self._listener = listener
        self._screen = screen
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._commands: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = (
            queue.SimpleQueue()
        )
        self._stopping = threading.Event()
        self._calls: dict[int, _Call] = {}
        self._releases: list[int] = []
        self._ep: pj.Endpoint | None = None
        self._account: _Account | None = None

    # ----- event loop side -----

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        ready: Future[None] = Future()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="pjsip", daemon=True)
        self._thread.start()
        await asyncio.wrap_future(ready)

    async def stop(self) -> None:
        if self._thread is None:
            return
        self._stopping.set()
        await asyncio.to_thread(self._thread.join, 10)
        self._thread = None

    def submit(self, fn: Callable[[], Any]) -> asyncio.Future[Any]:
        """Run ``fn`` on the ``pjsip`` thread; the result (or exception) comes back awaitable."""
        future: Future[Any] = Future()
        if self._thread is None or self._stopping.is_set():
            future.set_exception(RuntimeError("SIP stack is not running"))
        else:
            self._commands.put((fn, future))
        return asyncio.wrap_future(future)

    def answer(self, leg: CallLeg, code: int, headers: Headers | None = None) -> asyncio.Future:
        return self.submit(lambda: self._with_call(leg, lambda c: c.answer(_op(code, headers))))

    def hangup(self, leg: CallLeg, code: int = 200) -> asyncio.Future:
        return self.submit(lambda: self._with_call(leg, lambda c: c.hangup(_op(code))))

    def refer(self, leg: CallLeg, refer_to: str, headers: Headers) -> asyncio.Future:
        return self.submit(
            lambda: self._with_call(leg, lambda c: c.xfer(refer_to, _op(0, headers)))
        )

    # ----- pjsip thread side -----

    def emit(self, name: str, *args: Any) -> None:
        """Deliver a listener event on the event loop (called on the ``pjsip`` thread)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._dispatch, name, args)

    def _dispatch(self, name: str, args: tuple[Any, ...]) -> None:
        try:
            getattr(self._listener, name)(*args)
        except Exception:
            log.exception("SIP listener %s failed", name)

    def release_later(self, pj_id: int) -> None:
        # Not inside the call's own callback: PJSIP still uses the object until it returns.
        self._releases.append(pj_id)

    def _with_call(self, leg: CallLeg, action: Callable[[_Call], Any]) -> bool:
        call = self._calls.get(leg.pj_id)
        if call is None or call.leg is not leg or leg.disconnected:
            return False
        action(call)
        return True

    def incoming(self, account: _Account, prm: Any) -> None:
        rdata = prm.rdata
        message, source = str(rdata.wholeMsg), str(rdata.srcAddress)
        leg = CallLeg(pj_id=prm.callId, sip_call_id="", remote_uri="", source=source)
        call = _Call(self, account, prm.callId, leg)
        self._calls[prm.callId] = call
        try:
            info = call.getInfo()
            leg.sip_call_id, leg.remote_uri = info.callIdString, info.remoteUri
            live = sum(1 for c in self._calls.values() if not c.leg.disconnected) - 1
            if live >= self.options.max_calls:
                verdict: tuple[int, Headers] | None = (486, [])
            else:
                verdict = self._screen(message, source)
            if verdict is not None:
                code, headers = verdict
                log.info("SIP INVITE from %s rejected with %s", source, code)
                call.answer(_op(code, headers))
                return
            call.answer(_op(180))
            self.emit("on_incoming", leg)
        except Exception:
            log.exception("SIP incoming call from %s failed", source)
            with contextlib.suppress(Exception):
                call.hangup(_op(500))

    def _run(self, ready: Future[None]) -> None:
        try:
            self._init()
        except Exception as exc:
            self._destroy()
            ready.set_exception(exc)
            return
        ready.set_result(None)
        assert self._ep is not None
        while not self._stopping.is_set():
            self._ep.libHandleEvents(10)
            self._run_commands()
            self._release()
        self._destroy()

    def _run_commands(self) -> None:
        while True:
            try:
                fn, future = self._commands.get_nowait()
            except queue.Empty:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

    def _release(self) -> None:
        while self._releases:
            pj_id = self._releases.pop()
            call = self._calls.get(pj_id)
            if call is not None and call.leg.disconnected:
                del self._calls[pj_id]

    def _init(self) -> None:
        o = self.options
        ep = self._ep = pj.Endpoint()
        ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = False
        cfg.uaConfig.maxCalls = max(1, min(o.max_calls + 2, 32))
        cfg.uaConfig.userAgent = "voice-agent"
        cfg.logConfig.level = o.log_level
        cfg.logConfig.consoleLevel = o.log_level
        cfg.logConfig.msgLogging = 1 if o.log_level >= 4 else 0
        med = cfg.medConfig
        med.clockRate = RATE
        med.sndClockRate = RATE
        med.channelCount = 1
        med.audioFramePtime = FRAME_MS
        med.ptime = FRAME_MS
        med.noVad = True  # keep RTP flowing during silence; trunks expect continuous media
        med.ecTailLen = 0
        ep.libInit(cfg)
        sip = pj.TransportConfig()
        sip.port = o.port
        sip.boundAddress = o.host
        if o.public_host:
            sip.publicAddress = o.public_host
        ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, sip)
        ep.audDevManager().setNullDev()
        for codec in ep.codecEnum2():
            ep.codecSetPriority(codec.codecId, _CODEC_PRIORITY.get(codec.codecId, 0))
        ep.libStart()

        acc = pj.AccountConfig()
        host = o.public_host or o.host
        if o.register_uri:
            domain = o.register_uri.split(":", 1)[-1].split(";", 1)[0]
            acc.idUri = f"sip:{o.register_user or 'voice-agent'}@{domain}"
            acc.regConfig.registrarUri = o.register_uri
            acc.regConfig.timeoutSec = o.register_expires
            if o.register_user and o.register_password:
                cred = pj.AuthCredInfo("digest", "*", o.register_user, 0, o.register_password)
                acc.sipConfig.authCreds.append(cred)
        else:
            acc.idUri = f"sip:voice-agent@{host}:{o.port}"
        rtp = acc.mediaConfig.transportConfig
        rtp.port = o.rtp_port
        rtp.portRange = 2000
        rtp.boundAddress = o.host
        if o.public_host:
            rtp.publicAddress = o.public_host
        self._account = _Account(self)
        self._account.create(acc, True)

    def _destroy(self) -> None:
        ep = self._ep
        if ep is None:
            return
        try:
            ep.hangupAllCalls()
            for _ in range(50):  # let BYEs go out and their 200s come back (about 0.5 s)
                ep.libHandleEvents(10)
                if all(c.leg.disconnected for c in self._calls.values()):
                    break
        except Exception:
            log.exception("SIP hang-up at shutdown failed")
        self._run_commands()
        self._calls.clear()
        if self._account is not None:
            with contextlib.suppress(Exception):
                self._account.shutdown()
            self._account = None
        try:
            ep.libDestroy()
        except Exception:
            log.exception("PJSIP shutdown failed")
        self._ep = None
        while True:  # fail whatever was submitted too late
            try:
                _, future = self._commands.get_nowait()
            except queue.Empty:
                break
            if future.set_running_or_notify_cancel():
                future.set_exception(RuntimeError("SIP stack stopped"))
