"""SIP trunk endpoint: answers INVITEs and hands each call to the pipeline as a pipecat transport.

Usage (e.g. in the app's lifespan)::

    server = SipServer(SipOptions.from_settings(settings), on_call)
    await server.start()
    ...
    await server.stop()

``on_call(transport, info, control)`` runs once per answered call; ``control`` is the
:class:`SipCall` (``transfer`` by REFER, ``hang_up`` by BYE).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from loguru import logger as log
from pipecat.transports.base_transport import TransportParams

from voice_agent.capacity import CallCapacity
from voice_agent.sip.options import SipOptions
from voice_agent.sip.policy import (
    AllowList,
    AuthResult,
    DigestAuthenticator,
    header_values,
    refer_to,
    source_host,
    summary_headers,
    transfer_uri,
)
from voice_agent.sip.stack import CallLeg, Headers, SipStack
from voice_agent.sip.transport import SipTransport, sip_transport_params

try:
    from voice_agent.pipeline.call import CallInfo
except ImportError:  # pragma: no cover - until the pipeline package provides it

    @dataclass
    class CallInfo:  # type: ignore[no-redef]
        call_sid: str
        channel: str
        caller: str | None = None


OnCall = Callable[[SipTransport, Any, "SipCall"], Awaitable[None]]

#: How long a pipeline may keep running after its caller hung up before it is cancelled.
DISCONNECT_GRACE_S = 5.0
#: Longest wait for queued agent audio to play before a BYE or REFER goes out anyway.
MAX_DRAIN_S = 30.0
TRANSFER_TIMEOUT_S = 30.0


def caller_id(remote_uri: str) -> str | None:
    """User part of the caller's URI (``"Bob" <sip:+15551234@host>`` -> ``+15551234``)."""
    uri = remote_uri.split("<", 1)[-1].split(">", 1)[0]
    scheme, _, rest = uri.partition(":")
    if scheme.lower() not in ("sip", "sips", "tel"):
        return None
    user = rest.split("@", 1)[0].split(";", 1)[0] if "@" in rest or scheme == "tel" else ""
    return user or None


class SipCall:
    """One SIP call as the pipeline sees it; implements the pipeline's ``CallControl``."""

    def __init__(self, server: SipServer, leg: CallLeg, params: TransportParams):
        self._server = server
        self.leg = leg
        self.info = CallInfo(
            call_sid=f"sip-{leg.sip_call_id}", channel="sip", caller=caller_id(leg.remote_uri)
        )
        self.transport = SipTransport(leg, self._pipeline_ended, params=params)
        self.ended = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.digits: list[str] = []
        self.end_reason: tuple[int, str] | None = None
        self.hung_up_by_agent = False
        self.invited_at = leg.invited_at
        self.answered_at: float | None = None
        self._transfer: asyncio.Future[int] | None = None

    async def hang_up(self) -> None:
        """Send BYE once the audio the transport holds has played (no error if already gone).

        The transport holds only ~80 ms ahead of the line; audio still queued in the pipeline
        is not waited for, so call this after the bot stopped speaking, as the dialog does.
        """
        await self._drain()
        await self._bye()

    async def transfer(self, target: str | None, summary: Mapping[str, object]) -> bool:
        """Blind-transfer the caller by REFER, with ``summary`` as ``X-VA-*`` headers.

        The headers go on the REFER and inside the Refer-To URI, so a transferee that honours
        embedded headers repeats them in its INVITE to the target. Returns True once the
        transferee reports (NOTIFY) that the target answered; our leg then ends.
        """
        target = target or self._server.options.transfer_target or ""
        if not target or self.leg.disconnected:
            return False
        try:
            uri = transfer_uri(target, source_host(self.leg.source))
        except ValueError:
            log.warning("call {}: bad transfer target {!r}", self.info.call_sid, target)
            return False
        headers = summary_headers(summary)
        await self._drain()
        self._transfer = asyncio.get_running_loop().create_future()
        if not self._server.stack.refer(self.leg, refer_to(uri, headers), headers):
            return False
        try:
            code = await asyncio.wait_for(self._transfer, TRANSFER_TIMEOUT_S)
        except TimeoutError:
            log.warning("call {}: no final NOTIFY for transfer", self.info.call_sid)
            return False
        if not 200 <= code < 300:
            log.info("call {}: transfer to {} failed with {}", self.info.call_sid, uri, code)
            return False
        try:  # the transferee normally sends BYE now; make sure our leg ends either way
            await asyncio.wait_for(self.ended.wait(), 3.0)
        except TimeoutError:
            await self._bye()
        return True

    def on_transfer_status(self, code: int, final: bool) -> None:
        future = self._transfer
        if future is not None and not future.done() and (final or code >= 300):
            future.set_result(code)

    async def _drain(self) -> None:
        deadline = time.monotonic() + MAX_DRAIN_S
        while not self.leg.playout.is_empty and not self.leg.disconnected:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.02)
        if not self.leg.disconnected:
            await asyncio.sleep(0.06)  # the last frame is still on its way out (one media tick)

    async def _bye(self) -> None:
        if self.leg.disconnected:
            return
        self.hung_up_by_agent = True
        self._server.stack.hangup(self.leg)

    async def _pipeline_ended(self, drain: bool) -> None:
        if drain:
            await self._drain()
        await self._bye()


@dataclass
class SipStats:
    offered: int = 0
    rejected: int = 0
    answered: int = 0
    completed: int = 0
    peak_active: int = 0
    setup_ms: list[float] = field(default_factory=list)


class SipServer:
    """Listens for SIP on ``options.host:options.port`` and runs ``on_call`` for each call."""

    def __init__(
        self,
        options: SipOptions,
        on_call: OnCall,
        transport_params: TransportParams | None = None,
        accepting: Callable[[], bool] | None = None,
        capacity: CallCapacity | None = None,
    ):
        self.options = options
        self._on_call = on_call
        self._accepting = accepting
        self._capacity = capacity
        self._params = transport_params
        self._allow = AllowList(options.allow_from)
        self._auth = (
            DigestAuthenticator(options.auth_user or "", options.auth_password or "", options.realm)
            if options.auth_enabled
            else None
        )
        self.stack = SipStack(options, self, self.screen, permit=self._allow.allows)
        self.calls: dict[str, SipCall] = {}
        self.stats = SipStats()
        self.registration: tuple[int, str, int] | None = None
        self.finished: list[SipCall] = []
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> None:
        await self.stack.start()
        log.info("SIP listening on udp:{}:{}", self.options.host, self.options.port)

    async def stop(self) -> None:
        """Hang up every call, let the pipelines finish (bounded), then stop the stack."""
        for call in list(self.calls.values()):
            with contextlib.suppress(Exception):
                await call._bye()
        pending = [c.task for c in self.calls.values() if c.task] + list(self._tasks)
        if pending:
            _, late = await asyncio.wait(pending, timeout=DISCONNECT_GRACE_S)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=2)
        await self.stack.stop()

    # ----- policy -----

    def screen(self, message: str, source: str) -> tuple[int, Headers] | None:
        """Allow-list, digest auth, readiness, then a free call slot; None accepts the INVITE."""
        self.stats.offered += 1
        if not self._allow.allows(source_host(source)):
            self.stats.rejected += 1
            return 403, []
        if self._auth is not None:
            values = header_values(message, "Authorization")
            result = self._auth.verify("INVITE", values[0] if values else None)
            if result is not AuthResult.OK:
                self.stats.rejected += 1
                if result is AuthResult.INVALID:
                    log.warning("SIP INVITE from {}: bad credentials", source)
                stale = result is AuthResult.STALE
                return 401, [("WWW-Authenticate", self._auth.challenge(stale=stale))]
        if self._accepting is not None and not self._accepting():
            self.stats.rejected += 1
            return 503, [("Retry-After", "10")]  # models still loading: the trunk tries later
        call_id = (header_values(message, "Call-ID", "i") or [""])[0]
        if self._capacity is not None and not self._capacity.reserve(call_id, time.monotonic()):
            # A slot lapses by itself if the INVITE fails after this (capacity.RESERVE_S).
            self.stats.rejected += 1
            why = self._capacity.why_full(time.monotonic())
            log.warning("SIP INVITE {}: {}, busy", call_id, why)
            return 486, []
        return None

    # ----- stack events, on the event loop -----

    def on_incoming(self, leg: CallLeg) -> None:
        if self._capacity is not None:
            self._capacity.take(leg.sip_call_id, time.monotonic())  # reserved by screen()
        params = self._params or sip_transport_params()
        call = self.calls[leg.key] = SipCall(self, leg, params)
        self._spawn(self._answer(call))

    async def _answer(self, call: SipCall) -> None:
        if self.options.ring_s > 0:
            await asyncio.sleep(self.options.ring_s)
        if call.leg.disconnected:  # CANCELled while ringing
            return
        self.stack.answer(call.leg, 200)

    def on_media_ready(self, leg: CallLeg) -> None:
        call = self.calls.get(leg.key)
        if call is None or call.leg is not leg or call.task is not None:
            return
        call.answered_at = time.monotonic()
        self.stats.answered += 1
        self.stats.setup_ms.append((call.answered_at - call.invited_at) * 1000)
        call.task = asyncio.create_task(self._run(call), name=f"sip-call-{leg.key}")
        active = sum(1 for c in self.calls.values() if c.task and not c.task.done())
        self.stats.peak_active = max(self.stats.peak_active, active)

    async def _run(self, call: SipCall) -> None:
        log.info("call {} from {} answered", call.info.call_sid, call.leg.source)
        try:
            await self._on_call(call.transport, call.info, call)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("call {}: pipeline failed", call.info.call_sid)
        finally:
            if not call.leg.disconnected:
                await call._bye()

    def on_dtmf(self, leg: CallLeg, digit: str) -> None:
        call = self.calls.get(leg.key)
        if call is not None and call.leg is leg:
            call.digits.append(digit)
            call.transport.input().push_dtmf(digit)

    def on_transfer_status(self, leg: CallLeg, code: int, reason: str, final: bool) -> None:
        call = self.calls.get(leg.key)
        if call is not None and call.leg is leg:
            log.info("call {}: transfer status {} {}", call.info.call_sid, code, reason)
            call.on_transfer_status(code, final)

    def on_disconnected(self, leg: CallLeg, code: int, reason: str) -> None:
        call = self.calls.get(leg.key)
        if call is None or call.leg is not leg:
            return
        call.end_reason = (code, reason)
        call.ended.set()
        call.on_transfer_status(487, final=True)  # a pending transfer can no longer succeed
        self._spawn(self._reap(call))

    async def _reap(self, call: SipCall) -> None:
        try:
            if call.task is not None and not call.task.done():
                await call.transport.fire("on_client_disconnected")
                done, _ = await asyncio.wait({call.task}, timeout=DISCONNECT_GRACE_S)
                if not done:
                    log.warning("call {}: pipeline still running, cancelling", call.info.call_sid)
                    call.task.cancel()
                    await asyncio.wait({call.task}, timeout=2)
        finally:
            if call.task is not None:
                self.stats.completed += 1
            if self.calls.get(call.leg.key) is call:
                del self.calls[call.leg.key]
                if self._capacity is not None:
                    self._capacity.release(call.leg.sip_call_id)
            self.finished.append(call)
            del self.finished[:-100]

    def on_registration(self, code: int, reason: str, expires: int) -> None:
        self.registration = (code, reason, expires)
        log.info("SIP registration: {} {} (expires {})", code, reason, expires)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def start_sip(
    settings: Any,
    get_services: Callable[[], Any],
    on_call: OnCall | None = None,
    capacity: CallCapacity | None = None,
) -> SipServer | None:
    """Start the SIP endpoint for ``voice-agent serve`` (None when disabled or it cannot bind).

    Calls get 503 until ``get_services()`` returns the loaded :class:`AgentServices`; each
    answered call then runs :func:`voice_agent.pipeline.call.run_call`.
    """
    if not settings.sip_enabled:
        return None
    if on_call is None:
        from voice_agent.pipeline.call import run_call

        async def on_call(transport: SipTransport, info: Any, control: SipCall) -> None:
            await run_call(transport, info, control, get_services(), audio_out_sample_rate=8000)

    options = SipOptions.from_settings(settings)
    loopback = options.host.startswith("127.") or options.host in ("::1", "localhost")
    if not loopback and not options.allow_from and not options.auth_enabled:
        log.warning(
            "SIP on udp:{}:{} accepts calls from any source: set VOICE_AGENT_SIP_ALLOW_FROM "
            "(trunk addresses) and/or VOICE_AGENT_SIP_AUTH_USER/PASSWORD",
            options.host,
            options.port,
        )
    server = SipServer(
        options, on_call, accepting=lambda: get_services() is not None, capacity=capacity
    )
    try:
        await server.start()
    except OSError as exc:
        log.error("SIP endpoint not started on udp:{}:{}: {}", options.host, options.port, exc)
        return None
    return server
