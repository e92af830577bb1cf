"""Real SIP calls from SIPp (Debian's sip-tester) to the agent's SIP endpoint on loopback.

Each test starts a :class:`SipServer` (the agent's own SIP stack) in the test's event loop with
a small real pipecat pipeline (:class:`ToneAgent`), places calls with a SIPp scenario from
``scenarios/`` and checks what both ends saw. The tests of many calls at once are
``test_sipp_concurrency.py``'s.
"""

from __future__ import annotations

import asyncio
import statistics
import struct

import numpy as np
import pytest

from voice_agent.audio import ulaw_decode

from .agent import TONE_HZ, ToneAgent
from .conftest import call_scenario, settle, until
from .sipp import PCAPS, dtmf_actions, free_udp_port, render, requires_sipp, run_sipp

pytestmark = [requires_sipp, pytest.mark.sipp]


async def test_pcma_call_with_audio_dtmf_and_caller_bye(tmp_path, start_server):
    agent = ToneAgent(tone_s=1.0, keep_audio=True)
    server = await start_server(agent)
    scenario = call_scenario(
        tmp_path,
        pt=8,
        codec="PCMA",
        audio_pcap=PCAPS / "g711a.pcap",
        audio_ms=5000,
        dtmf=dtmf_actions("1#"),
        tail_ms=500,
        bye_cseq=2,
    )
    run = await run_sipp(scenario, target_port=server.options.port, timeout_s=30)
    assert run.returncode == 0, run.explain()
    await settle(server)

    (record,) = agent.calls
    (call,) = server.finished
    assert record.finished and record.caller == "+15550001"
    assert record.call_sid == f"sip-{call.leg.sip_call_id}"
    assert record.dtmf == ["1", "#"]  # RFC 4733 events reached the pipeline, in order
    assert record.audio_rates == {16000}
    # ~6.3 s of call: the pcap's 30 ms packets as they come, silence filled in between
    assert len(record.audio) / (16000 * 2) >= 5.5
    speech = np.frombuffer(bytes(record.audio), "<i2").astype(np.float64)
    assert np.sqrt(np.mean(speech**2)) > 300  # the pcap's speech, not silence
    assert not call.hung_up_by_agent and call.end_reason is not None
    # The 1 s tone went out (pipecat's 16 -> 8 kHz stream resampler keeps back ~80 ms).
    assert call.leg.playout.frames_played >= 45
    stats = call.leg.rtp_stats
    # SIPp cuts the speech pcap when the DTMF pcap starts at 5 s: ~166 audio + 20 DTMF packets.
    assert stats["rx_packets"] >= 180 and stats["tx_packets"] >= 250, stats
    assert call.leg.frames_received >= 160


async def test_pcmu_agent_hangs_up_after_its_audio_played_paced_at_20ms(
    tmp_path, start_server, rtp_sink
):
    sink_port, sink = rtp_sink
    agent = ToneAgent(tone_s=1.0, then="hang_up")
    server = await start_server(agent)
    scenario = call_scenario(tmp_path, "agent_bye.xml", media_port=sink_port)
    run = await run_sipp(scenario, target_port=server.options.port, timeout_s=20)
    assert run.returncode == 0, run.explain()
    await settle(server)

    (call,) = server.finished
    assert call.hung_up_by_agent
    rtp = [(t, d) for t, d in sink.packets if len(d) >= 12 and d[0] >> 6 == 2]
    assert len(rtp) >= 50
    headers = [struct.unpack("!BBHII", d[:12]) for _, d in rtp]
    assert {h[1] & 0x7F for h in headers} == {0}  # PCMU
    assert {len(d) for _, d in rtp} == {12 + 160}  # ptime 20: 160 samples a packet
    seqs = [h[2] for h in headers]
    stamps = [h[3] for h in headers]
    assert all((b - a) & 0xFFFF == 1 for a, b in zip(seqs, seqs[1:], strict=False))
    assert all((b - a) & 0xFFFFFFFF == 160 for a, b in zip(stamps, stamps[1:], strict=False))
    gaps = np.diff([t for t, _ in rtp]) * 1000
    assert abs(statistics.median(gaps) - 20) < 2, gaps
    span = rtp[-1][0] - rtp[0][0]
    assert abs(span - 0.02 * (len(rtp) - 1)) < 0.1 * span  # paced, not burst

    audio = np.frombuffer(ulaw_decode(b"".join(d[12:] for _, d in rtp)), "<i2")
    frames = audio.reshape(-1, 160).astype(np.float64)
    loud = np.sqrt((frames**2).mean(axis=1)) > 1000
    assert loud.sum() >= 45  # the whole tone was heard before the BYE
    tone_part = frames[loud].reshape(-1)
    spectrum = np.abs(np.fft.rfft(tone_part))
    peak = np.fft.rfftfreq(len(tone_part), 1 / 8000)[np.argmax(spectrum)]
    assert abs(peak - TONE_HZ) < 5


async def test_cancel_while_ringing_never_starts_a_pipeline(tmp_path, start_server):
    agent = ToneAgent()
    server = await start_server(agent, ring_s=2.0)
    run = await run_sipp(
        render("cancel.xml", tmp_path), target_port=server.options.port, timeout_s=15
    )
    assert run.returncode == 0, run.explain()
    await asyncio.sleep(2.2)  # past the ring time: a late answer would start a pipeline now
    await settle(server)
    assert agent.calls == [] and server.stats.answered == 0 and server.stats.offered == 1


async def test_options_keepalive_is_answered(tmp_path, start_server):
    server = await start_server(ToneAgent())
    run = await run_sipp(
        render("options.xml", tmp_path), target_port=server.options.port, timeout_s=10
    )
    assert run.returncode == 0, run.explain()


async def test_transfer_by_refer_carries_the_summary(tmp_path, start_server):
    agent = ToneAgent(
        tone_s=0.5,
        then="transfer",
        transfer_target="sip:desk@127.0.0.1:5999",
        summary={"order_id": "A-1001", "reason": "arrived broken"},
    )
    server = await start_server(agent)
    scenario = call_scenario(
        tmp_path,
        "refer.xml",
        refer_regexp="sip:desk@127.0.0.1:5999.*X-VA-Reason=arrived",
        order_id="A-1001",
        refer_timeout_ms=10000,
    )
    run = await run_sipp(scenario, target_port=server.options.port, timeout_s=20)
    assert run.returncode == 0, run.explain()
    await settle(server)
    (record,) = agent.calls
    assert record.transfer_ok is True
    (call,) = server.finished
    assert not call.hung_up_by_agent  # the transferee left the call, as it should


async def test_source_outside_allow_list_gets_403(tmp_path, start_server):
    agent = ToneAgent()
    server = await start_server(agent, allow_from=("192.0.2.0/24",))
    run = await run_sipp(
        render("rejected.xml", tmp_path, code=403), target_port=server.options.port, timeout_s=10
    )
    assert run.returncode == 0, run.explain()
    await settle(server)
    assert agent.calls == [] and server.stats.rejected == 1


FROM = (
    'From: "Caller [call_number]" <sip:+1555000[call_number]@[local_ip]:[local_port]>'
    ";tag=[pid]SIPpTag[call_number]"
)

ANSWERED_THEN_BYE = """  <recv response="200"/>
  <send>
    <![CDATA[
      ACK sip:agent@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      FROM
      To: <sip:agent@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 ACK
      Content-Length: 0
    ]]>
  </send>
  <pause milliseconds="500"/>
  <send retrans="500">
    <![CDATA[
      BYE sip:agent@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      FROM
      To: <sip:agent@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 3 BYE
      Content-Length: 0
    ]]>
  </send>
  <recv response="200"/>""".replace("FROM", FROM)

CHALLENGED_AGAIN = """  <recv response="401"/>
  <send>
    <![CDATA[
      ACK sip:agent@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-4]
      FROM
      To: <sip:agent@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 ACK
      Content-Length: 0
    ]]>
  </send>""".replace("FROM", FROM)


@pytest.mark.parametrize(("password", "answered"), [("s3cret", True), ("guess", False)])
async def test_digest_auth_on_invite(tmp_path, start_server, password, answered):
    agent = ToneAgent(tone_s=0.2)
    server = await start_server(agent, auth_user="trunk", auth_password="s3cret")
    final = ANSWERED_THEN_BYE if answered else CHALLENGED_AGAIN
    scenario = render("auth.xml", tmp_path, user="trunk", password=password, final=final)
    run = await run_sipp(scenario, target_port=server.options.port, timeout_s=15)
    assert run.returncode == 0, run.explain()
    await settle(server)
    assert len(agent.calls) == (1 if answered else 0)
    assert server.stats.rejected == (1 if answered else 2)


async def test_register_with_digest_to_a_trunk(tmp_path, start_server):
    registrar_port = free_udp_port()
    scenario = render(
        "registrar.xml",
        tmp_path,
        user="agent",
        password="pw",
        expires=300,
        unregister_timeout_ms=15000,
    )
    sipp = asyncio.create_task(
        run_sipp(scenario, server_mode=True, local_port=registrar_port, timeout_s=20)
    )
    await asyncio.sleep(0.3)  # SIPp binds its port
    server = await start_server(
        ToneAgent(),
        register_uri=f"sip:127.0.0.1:{registrar_port}",
        register_user="agent",
        register_password="pw",
    )
    await until(lambda: server.registration and server.registration[0] == 200)
    assert server.registration is not None and server.registration[0] == 200, server.registration
    await server.stop()  # sends the un-REGISTER the registrar scenario waits for
    run = await sipp
    assert run.returncode == 0, run.explain()


async def test_declined_refer_reports_failure_and_the_call_goes_on(tmp_path, start_server):
    agent = ToneAgent(
        tone_s=0.3,
        then="transfer",
        transfer_target="+1 555 010 0199",
        summary={"order_id": "A-1001"},
    )
    server = await start_server(agent)
    scenario = call_scenario(
        tmp_path,
        "refer_declined.xml",
        refer_regexp="sip:\\+15550100199@127.0.0.1",
        order_id="A-1001",
        refer_timeout_ms=10000,
    )
    run = await run_sipp(scenario, target_port=server.options.port, timeout_s=20)
    assert run.returncode == 0, run.explain()
    await settle(server)
    (record,) = agent.calls
    assert record.transfer_ok is False
    assert not server.finished[0].hung_up_by_agent  # the caller ended it, not the failed REFER
