"""A whole phone call over the real Twilio Media Streams websocket, in real time.

The caller is synthesized speech sent as 8 kHz mu-law; it listens to each agent prompt (with its
own Whisper model) and answers what it was asked, like a person would.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import numpy as np
import pytest

from voice_agent.audio import pcm16_to_float, resample, ulaw_decode
from voice_agent.speech.asr import AsrOptions, transcribe
from voice_agent.testing.twilio_caller import TwilioCaller
from voice_agent.testing.voices import caller_ulaw

pytestmark = pytest.mark.models

ORDER_ID = "735902"


def hear(ear, ulaw: bytes) -> str:
    audio = resample(pcm16_to_float(ulaw_decode(ulaw)), 8000, 16000)
    return transcribe(ear, audio, AsrOptions()).lower()


def answer(heard: str) -> str | None:
    if "goodbye" in heard or "bye" in heard:
        return None
    if "number" in heard and "order" in heard:
        return "It's seven three five nine oh two."
    if "why" in heard or "reason" in heard:
        return "They arrived damaged."
    if "right" in heard or "correct" in heard or "confirm" in heard or "shall i" in heard:
        return "Yes, that's right."
    return "I'd like to return my headphones."


async def test_return_call_opens_work_order_before_hangup(agent_server, caller_voice, ear):
    heard_log: list[str] = []
    async with TwilioCaller(agent_server.ws_url) as caller:
        since = caller.started_at
        work_orders: list[dict] = []
        for _turn in range(10):
            first_audio_at, prompt = await caller.wait_for_prompt(since)
            heard = hear(ear, prompt)
            heard_log.append(heard)
            reply = answer(heard)
            if reply is None:
                break
            since = await caller.say(caller_ulaw(caller_voice, reply))
        # Still on the line (no stop sent yet): the work order must already be in the OMS.
        async with httpx.AsyncClient(base_url=agent_server.base_url) as http:
            response = await http.get("/oms/work-orders", params={"call_sid": caller.call_sid})
            response.raise_for_status()
            work_orders = response.json()
        if not caller.closed_by_server:
            await caller.stop()
        media = [r for r in caller.received if r.event == "media"]
    async with httpx.AsyncClient(base_url=agent_server.base_url) as http:
        for _ in range(50):  # the call record is closed once the pipeline has shut down
            record = (await http.get(f"/calls/{caller.call_sid}")).json()
            if record.get("outcome"):
                break
            await asyncio.sleep(0.2)

    transcript = "\n".join(heard_log)
    print("caller heard:\n" + transcript)
    assert len(work_orders) == 1, transcript
    order = work_orders[0]
    assert order["type"] == "return"
    assert order["order_id"] == ORDER_ID
    assert "damage" in order["reason"].lower(), order
    assert order["call_sid"] == caller.call_sid
    # The agent read the work order's reference out, character by character, and the caller
    # heard a return number being given.
    agent_turns = [t["text"] for t in record["turns"] if t["speaker"] == "agent"]
    spoken = [t for t in agent_turns if order["id"] in "".join(ch for ch in t if ch.isalnum())]
    assert spoken, agent_turns
    assert "number" in heard_log[-1]
    assert record["outcome"] == "resolved" and record["channel"] == "twilio"
    # Agent audio: valid mu-law media events for our stream, real speech energy.
    assert not caller.bad_messages, caller.bad_messages[:3]
    assert media and all(0 < len(m.payload) <= 8000 for m in media)
    pcm = pcm16_to_float(ulaw_decode(b"".join(m.payload for m in media)))
    assert float(np.sqrt(np.mean(pcm**2))) > 0.01
    assert time.monotonic() - caller.started_at < 120
