"""A whole returns call over SIP: SIPp dials the agent, speaks synthesized English (Piper,
8 kHz mu-law RTP pcaps made at test time) and types the order number as RFC 4733 DTMF; the
real pipeline (VAD, Whisper, dialog, Piper) answers and opens the work order, then hangs up.

SIPp cannot listen, so the caller's turns follow fixed pauses sized for the agent's prompts.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from voice_agent.registry import ModelRegistry
from voice_agent.services import build_backends, build_services
from voice_agent.settings import Settings
from voice_agent.sip.server import start_sip

from .rtp_pcap import speech_pcaps
from .sipp import dtmf_actions, free_udp_port, render, requires_sipp, run_sipp

pytestmark = [requires_sipp, pytest.mark.sipp, pytest.mark.models]

ORDER_ID = "735902"


def steps_xml(turns: list[tuple[str, object]], pcaps: dict[str, tuple[Path, float]]) -> str:
    lines = []
    for kind, value in turns:
        if kind == "wait":
            lines.append(f'  <pause milliseconds="{value}"/>')
        elif kind == "say":
            path, seconds = pcaps[str(value)]
            lines.append(f'  <nop><action><exec play_pcap_audio="{path}"/></action></nop>')
            lines.append(f'  <pause milliseconds="{int(seconds * 1000) + 200}"/>')
        elif kind == "dtmf":
            lines.append(dtmf_actions(str(value), gap_ms=350))
    return "\n".join(lines)


async def test_return_call_over_sip_opens_the_work_order(tmp_path):
    said = ["I'd like to return an order.", "It arrived damaged.", "Yes, that's right."]
    pcaps = dict(zip(said, speech_pcaps(tmp_path, said), strict=True))
    turns: list[tuple[str, object]] = [
        ("wait", 6500),  # greeting
        ("say", said[0]),
        ("wait", 8500),  # "What's your order number? You can also type it on your keypad..."
        ("dtmf", ORDER_ID + "#"),
        ("wait", 5500),  # "What's the reason for the return?"
        ("say", said[1]),
        ("wait", 10500),  # read-back: "To confirm: you're returning ... Shall I open the return?"
        ("say", said[2]),
    ]
    scenario = render(
        "caller_dialog.xml", tmp_path, steps=steps_xml(turns, pcaps), bye_timeout_ms=45000
    )

    settings = Settings(data_dir=tmp_path / "var", sip_port=free_udp_port(), sip_host="127.0.0.1")
    backends = build_backends(settings)
    backends.outbox.start()
    models = await asyncio.to_thread(ModelRegistry.load, settings)
    services = build_services(settings, models, backends)
    sip = await start_sip(settings, lambda: services)
    assert sip is not None
    try:
        run = await run_sipp(scenario, target_port=settings.sip_port, timeout_s=110)
        for _ in range(100):
            if not sip.calls:
                break
            await asyncio.sleep(0.1)
        (call,) = sip.finished
        work_orders = await backends.oms_client.list_work_orders(call.info.call_sid)
        record = await backends.calls.get_call(call.info.call_sid)
    finally:
        await sip.stop()
        await backends.aclose()

    assert run.returncode == 0, run.explain()  # answered, and the agent sent the BYE
    assert call.hung_up_by_agent
    assert call.digits == list(ORDER_ID + "#")
    assert len(work_orders) == 1, record.to_dict() if record else None
    order = work_orders[0]
    assert order.type == "return" and order.order_id == ORDER_ID
    assert "damage" in order.reason.lower()
    assert call.info.caller == "+15550178830" and call.info.channel == "sip"
    assert record is not None and record.channel == "sip"
    assert record.caller and record.caller.endswith("30")  # stored masked (PII)
    print("\n" + "\n".join(f"{t.speaker}: {t.text}" for t in record.turns))
    assert record.outcome is not None
