"""Many SIP calls at once from SIPp to the agent's SIP endpoint on loopback: answered, paced,
turned away beyond capacity or before the agent is ready, and hung up when it stops."""

from __future__ import annotations

import asyncio
import statistics
import struct
import time

import numpy as np
import pytest

from voice_agent.capacity import CallCapacity
from voice_agent.sip.options import SipOptions
from voice_agent.sip.server import SipServer

from .agent import ToneAgent, tone
from .conftest import call_scenario, settle, until
from .rtp_pcap import ulaw_pcap
from .sipp import dtmf_actions, free_udp_port, render, requires_sipp, run_sipp

pytestmark = [requires_sipp, pytest.mark.sipp]


async def test_concurrent_calls_are_answered_and_torn_down(tmp_path, start_server):
    calls = 12
    agent = ToneAgent(tone_s=1.0)
    server = await start_server(agent)
    pcm8k = tone(2.5, rate=8000, freq=300)
    pcap = ulaw_pcap(tmp_path / "caller_tone.pcap", pcm8k)
    scenario = call_scenario(
        tmp_path,
        audio_pcap=pcap,
        audio_ms=3000,
        dtmf=dtmf_actions("5"),
        tail_ms=300,
        bye_cseq=2,
    )
    run = await run_sipp(
        scenario, target_port=server.options.port, calls=calls, rate=calls * 2, timeout_s=40
    )
    assert run.returncode == 0, run.explain()
    await settle(server, timeout=15)

    assert server.stats.answered == calls and server.stats.completed == calls
    assert server.stats.peak_active >= 10, server.stats
    assert len(agent.calls) == calls and all(r.finished for r in agent.calls)
    assert all(r.dtmf == ["5"] for r in agent.calls), [r.dtmf for r in agent.calls]
    assert all(r.audio_frames >= 150 for r in agent.calls), [r.audio_frames for r in agent.calls]
    tx = [c.leg.rtp_stats.get("tx_packets", 0) for c in server.finished]
    rx = [c.leg.rtp_stats.get("rx_packets", 0) for c in server.finished]
    assert min(tx) >= 150 and min(rx) >= 120, (tx, rx)
    assert all(c.leg.playout.frames_played >= 45 for c in server.finished)
    setup = sorted(server.stats.setup_ms)
    print(
        f"\nSIP concurrency: {calls} calls, peak {server.stats.peak_active} concurrent, "
        f"INVITE->media setup median {statistics.median(setup):.1f} ms, max {setup[-1]:.1f} ms, "
        f"RTP tx/call min {min(tx)} rx/call min {min(rx)}, sipp {run.elapsed_s:.1f} s"
    )


async def test_concurrent_calls_keep_20ms_pacing(tmp_path, start_server, rtp_sink):
    calls = 12
    sink_port, sink = rtp_sink
    agent = ToneAgent(tone_s=2.0, then="hang_up")
    server = await start_server(agent)
    scenario = call_scenario(tmp_path, "agent_bye.xml", media_port=sink_port)
    run = await run_sipp(
        scenario, target_port=server.options.port, calls=calls, rate=calls * 2, timeout_s=30
    )
    assert run.returncode == 0, run.explain()
    await settle(server)

    assert server.stats.peak_active >= 10 and len(server.finished) == calls
    streams: dict[int, list[tuple[float, int]]] = {}
    for t, data in sink.packets:
        ssrc, seq = struct.unpack("!I", data[8:12])[0], struct.unpack("!H", data[2:4])[0]
        streams.setdefault(ssrc, []).append((t, seq))
    assert len(streams) == calls
    gaps_ms: list[float] = []
    for packets in streams.values():
        assert len(packets) >= 90  # ~2 s of tone, then the BYE
        seqs = [s for _, s in packets]
        assert all((b - a) & 0xFFFF == 1 for a, b in zip(seqs, seqs[1:], strict=False))
        gaps_ms += list(np.diff([t for t, _ in packets]) * 1000)
    gaps = np.array(gaps_ms)
    assert abs(float(np.median(gaps)) - 20) < 2
    print(
        f"\nRTP pacing over {calls} concurrent calls ({len(gaps) + calls} packets): "
        f"median {np.median(gaps):.1f} ms, p95 {np.percentile(gaps, 95):.1f} ms, "
        f"p99 {np.percentile(gaps, 99):.1f} ms, max {gaps.max():.1f} ms"
    )


async def test_calls_beyond_capacity_get_486(tmp_path, start_server):
    agent = ToneAgent(tone_s=1.5, then="hang_up")
    server = await start_server(agent, max_calls=1)
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    first_dir.mkdir()
    second_dir.mkdir()
    first = asyncio.create_task(
        run_sipp(
            call_scenario(first_dir, "agent_bye.xml"), target_port=server.options.port, timeout_s=20
        )
    )
    await until(lambda: agent.calls, timeout=10)  # the first call is up (SIPp may start slowly)
    second = await run_sipp(
        render("rejected.xml", second_dir, code=486), target_port=server.options.port, timeout_s=10
    )
    assert second.returncode == 0, second.explain()
    assert (await first).returncode == 0
    await settle(server)
    assert len(agent.calls) == 1


async def test_the_agents_calls_on_other_channels_count_against_its_capacity(
    tmp_path, start_server
):
    # One slot, held by a Twilio call: the SIP call is busy until that call ends.
    slots = CallCapacity(1)
    agent = ToneAgent(tone_s=0.5, then="hang_up")
    server = await start_server(agent, capacity=slots)
    (tmp_path / "busy").mkdir()
    (tmp_path / "answered").mkdir()
    assert slots.take("CA-twilio", time.monotonic())
    busy = await run_sipp(
        render("rejected.xml", tmp_path / "busy", code=486),
        target_port=server.options.port,
        timeout_s=10,
    )
    assert busy.returncode == 0, busy.explain()
    assert agent.calls == [] and server.stats.rejected == 1
    slots.release("CA-twilio")
    answered = await run_sipp(
        call_scenario(tmp_path / "answered", "agent_bye.xml"),
        target_port=server.options.port,
        timeout_s=20,
    )
    assert answered.returncode == 0, answered.explain()
    await settle(server)
    assert len(agent.calls) == 1 and slots.in_use == 0  # its slot freed when it ended


async def test_invites_get_503_until_the_agent_is_ready(tmp_path):
    ready = False
    agent = ToneAgent()
    server = SipServer(
        SipOptions(port=free_udp_port(), rtp_port=free_udp_port()),
        agent.on_call,
        accepting=lambda: ready,
    )
    await server.start()
    try:
        run = await run_sipp(
            render("rejected.xml", tmp_path, code=503),
            target_port=server.options.port,
            timeout_s=10,
        )
        assert run.returncode == 0, run.explain()
        assert agent.calls == []
    finally:
        await server.stop()


async def test_server_stop_hangs_up_live_calls(tmp_path, start_server):
    agent = ToneAgent(tone_s=0.5, then="wait")
    server = await start_server(agent)
    caller = asyncio.create_task(
        run_sipp(
            call_scenario(tmp_path, "agent_bye.xml", bye_timeout_ms=15000),
            target_port=server.options.port,
            timeout_s=20,
        )
    )
    await until(lambda: agent.calls)
    await asyncio.sleep(0.5)
    await server.stop()  # shutdown mid-call: BYE, pipeline ended, nothing left running
    run = await caller
    assert run.returncode == 0, run.explain()
    assert agent.calls[0].finished and server.calls == {}
    assert server.finished[0].hung_up_by_agent
