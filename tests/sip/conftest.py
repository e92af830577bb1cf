"""What the SIPp tests share: a SIP server per test, waiting for calls to settle, the caller's
scenario, and a socket that records the RTP the agent sends."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from voice_agent.capacity import CallCapacity
from voice_agent.sip.options import SipOptions
from voice_agent.sip.server import SipServer

from .agent import ToneAgent
from .sipp import free_udp_port, render


@pytest.fixture
async def start_server():
    servers: list[SipServer] = []

    async def start(
        agent: ToneAgent, capacity: CallCapacity | None = None, **options: object
    ) -> SipServer:
        opts = SipOptions(
            host="127.0.0.1", port=free_udp_port(), rtp_port=free_udp_port(), **options
        )
        server = SipServer(opts, agent.on_call, capacity=capacity)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()
    await asyncio.sleep(0)
    left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
    assert not left, f"tasks left running after the SIP server stopped: {left}"


async def until(condition: Callable[[], object], timeout: float = 5.0) -> None:
    """Poll ``condition`` every 50 ms until it holds or ``timeout`` passes (callers assert)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)


async def settle(server: SipServer, timeout: float = 8.0) -> None:
    """Wait until every call has been torn down and its pipeline finished."""
    await until(lambda: not server.calls, timeout)
    assert not server.calls, f"calls left: {server.calls}"


def call_scenario(tmp_path: Path, name: str = "caller_bye.xml", **values: object) -> Path:
    defaults: dict[str, object] = {
        "media_port": "[auto_media_port]",
        "pt": 0,
        "codec": "PCMU",
        "bye_timeout_ms": 15000,
    }
    return render(name, tmp_path, **(defaults | values))


class RtpSink(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.packets: list[tuple[float, bytes]] = []

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.packets.append((asyncio.get_running_loop().time(), data))


@pytest.fixture
async def rtp_sink():
    """A socket on a free port that records the RTP sent to it: (its port, the recorder)."""
    port = free_udp_port()
    transport, sink = await asyncio.get_running_loop().create_datagram_endpoint(
        RtpSink, local_addr=("127.0.0.1", port)
    )
    yield port, sink
    transport.close()
