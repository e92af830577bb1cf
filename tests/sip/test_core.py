"""The sans-I/O SIP user agent: bytes and a clock in, datagrams and events out."""

from __future__ import annotations

from voice_agent.sip import core
from voice_agent.sip import events as ev
from voice_agent.sip.core import UserAgent
from voice_agent.sip.message import parse
from voice_agent.sip.policy import digest_response, parse_auth_params

CALLER = ("10.0.0.9", 5090)
LOCAL = ("10.0.0.1", 5060)
SDP = (
    "v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n"
    "m=audio 7000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
)


def request(
    method: str,
    *,
    cseq: int = 1,
    branch: str = "z9hG4bK-1",
    to_tag: str | None = None,
    call_id: str = "call-1",
    body: str = "",
    extra: str = "",
) -> bytes:
    to = "<sip:agent@10.0.0.1>" + (f";tag={to_tag}" if to_tag else "")
    text = (
        f"{method} sip:agent@10.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 10.0.0.9:5090;branch={branch}\r\n"
        "Record-Route: <sip:proxy.example;lr>\r\n"
        'From: "Bob" <sip:+15551234@10.0.0.9>;tag=caller-tag\r\n'
        f"To: {to}\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: {cseq} {method}\r\n"
        "Contact: <sip:bob@10.0.0.9:5090>\r\n"
        f"{extra}"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    )
    return text.encode()


def sent(outputs) -> list:
    return [parse(o.data) for o in outputs if isinstance(o, ev.Send)]


def events(outputs, kind) -> list:
    return [o for o in outputs if isinstance(o, kind)]


def answered_call(ua: UserAgent) -> str:
    ua.receive(request("INVITE", body=SDP), CALLER, 0.0)
    ua.ring("call-1", 0.0)
    out = ua.answer("call-1", "v=0\r\n", 0.1)
    return parse(out[0].data).to_tag or ""


def test_invite_ring_answer_ack_and_caller_bye():
    ua = UserAgent(LOCAL)
    out = ua.receive(request("INVITE", body=SDP), CALLER, 0.0)
    (trying,) = sent(out)
    assert trying.status == 100 and out[0].addr == CALLER
    (incoming,) = events(out, ev.IncomingCall)
    assert incoming.key == "call-1" and incoming.request.body.decode() == SDP

    (ringing,) = sent(ua.ring("call-1", 0.0))
    assert ringing.status == 180 and ringing.to_tag
    (ok,) = sent(ua.answer("call-1", "v=0\r\nm=audio 4000 RTP/AVP 0\r\n", 0.1))
    assert ok.status == 200 and ok.to_tag == ringing.to_tag
    assert ok.get("Content-Type") == "application/sdp" and b"m=audio 4000" in ok.body
    assert ok.get("Record-Route") == "<sip:proxy.example;lr>"
    assert ok.get("Contact") == "<sip:agent@10.0.0.1:5060>"

    # 200 OK is repeated (T1, 2*T1, ...) until the ACK comes
    assert sent(ua.tick(0.3)) == []
    assert [m.status for m in sent(ua.tick(0.61))] == [200]
    assert sent(ua.tick(1.2)) == []
    assert [m.status for m in sent(ua.tick(1.62))] == [200]
    out = ua.receive(request("ACK", branch="z9hG4bK-2", to_tag=ok.to_tag), CALLER, 1.7)
    assert events(out, ev.CallConfirmed)
    assert sent(ua.tick(5.0)) == []

    # a retransmitted INVITE gets the last response again, not a new call
    out = ua.receive(request("INVITE", body=SDP), CALLER, 1.8)
    assert [m.status for m in sent(out)] == [200] and not events(out, ev.IncomingCall)

    out = ua.receive(request("BYE", cseq=2, branch="z9hG4bK-3", to_tag=ok.to_tag), CALLER, 2.0)
    assert [m.status for m in sent(out)] == [200]
    (ended,) = events(out, ev.CallEnded)
    assert ended.key == "call-1" and ended.reason == "caller hung up"


def test_cancel_while_ringing():
    ua = UserAgent(LOCAL)
    ua.receive(request("INVITE", body=SDP), CALLER, 0.0)
    ua.ring("call-1", 0.0)
    out = ua.receive(request("CANCEL"), CALLER, 0.5)
    statuses = [(m.status, m.cseq[1]) for m in sent(out)]
    assert statuses == [(200, "CANCEL"), (487, "INVITE")]
    assert events(out, ev.CallEnded)[0].code == 487
    assert ua.answer("call-1", "v=0\r\n", 0.6) == []  # too late to answer
    assert [m.status for m in sent(ua.tick(1.01))] == [487]  # until the ACK
    ua.receive(request("ACK"), CALLER, 1.1)
    assert sent(ua.tick(3.0)) == []
    assert sent(ua.receive(request("CANCEL", call_id="nope"), CALLER, 3.0))[0].status == 481


def test_agent_bye_is_an_in_dialog_request_retransmitted_until_answered():
    ua = UserAgent(LOCAL)
    tag = answered_call(ua)
    ua.receive(request("ACK", branch="z9hG4bK-2", to_tag=tag), CALLER, 0.2)
    out = ua.hang_up("call-1", 1.0)
    (bye,) = sent(out)
    assert events(out, ev.CallEnded)[0].reason == "agent hung up"
    assert out[0].addr == CALLER
    assert bye.method == "BYE" and bye.uri == "sip:bob@10.0.0.9:5090"
    assert bye.from_tag == tag and bye.to_tag == "caller-tag"
    assert bye.cseq == (1, "BYE") and bye.get("Route") == "<sip:proxy.example;lr>"
    assert [m.method for m in sent(ua.tick(1.51))] == ["BYE"]
    ok = f"SIP/2.0 200 OK\r\nVia: {bye.get('Via')}\r\nFrom: {bye.get('From')}\r\n"
    ok += f"To: {bye.get('To')}\r\nCall-ID: call-1\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n"
    ua.receive(ok.encode(), CALLER, 1.6)
    assert ua.pending_requests == 0 and sent(ua.tick(5.0)) == []


def test_refer_and_notify_progress():
    ua = UserAgent(LOCAL)
    tag = answered_call(ua)
    out = ua.refer("call-1", "<sip:desk@pbx?X-VA-Order-Id=A1>", [("X-VA-Order-Id", "A1")], 1.0)
    (refer,) = sent(out)
    assert refer.method == "REFER" and refer.get("Refer-To") == "<sip:desk@pbx?X-VA-Order-Id=A1>"
    assert refer.get("X-VA-Order-Id") == "A1"
    accepted = (
        f"SIP/2.0 202 Accepted\r\nVia: {refer.get('Via')}\r\nFrom: {refer.get('From')}\r\n"
        f"To: {refer.get('To')}\r\nCall-ID: call-1\r\nCSeq: 1 REFER\r\nContent-Length: 0\r\n\r\n"
    )
    (status,) = events(ua.receive(accepted.encode(), CALLER, 1.1), ev.TransferStatus)
    assert (status.code, status.final) == (202, False)
    notify = request(
        "NOTIFY",
        cseq=2,
        branch="z9hG4bK-9",
        to_tag=tag,
        body="SIP/2.0 200 OK\r\n",
        extra="Event: refer\r\nSubscription-State: terminated;reason=noresource\r\n"
        "Content-Type: message/sipfrag;version=2.0\r\n",
    )
    out = ua.receive(notify, CALLER, 1.5)
    assert [m.status for m in sent(out)] == [200]
    (status,) = events(out, ev.TransferStatus)
    assert (status.code, status.final) == (200, True)


def test_refer_without_answer_times_out_as_408():
    ua = UserAgent(LOCAL)
    answered_call(ua)
    ua.refer("call-1", "<sip:desk@pbx>", [], 1.0)
    out = ua.tick(1.0 + core.TRANSACTION_TIMEOUT + 0.1)
    assert [(s.code, s.final) for s in events(out, ev.TransferStatus)] == [(408, True)]


def test_unanswered_200_ends_the_call_with_bye():
    ua = UserAgent(LOCAL)
    answered_call(ua)
    out = ua.tick(0.1 + core.TRANSACTION_TIMEOUT + 0.1)
    assert [m.method for m in sent(out)] == ["BYE"]
    assert events(out, ev.CallEnded)[0].code == 408


def test_out_of_dialog_requests_and_garbage():
    ua = UserAgent(LOCAL)
    (ok,) = sent(ua.receive(request("OPTIONS"), CALLER, 0.0))
    assert ok.status == 200 and "INVITE" in (ok.get("Allow") or "")
    assert sent(ua.receive(request("BYE", to_tag="x"), CALLER, 0.0))[0].status == 481
    assert sent(ua.receive(request("REFER", call_id="c9"), CALLER, 0.0))[0].status == 603
    assert sent(ua.receive(request("SUBSCRIBE", call_id="c8"), CALLER, 0.0))[0].status == 405
    assert (
        sent(ua.receive(request("INVITE", to_tag="stale", body=SDP), CALLER, 0.0))[0].status == 481
    )
    assert ua.receive(b"\x00\xffnot sip at all\r\n\r\n", CALLER, 0.0) == []
    assert ua.calls == {}


def test_rejected_invite_then_retry_with_same_call_id_is_a_new_call():
    ua = UserAgent(LOCAL)
    ua.receive(request("INVITE", body=SDP), CALLER, 0.0)
    (challenge,) = sent(ua.reject("call-1", 401, 0.0, [("WWW-Authenticate", 'Digest realm="r"')]))
    assert challenge.status == 401 and challenge.get("WWW-Authenticate") == 'Digest realm="r"'
    ua.receive(request("ACK"), CALLER, 0.1)
    out = ua.receive(request("INVITE", cseq=2, branch="z9hG4bK-5", body=SDP), CALLER, 0.2)
    assert events(out, ev.IncomingCall)


def test_hang_up_while_ringing_declines():
    ua = UserAgent(LOCAL)
    ua.receive(request("INVITE", body=SDP), CALLER, 0.0)
    out = ua.hang_up("call-1", 0.1)
    assert [m.status for m in sent(out)] == [480] and events(out, ev.CallEnded)


def test_register_answers_a_digest_challenge_and_refreshes():
    ua = UserAgent(LOCAL)
    registrar = ("10.0.0.5", 5060)
    (first,) = sent(ua.register("sip:trunk.example", registrar, "agent", "pw", 300, 0.0))
    assert first.method == "REGISTER" and first.get("Expires") == "300"
    assert first.get("Contact") == "<sip:agent@10.0.0.1:5060>"
    challenge = (
        f"SIP/2.0 401 Unauthorized\r\nVia: {first.get('Via')}\r\nFrom: {first.get('From')}\r\n"
        f"To: {first.get('To')};tag=r1\r\nCall-ID: {first.call_id}\r\nCSeq: 1 REGISTER\r\n"
        'WWW-Authenticate: Digest realm="trunk", nonce="n0nce", qop="auth"\r\n'
        "Content-Length: 0\r\n\r\n"
    )
    out = ua.receive(challenge.encode(), registrar, 0.1)
    (second,) = sent(out)
    assert out[0].addr == registrar and second.cseq == (2, "REGISTER")
    auth = parse_auth_params(second.get("Authorization") or "")
    expected = digest_response(
        username="agent",
        realm="trunk",
        password="pw",
        method="REGISTER",
        uri="sip:trunk.example",
        nonce="n0nce",
        qop="auth",
        nc=auth["nc"],
        cnonce=auth["cnonce"],
    )
    assert auth["response"] == expected
    ok = (
        f"SIP/2.0 200 OK\r\nVia: {second.get('Via')}\r\nFrom: {second.get('From')}\r\n"
        f"To: {second.get('To')};tag=r1\r\nCall-ID: {second.call_id}\r\nCSeq: 2 REGISTER\r\n"
        "Contact: <sip:agent@10.0.0.1:5060>;expires=120\r\nContent-Length: 0\r\n\r\n"
    )
    (registered,) = events(ua.receive(ok.encode(), registrar, 0.2), ev.Registration)
    assert (registered.code, registered.expires) == (200, 120)
    assert sent(ua.tick(90.0)) == []
    (refresh,) = sent(ua.tick(96.5))  # 0.8 x 120 s later
    assert refresh.method == "REGISTER" and refresh.call_id == first.call_id


def test_reinvite_and_update_keep_our_sdp_and_report_the_new_offer():
    ua = UserAgent(LOCAL)
    tag = answered_call(ua)
    moved = SDP.replace("7000", "7100")
    out = ua.receive(
        request("INVITE", cseq=2, branch="z9hG4bK-7", to_tag=tag, body=moved), CALLER, 1.0
    )
    (ok,) = sent(out)
    assert ok.status == 200 and ok.body == b"v=0\r\n" and ok.cseq == (2, "INVITE")
    (update,) = events(out, ev.MediaUpdate)
    assert b"7100" in update.sdp
    out = ua.receive(request("UPDATE", cseq=3, branch="z9hG4bK-8", to_tag=tag), CALLER, 2.0)
    assert [(m.status, m.body) for m in sent(out)] == [(200, b"")]
    assert not events(out, ev.MediaUpdate)
    stray = request("UPDATE", cseq=3, branch="z9hG4bK-8", to_tag=tag, call_id="other")
    assert sent(ua.receive(stray, CALLER, 2.0))[0].status == 481


def test_info_dtmf():
    ua = UserAgent(LOCAL)
    tag = answered_call(ua)
    digits = []
    for n, (kind, body) in enumerate(
        [
            ("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n"),
            ("application/dtmf", "#"),
            ("application/dtmf-relay", "Signal=Z\r\n"),
            ("text/plain", "5"),
        ]
    ):
        out = ua.receive(
            request(
                "INFO",
                cseq=2 + n,
                branch=f"z9hG4bK-i{n}",
                to_tag=tag,
                body=body,
                extra=f"Content-Type: {kind}\r\n",
            ),
            CALLER,
            1.0,
        )
        assert [m.status for m in sent(out)] == [200]
        digits += [e.digit for e in events(out, ev.Dtmf)]
    assert digits == ["5", "#"]
