"""The asyncio SIP endpoint on real loopback sockets, driven by a hand-rolled caller (no SIPp):
allow-list on every request, RTP only from the far end, SIP INFO DTMF, media moved by re-INVITE,
and garbage datagrams that must not disturb a live call."""

from __future__ import annotations

import asyncio
import os
import socket

import pytest

from voice_agent.sip.message import SipMessage, parse
from voice_agent.sip.options import SipOptions
from voice_agent.sip.rtp import RtpPacket, build_rtp, parse_rtp
from voice_agent.sip.sdp import negotiate, parse_offer
from voice_agent.sip.server import SipServer

from .agent import ToneAgent
from .sipp import free_udp_port


class Udp(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, tuple]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data, addr) -> None:
        self.queue.put_nowait((data, addr))

    async def recv_sip(self, timeout: float = 2.0) -> SipMessage:
        while True:
            data, _ = await asyncio.wait_for(self.queue.get(), timeout)
            if data.startswith(b"SIP/2.0") or data[:1].isalpha():
                return parse(data)

    def drain(self) -> list[bytes]:
        items = []
        while not self.queue.empty():
            items.append(self.queue.get_nowait()[0])
        return items


async def udp(host: str = "127.0.0.1") -> tuple[Udp, int]:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(Udp, local_addr=(host, 0))
    return proto, transport.get_extra_info("sockname")[1]


def sdp(port: int) -> str:
    return (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\n"
    )


def req(
    method: str, port: int, cseq: int, *, to_tag: str | None = None, body: str = "", extra: str = ""
) -> bytes:
    to = "<sip:agent@127.0.0.1>" + (f";tag={to_tag}" if to_tag else "")
    return (
        f"{method} sip:agent@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{method}-{cseq}\r\n"
        f"From: <sip:+15550100@127.0.0.1:{port}>;tag=me\r\nTo: {to}\r\n"
        f"Call-ID: raw-call\r\nCSeq: {cseq} {method}\r\n"
        f"Contact: <sip:me@127.0.0.1:{port}>\r\n{extra}"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


def dtmf_packet(event: int, timestamp: int) -> bytes:
    return build_rtp(RtpPacket(101, True, 1, timestamp, 99, bytes([event, 0x0A, 0, 160])))


@pytest.fixture
async def server():
    agent = ToneAgent(tone_s=0.5)
    srv = SipServer(
        SipOptions(port=free_udp_port(), rtp_port=free_udp_port(), allow_from=("127.0.0.1",)),
        agent.on_call,
    )
    await srv.start()
    srv.agent = agent  # type: ignore[attr-defined]
    yield srv
    await srv.stop()


async def test_requests_from_outside_the_allow_list_get_no_answer(server):
    stranger, _ = await udp("127.0.0.2")  # loopback, but not on the list
    options = req("OPTIONS", 5999, 1)
    assert stranger.transport is not None
    stranger.transport.sendto(options, ("127.0.0.1", server.options.port))
    with pytest.raises(TimeoutError):
        await stranger.recv_sip(timeout=0.4)
    stranger.transport.sendto(
        req("INVITE", 5999, 1, body=sdp(4000)), ("127.0.0.1", server.options.port)
    )
    statuses = [(await stranger.recv_sip()).status for _ in range(2)]
    assert statuses == [100, 403]
    friend, port = await udp()
    assert friend.transport is not None
    friend.transport.sendto(req("OPTIONS", port, 1), ("127.0.0.1", server.options.port))
    assert (await friend.recv_sip()).status == 200


async def test_live_call_survives_garbage_and_takes_dtmf_only_from_the_far_end(server):
    sip, sip_port = await udp()
    rtp, rtp_port = await udp()
    stranger, _ = await udp("127.0.0.2")
    assert sip.transport and rtp.transport and stranger.transport
    agent_sip = ("127.0.0.1", server.options.port)

    sip.transport.sendto(req("INVITE", sip_port, 1, body=sdp(rtp_port)), agent_sip)
    statuses, ok = [], None
    while ok is None:
        msg = await sip.recv_sip()
        statuses.append(msg.status)
        ok = msg if msg.status == 200 else None
    assert statuses == [100, 180, 200]
    tag = ok.to_tag
    agent_rtp = ("127.0.0.1", negotiate(parse_offer(ok.body.decode())).remote[1])
    sip.transport.sendto(req("ACK", sip_port, 1, to_tag=tag), agent_sip)

    for _ in range(200):  # garbage at both sockets
        sip.transport.sendto(os.urandom(100), agent_sip)
        stranger.transport.sendto(os.urandom(60), agent_rtp)
    stranger.transport.sendto(dtmf_packet(9, 5000), agent_rtp)  # a stranger's "9"
    rtp.transport.sendto(dtmf_packet(1, 6000), agent_rtp)  # the caller's "1"
    info = req(
        "INFO",
        sip_port,
        2,
        to_tag=tag,
        body="Signal=7\r\nDuration=100\r\n",
        extra="Content-Type: application/dtmf-relay\r\n",
    )
    sip.transport.sendto(info, agent_sip)
    assert (await sip.recv_sip()).status == 200

    await asyncio.sleep(0.3)
    before = [parse_rtp(d) for d in rtp.drain()]
    assert len(before) >= 10 and all(p is not None and p.payload_type == 0 for p in before)

    moved, moved_port = await udp()  # re-INVITE moves our media to another port
    reinvite = req("INVITE", sip_port, 3, to_tag=tag, body=sdp(moved_port))
    sip.transport.sendto(reinvite.replace(b"z9hG4bK-INVITE-3", b"z9hG4bK-re"), agent_sip)
    assert (await sip.recv_sip()).status == 200
    await asyncio.sleep(0.3)
    rtp.drain()
    await asyncio.sleep(0.2)
    assert len(moved.drain()) >= 5 and rtp.drain() == []

    sip.transport.sendto(req("BYE", sip_port, 4, to_tag=tag), agent_sip)
    assert (await sip.recv_sip()).status == 200
    for _ in range(100):
        if not server.calls:
            break
        await asyncio.sleep(0.05)
    (record,) = server.agent.calls
    assert record.finished
    # RTP and INFO digits from the caller (either order: two sockets), never the stranger's
    assert sorted(record.dtmf) == ["1", "7"]
    for proto in (sip, rtp, stranger, moved):
        assert proto.transport is not None
        proto.transport.close()


def test_loopback_alias_is_usable():
    # the tests above send from 127.0.0.2; Linux routes all of 127/8 to loopback
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.2", 0))
