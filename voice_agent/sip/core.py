"""Sans-I/O SIP user agent for a trunk endpoint: datagrams and clock in, datagrams and events out.

Covers what a trunk needs from the agent: answering INVITEs (100/180/200 with 2xx retransmission
until ACK), rejecting them (final response retransmitted until ACK), CANCEL, BYE from either
side, OPTIONS, in-dialog REFER with NOTIFY progress, and REGISTER with digest auth. No sockets
and no clock here: the caller passes ``now`` and delivers the :class:`Send` outputs.

Responses go back to the address the request came from and in-dialog requests go to the address
the INVITE came from (symmetric signalling, as trunks and NAT expect).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from voice_agent.sip.events import (
    Address,
    CallConfirmed,
    CallEnded,
    Dtmf,
    IncomingCall,
    MediaUpdate,
    Output,
    Registration,
    Send,
    TransferStatus,
)
from voice_agent.sip.message import (
    SipMessage,
    SipParseError,
    info_digit,
    new_branch,
    new_tag,
    parse,
    response,
    sipfrag_status,
    uri_of,
)
from voice_agent.sip.policy import parse_auth_params
from voice_agent.sip.register import RegistrationState, build_register, granted_expires

T1, T2 = 0.5, 4.0
TRANSACTION_TIMEOUT = 64 * T1
LINGER = 8.0  # keep ended calls this long to answer retransmitted BYE/ACK/INVITE
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, NOTIFY, REFER, UPDATE, INFO"


@dataclass
class _Resend:
    data: bytes
    addr: Address
    next_at: float
    interval: float
    deadline: float
    cap: float = T2


@dataclass
class _Call:
    key: str
    invite: SipMessage
    source: Address
    local_tag: str = field(default_factory=new_tag)
    state: str = "trying"  # trying, ringing, answered, confirmed, rejected, ended
    last_response: bytes | None = None
    resend: _Resend | None = None
    local_cseq: int = 0
    ended_at: float | None = None
    local_sdp: bytes = b""


@dataclass
class _ClientTx:
    method: str
    call_key: str | None
    resend: _Resend


class UserAgent:
    """The SIP side of the endpoint. Every method returns the outputs it produced."""

    def __init__(self, local: Address, user: str = "agent", user_agent: str = "voice-agent"):
        self.local = local
        self.user = user
        self.user_agent = user_agent
        self.calls: dict[str, _Call] = {}
        self._client: dict[str, _ClientTx] = {}
        self._reg: RegistrationState | None = None

    # ----- input -----

    def receive(self, data: bytes, source: Address, now: float) -> list[Output]:
        try:
            message = parse(data)
        except SipParseError:
            return []
        if message.is_request:
            return self._request(message, source, now)
        return self._response(message, now)

    def tick(self, now: float) -> list[Output]:
        out: list[Output] = []
        for call in list(self.calls.values()):
            if call.ended_at is not None and now - call.ended_at > LINGER:
                del self.calls[call.key]
                continue
            resend = call.resend
            if resend is None:
                continue
            if now >= resend.deadline:
                call.resend = None
                if call.state == "answered":  # 200 OK never ACKed: the caller is gone
                    out += self._bye(call, now)
                    out.append(CallEnded(call.key, 408, "no ACK for 200 OK"))
                elif call.state == "rejected":
                    self._end(call, now)
            elif now >= resend.next_at:
                out.append(Send(resend.data, resend.addr))
                resend.interval = min(resend.interval * 2, resend.cap)
                resend.next_at = now + resend.interval
        for branch, tx in list(self._client.items()):
            if now >= tx.resend.deadline:
                del self._client[branch]
                out += self._client_final(tx, 408, "Request Timeout", None, now)
            elif now >= tx.resend.next_at:
                out.append(Send(tx.resend.data, tx.resend.addr))
                tx.resend.interval = min(tx.resend.interval * 2, T2)
                tx.resend.next_at = now + tx.resend.interval
        reg = self._reg
        if reg is not None and reg.refresh_at is not None and now >= reg.refresh_at:
            reg.refresh_at = None
            out += self._send_register(reg, now, None)
        return out

    # ----- commands -----

    def ring(self, key: str, now: float) -> list[Output]:
        call = self.calls.get(key)
        if call is None or call.state != "trying":
            return []
        call.state = "ringing"
        return self._respond_invite(call, 180, now)

    def answer(self, key: str, sdp: str, now: float) -> list[Output]:
        call = self.calls.get(key)
        if call is None or call.state not in ("trying", "ringing"):
            return []
        call.state = "answered"
        call.local_sdp = sdp.encode()
        headers = [("Content-Type", "application/sdp")]
        return self._respond_invite(call, 200, now, headers, call.local_sdp)

    def reject(self, key: str, code: int, now: float, headers=()) -> list[Output]:
        call = self.calls.get(key)
        if call is None or call.state not in ("trying", "ringing"):
            return []
        call.state = "rejected"
        return self._respond_invite(call, code, now, list(headers))

    def hang_up(self, key: str, now: float) -> list[Output]:
        """BYE an answered call, or decline one still ringing."""
        call = self.calls.get(key)
        if call is None:
            return []
        if call.state in ("trying", "ringing"):
            out = self.reject(key, 480, now)
            return [*out, CallEnded(key, 480, "declined by agent")]
        if call.state in ("answered", "confirmed"):
            return [*self._bye(call, now), CallEnded(key, 200, "agent hung up")]
        return []

    def refer(self, key: str, refer_to: str, headers: list[tuple[str, str]], now: float):
        call = self.calls.get(key)
        if call is None or call.state not in ("answered", "confirmed"):
            return []
        extra = [("Refer-To", refer_to), ("Referred-By", f"<sip:{self.user}@{self._hostport}>")]
        return self._in_dialog(call, "REFER", now, extra + headers)

    def register(
        self, registrar: str, addr: Address, user: str, password: str, expires: int, now: float
    ) -> list[Output]:
        self._reg = RegistrationState(registrar, addr, user, password, expires)
        return self._send_register(self._reg, now, None)

    def unregister(self, now: float) -> list[Output]:
        reg = self._reg
        if reg is None:
            return []
        reg.expires, reg.refresh_at = 0, None
        return self._send_register(reg, now, None)

    @property
    def pending_requests(self) -> int:
        return len(self._client)

    # ----- requests -----

    def _request(self, req: SipMessage, source: Address, now: float) -> list[Output]:
        method = req.method
        call = self.calls.get(req.call_id)
        if method == "INVITE":
            return self._invite(req, call, source, now)
        if method == "ACK":
            if call is not None and call.state == "answered":
                call.state, call.resend = "confirmed", None
                return [CallConfirmed(call.key)]
            if call is not None and call.state == "rejected":
                call.resend = None
                self._end(call, now)
            return []
        if method == "CANCEL":
            if call is None or req.branch != call.invite.branch:
                return [self._reply(req, source, 481)]
            out: list[Output] = [self._reply(req, source, 200)]
            if call.state in ("trying", "ringing"):
                call.state = "rejected"
                out += self._respond_invite(call, 487, now)
                out.append(CallEnded(call.key, 487, "cancelled by caller"))
            return out
        if method == "BYE":
            if call is None or req.to_tag != call.local_tag:
                return [self._reply(req, source, 481)]
            out = [self._reply(req, source, 200)]
            if call.state in ("answered", "confirmed"):
                self._end(call, now)
                out.append(CallEnded(call.key, 200, "caller hung up"))
            return out
        if method == "OPTIONS":
            return [
                self._reply(req, source, 200, [("Allow", ALLOW), ("Accept", "application/sdp")])
            ]
        if method == "NOTIFY":
            if call is None or req.to_tag != call.local_tag:
                return [self._reply(req, source, 481)]
            out = [self._reply(req, source, 200)]
            if (req.get("Event") or "").split(";")[0].strip().lower() == "refer":
                code = sipfrag_status(req.body)
                final = "terminated" in (req.get("Subscription-State") or "").lower()
                if code is not None:
                    out.append(TransferStatus(call.key, code, final or code >= 200))
            return out
        if method in ("UPDATE", "INFO"):
            if call is None or req.to_tag != call.local_tag or call.state == "ended":
                return [self._reply(req, source, 481)]
            if method == "UPDATE":
                return self._refresh(call, req, source)
            out = [self._reply(req, source, 200)]
            digit = info_digit(req)
            return [*out, Dtmf(call.key, digit)] if digit else out
        if method == "REFER":  # a caller must never make the agent dial out (toll fraud)
            return [self._reply(req, source, 603)]
        return [self._reply(req, source, 405, [("Allow", ALLOW)])]

    def _invite(self, req: SipMessage, call: _Call | None, source: Address, now: float):
        retry = call is not None and call.state in ("rejected", "ended") and not req.to_tag
        if call is not None and retry and req.branch != call.invite.branch:
            # a new INVITE reusing the Call-ID, e.g. the retry with credentials after a 401
            del self.calls[call.key]
            call = None
        if call is not None:
            if req.branch == call.invite.branch:  # retransmission: repeat what we said
                return [Send(call.last_response, source)] if call.last_response else []
            if req.to_tag == call.local_tag and call.state in ("answered", "confirmed"):
                return self._refresh(call, req, source)
            return [self._reply(req, source, 481)]
        if req.to_tag:
            return [self._reply(req, source, 481)]
        call = self.calls[req.call_id] = _Call(req.call_id, req, source)
        trying = response(req, 100)
        call.last_response = trying.to_bytes()
        return [Send(call.last_response, source), IncomingCall(call.key, req, source)]

    def _refresh(self, call: _Call, req: SipMessage, source: Address) -> list[Output]:
        """Answer a re-INVITE/UPDATE (session refresh, hold, media move) with our same SDP."""
        headers = [("Contact", self._contact)]
        out: list[Output] = []
        body = b""
        if req.body:
            headers.append(("Content-Type", "application/sdp"))
            body = call.local_sdp
            out.append(MediaUpdate(call.key, req.body))
        elif req.method == "INVITE":  # offerless re-INVITE: we offer, the ACK would answer
            headers.append(("Content-Type", "application/sdp"))
            body = call.local_sdp
        return [self._reply(req, source, 200, headers, body, call.local_tag), *out]

    def _respond_invite(self, call: _Call, code: int, now: float, headers=(), body=b""):
        extra = [("Contact", self._contact), ("User-Agent", self.user_agent), *headers]
        if code == 200:
            extra.append(("Allow", ALLOW))
        msg = response(call.invite, code, to_tag=call.local_tag, headers=extra, body=body)
        call.last_response = msg.to_bytes()
        if code >= 200:  # final responses are repeated until the ACK (UDP may lose them)
            call.resend = _Resend(
                call.last_response, call.source, now + T1, T1, now + TRANSACTION_TIMEOUT
            )
        return [Send(call.last_response, call.source)]

    def _reply(self, req, source, code, headers=(), body=b"", to_tag=None) -> Send:
        tag = to_tag or (None if req.to_tag else new_tag())
        msg = response(
            req, code, to_tag=tag, headers=[("User-Agent", self.user_agent), *headers], body=body
        )
        return Send(msg.to_bytes(), source)

    def _end(self, call: _Call, now: float) -> None:
        call.state = "ended"
        call.ended_at = now

    # ----- our requests -----

    @property
    def _hostport(self) -> str:
        return f"{self.local[0]}:{self.local[1]}"

    @property
    def _contact(self) -> str:
        return f"<sip:{self.user}@{self._hostport}>"

    def _bye(self, call: _Call, now: float) -> list[Output]:
        out = self._in_dialog(call, "BYE", now, [])
        self._end(call, now)
        return out

    def _in_dialog(self, call: _Call, method: str, now: float, headers) -> list[Output]:
        invite = call.invite
        call.local_cseq += 1
        contact = invite.get("Contact")
        target = uri_of(contact) if contact else uri_of(invite.get("From") or "")
        to_value = invite.get("From") or ""
        from_value = f"{invite.get('To')};tag={call.local_tag}"
        msg = SipMessage(method=method, uri=target)
        branch = new_branch()
        msg.add("Via", f"SIP/2.0/UDP {self._hostport};branch={branch};rport")
        msg.add("Max-Forwards", "70")
        msg.add("From", from_value)
        msg.add("To", to_value)
        msg.add("Call-ID", call.key)
        msg.add("CSeq", f"{call.local_cseq} {method}")
        for route in invite.get_all("Record-Route"):
            msg.add("Route", route)
        msg.add("Contact", self._contact)
        msg.add("User-Agent", self.user_agent)
        for name, value in headers:
            msg.add(name, value)
        return self._start_client(branch, method, call.key, msg.to_bytes(), call.source, now)

    def _start_client(self, branch, method, call_key, data, addr, now) -> list[Output]:
        self._client[branch] = _ClientTx(
            method, call_key, _Resend(data, addr, now + T1, T1, now + TRANSACTION_TIMEOUT)
        )
        return [Send(data, addr)]

    def _send_register(self, reg: RegistrationState, now: float, challenge: str | None):
        branch = new_branch()
        msg = build_register(reg, self._hostport, branch, self.user_agent, challenge)
        return self._start_client(branch, "REGISTER", None, msg.to_bytes(), reg.addr, now)

    # ----- responses to our requests -----

    def _response(self, res: SipMessage, now: float) -> list[Output]:
        tx = self._client.get(res.branch or "")
        if tx is None or res.status is None:
            return []
        if res.status < 200:
            tx.resend.next_at = now + T2  # provisional: slow down, keep the request alive
            return []
        del self._client[res.branch or ""]
        return self._client_final(tx, res.status, res.reason, res, now)

    def _client_final(self, tx: _ClientTx, code: int, reason: str, res, now: float):
        if tx.method == "REFER" and tx.call_key is not None:
            return [TransferStatus(tx.call_key, code, code >= 300)]
        if tx.method == "REGISTER" and self._reg is not None:
            reg = self._reg
            challenge = res.get("WWW-Authenticate") if res is not None else None
            if code == 401 and challenge:
                nonce = parse_auth_params(challenge).get("nonce")
                if nonce and nonce != reg.tried_nonce:
                    reg.tried_nonce = nonce
                    return self._send_register(reg, now, challenge)
            expires = reg.expires
            if code == 200 and res is not None:
                expires = granted_expires(res, reg.expires)
                if reg.expires:
                    reg.refresh_at = now + max(expires * 0.8, 5)
            return [Registration(code, reason, expires if code == 200 else 0)]
        return []
