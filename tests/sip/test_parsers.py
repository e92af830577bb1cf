"""SIP message, SDP and RTP/RFC 4733 parsers (pure), including fuzzing of the SIP parser."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voice_agent.sip.core import UserAgent
from voice_agent.sip.message import SipParseError, host_port, param, parse, response, uri_of
from voice_agent.sip.rtp import DtmfReceiver, RtpPacket, RtpSender, build_rtp, parse_rtp
from voice_agent.sip.sdp import SdpError, answer, negotiate, parse_offer

from .test_core import CALLER, request

OFFER = (
    "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
    "m=audio 49170 RTP/AVP 18 8 0 101\r\nc=IN IP4 192.0.2.7\r\n"
    "a=rtpmap:18 G729/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    "a=ptime:20\r\n"
)


def test_parse_request_with_compact_and_folded_headers():
    data = (
        b"INVITE sip:a@h SIP/2.0\r\nv: SIP/2.0/UDP x;branch=z9hG4bKa\r\nf: <sip:b@h>;tag=1\r\n"
        b"t: <sip:a@h>\r\ni: id1\r\nCSeq: 7 INVITE\r\nSubject: one\r\n two\r\nl: 4\r\n\r\nbodyEXTRA"
    )
    msg = parse(data)
    assert (msg.method, msg.uri, msg.call_id, msg.cseq) == (
        "INVITE",
        "sip:a@h",
        "id1",
        (7, "INVITE"),
    )
    assert msg.branch == "z9hG4bKa" and msg.from_tag == "1" and msg.to_tag is None
    assert msg.get("subject") == "one two" and msg.body == b"body"
    assert parse(msg.to_bytes()).headers[:5] == msg.headers[:5]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"HELLO\r\n\r\n",
        b"INVITE sip:a@h SIP/2.0\r\nVia: x\r\n\r\n",  # missing headers
        b"SIP/2.0 99 Odd\r\n\r\n",
        b"INVITE sip:a@h SIP/2.0\r\nVia: v\r\nFrom: f\r\nTo: t\r\nCall-ID: c\r\n"
        b"CSeq: x INVITE\r\n\r\n",
        b"BYE sip:a@h SIP/2.0\r\nVia: v\r\nFrom: f\r\nTo: t\r\nCall-ID: c\r\nCSeq: 1 BYE\r\n"
        b"Content-Length: 99\r\n\r\nshort",
        b"BYE sip:a@h SIP/2.0\r\nnot a header\r\n\r\n",
    ],
)
def test_parse_rejects_malformed(data):
    with pytest.raises(SipParseError):
        parse(data)


def test_response_copies_dialog_headers_and_adds_tag():
    req = parse(request("INVITE"))
    res = parse(response(req, 180, to_tag="abc").to_bytes())
    assert res.status == 180 and res.reason == "Ringing" and res.to_tag == "abc"
    assert res.get("Via") == req.get("Via") and res.cseq == req.cseq and res.call_id == req.call_id


def test_uri_helpers():
    assert uri_of('"Bob" <sip:b@h:5070;transport=udp>;tag=9') == "sip:b@h:5070;transport=udp"
    assert param('"Bob" <sip:b@h;lr>;tag=9', "tag") == "9"
    assert param("<sip:b@h;lr>", "tag") is None
    assert host_port("sip:b@10.0.0.1:5070;transport=udp") == ("10.0.0.1", 5070)
    assert host_port("sip:pbx.example") == ("pbx.example", 5060)
    assert host_port("sip:[2001:db8::1]:5080") == ("2001:db8::1", 5080)


def test_sdp_picks_the_offerers_first_g711_and_dtmf_type():
    choice = negotiate(parse_offer(OFFER))
    assert choice.remote == ("192.0.2.7", 49170)  # media-level c= wins
    assert (choice.codec, choice.payload_type, choice.dtmf_payload_type) == ("PCMA", 8, 101)
    text = answer(choice, "198.51.100.2", 40000, 42)
    assert "m=audio 40000 RTP/AVP 8 101" in text and "a=rtpmap:8 PCMA/8000" in text
    assert "a=ptime:20" in text and "c=IN IP4 198.51.100.2" in text
    again = negotiate(parse_offer(text))
    assert again.remote == ("198.51.100.2", 40000) and again.codec == "PCMA"


def test_sdp_static_payload_types_and_failures():
    static = "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 5004 RTP/AVP 0\r\n"
    assert negotiate(parse_offer(static)).codec == "PCMU"
    with pytest.raises(SdpError):
        negotiate(parse_offer(static.replace("RTP/AVP 0", "RTP/AVP 18")))
    with pytest.raises(SdpError):
        parse_offer("v=0\r\nm=video 5004 RTP/AVP 96\r\n")
    with pytest.raises(SdpError):
        negotiate(parse_offer(static.replace("audio 5004", "audio 0")))


def test_rtp_round_trip_with_csrc_extension_and_padding():
    packet = RtpPacket(0, True, 65535, 4294967200, 0xABCDEF01, b"\x7f" * 160)
    assert parse_rtp(build_rtp(packet)) == packet
    raw = bytearray(build_rtp(RtpPacket(8, False, 1, 2, 3, b"abc")))
    raw[0] |= 0x20 | 0x10 | 0x01  # padding, extension, one CSRC
    data = bytes(raw[:12]) + b"CSRC" + struct.pack("!HH", 0xBEDE, 1) + b"EXTN" + b"abc"
    data += b"\x00\x00\x03"
    parsed = parse_rtp(data)
    assert parsed is not None and parsed.payload == b"abc" and parsed.payload_type == 8
    assert parse_rtp(b"\x00" * 20) is None and parse_rtp(b"\x80\x00") is None


def test_rtp_sender_numbers_packets():
    sender = RtpSender(0)
    first, second = (parse_rtp(sender.packet(b"\xff" * 160)) for _ in range(2))
    assert first is not None and second is not None
    assert first.marker and not second.marker
    assert (second.seq - first.seq) % 65536 == 1
    assert (second.timestamp - first.timestamp) % 2**32 == 160


def test_dtmf_one_digit_per_event_despite_repeats_and_end_packets():
    receiver = DtmfReceiver()
    digits = []
    for ts, event in [(1000, 5), (1000, 5), (1000, 5), (2000, 11), (2000, 11), (3000, 10)]:
        for end in (0, 0x80):
            payload = bytes([event, end | 10]) + struct.pack("!H", 800)
            digit = receiver.feed(RtpPacket(101, False, 0, ts, 7, payload))
            if digit:
                digits.append(digit)
    assert digits == ["5", "#", "*"]
    assert receiver.feed(RtpPacket(101, False, 0, 9, 7, b"\x01")) is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_fuzz_user_agent_never_raises_on_random_bytes(data):
    ua = UserAgent(("127.0.0.1", 5060))
    ua.receive(data, CALLER, 0.0)
    ua.tick(40.0)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([b"INVITE", b"BYE", b"ACK", b"CANCEL", b"OPTIONS", b"NOTIFY", b"X"]),
    st.lists(
        st.sampled_from(
            ["Via", "From", "To", "Call-ID", "CSeq", "Content-Length", "Contact", "Event"]
        ),
        max_size=8,
    ),
    st.text(max_size=40),
)
def test_fuzz_user_agent_with_sip_shaped_messages(method, names, value):
    lines = [method + b" sip:a@h SIP/2.0"] + [
        f"{n}: {value}".encode("utf-8", "replace") for n in names
    ]
    ua = UserAgent(("127.0.0.1", 5060))
    ua.receive(b"\r\n".join(lines) + b"\r\n\r\n", CALLER, 0.0)


def test_sequence_gate_drops_duplicates_and_late_packets_across_wraparound():
    from voice_agent.sip.rtp import SequenceGate

    gate = SequenceGate()

    def pkt(seq: int, ssrc: int = 1) -> RtpPacket:
        return RtpPacket(0, False, seq, 0, ssrc, b"")

    verdicts = [gate.accept(pkt(s)) for s in (65534, 65535, 65535, 0, 65533, 1, 3, 2)]
    assert verdicts == [True, True, False, True, False, True, True, False]
    assert gate.accept(pkt(100, ssrc=2))  # new stream
    assert gate.dropped == 3
