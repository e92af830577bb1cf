"""Barge-in over the real Twilio websocket: speech over a prompt stops it (``clear``); a short
noise burst does not."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from voice_agent.testing.twilio_caller import FRAME_BYTES, place_call
from voice_agent.testing.voices import caller_ulaw, to_phone_ulaw

pytestmark = pytest.mark.models


async def wait_for_first_media(caller, timeout: float = 15.0) -> float:
    for _ in range(int(timeout / 0.02)):
        media = caller.media_since(caller.started_at)
        if media:
            return media[0].at
        await asyncio.sleep(0.02)
    raise TimeoutError("no greeting")


async def test_caller_speech_over_the_greeting_stops_it(agent_server, caller_voice):
    async with await place_call(agent_server.base_url) as caller:
        first = await wait_for_first_media(caller)
        await asyncio.sleep(0.8)  # into the greeting
        speech = caller_ulaw(caller_voice, "Sorry, I want to return my headphones.")
        started = asyncio.get_running_loop().time()
        speaking = asyncio.ensure_future(caller.say(speech))
        for _ in range(150):
            if any(r.event == "clear" for r in caller.received):
                break
            await asyncio.sleep(0.02)
        clears = [r for r in caller.received if r.event == "clear"]
        await speaking
        assert clears, "the agent did not stop for the caller"
        reaction = clears[0].at - started
        assert reaction < 1.5, reaction
        # The greeting's audio stopped at the clear: no more greeting media for a while after it.
        after = [m for m in caller.media_since(clears[0].at + 0.2) if m.at < clears[0].at + 0.6]
        assert not after
        # ...and the agent answered what the caller said (asks for the order number).
        _, prompt = await caller.wait_for_prompt(caller.last_voice_sent_at or first)
        assert prompt
        await caller.stop()


async def test_a_short_noise_burst_does_not_stop_the_prompt(agent_server):
    async with await place_call(agent_server.base_url) as caller:
        await wait_for_first_media(caller)
        await asyncio.sleep(0.8)
        rng = np.random.default_rng(7)
        burst = (0.3 * rng.standard_normal(int(0.12 * 16000))).astype(np.float32)  # a click/cough
        await caller.say(to_phone_ulaw(burst, 16000).ljust(FRAME_BYTES, b"\xff"))
        await asyncio.sleep(1.5)
        assert not [r for r in caller.received if r.event == "clear"]
        await caller.stop()
