"""A caller whose line sends the agent's voice back (a speakerphone: 200 ms late, 15 dB down;
a long line: 700 ms late), over the real Twilio websocket.

With echo cancellation (the default) the greeting plays through, the caller's answer is heard,
and the caller can still talk over a prompt; with it off, the echo pauses the greeting by itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from voice_agent.pipeline.recording import caller_words
from voice_agent.testing.server import AgentProcess
from voice_agent.testing.twilio_caller import Echo, TwilioCaller, place_call
from voice_agent.testing.voices import caller_ulaw

from .test_barge_in import call_events
from .test_twilio_call import REQUEST, hear

pytestmark = pytest.mark.models

SPEAKERPHONE = Echo(delay_s=0.2, return_loss_db=15.0)
LONG_LINE = Echo(delay_s=0.7, return_loss_db=15.0)  # beyond AEC3's own reach, ~0.5 s


@pytest.fixture(scope="module")
def agent_without_echo_cancellation(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AgentProcess]:
    env = {"VOICE_AGENT_ECHO_CANCELLATION": "false"}
    with AgentProcess(tmp_path_factory.mktemp("no-echo-cancel"), env=env) as agent:
        yield agent


async def call_on_an_echoing_line(agent: AgentProcess, echo: Echo = SPEAKERPHONE) -> TwilioCaller:
    caller = await place_call(agent.base_url)
    caller.echo = echo
    return caller


def clears(caller: TwilioCaller) -> list[float]:
    return [r.at for r in caller.received if r.event == "clear"]


def decisions(events: list[dict]) -> list[tuple[float, str, str]]:
    """What the agent heard and decided, for a failure's message: these tests fail now and
    then under load, and the call record is gone with the test's agent."""
    kept = ("vad_start", "vad_stop", "turn", "echo_taken_out_again", "nothing_heard")
    return [
        (e["t"], e["kind"], str(e.get("data", {}).get("text", e.get("text", ""))))
        for e in events
        if e["kind"] in kept
        or e["kind"].startswith(("dialog_barge_in", "dialog_own", "dialog_back", "dialog_ack"))
    ]


async def test_the_agent_does_not_take_its_own_echo_for_the_caller(agent_server, caller_voice, ear):
    async with await call_on_an_echoing_line(agent_server) as caller:
        await caller.wait_for_prompt(caller.started_at)  # the greeting, echoed back whole
        assert not clears(caller), "the greeting's echo paused it"
        since = await caller.say(caller_ulaw(caller_voice, REQUEST))
        _, question = await caller.wait_for_prompt(since)
        await caller.stop()
    assert "order number" in hear(ear, question)
    events = await call_events(agent_server, caller.call_sid)
    assert not clears(caller), (clears(caller), decisions(events))
    said = caller_words(events)
    assert len(said) == 1, (said, decisions(events))  # the caller's request, no echoed prompt


async def test_an_echo_later_than_aec3_reaches_is_not_taken_for_the_caller_either(
    agent_server, caller_voice, ear
):
    """Before the agent found the echo's delay and held its played audio back for it, this
    echo stopped the greeting and the agent answered its own words ("Hi, thanks for coming.").
    Its first return may still pause the greeting for a moment, so the greeting is waited for
    until 2 s of quiet.
    """
    async with await call_on_an_echoing_line(agent_server, LONG_LINE) as caller:
        _, greeting = await caller.wait_for_prompt(caller.started_at, quiet_s=2.0)
        since = await caller.say(caller_ulaw(caller_voice, REQUEST))
        _, question = await caller.wait_for_prompt(since)
        await caller.stop()
    assert "help you today" in hear(ear, greeting)
    assert "order number" in hear(ear, question)
    events = await call_events(agent_server, caller.call_sid)
    said = caller_words(events)
    assert len(said) == 1, (said, decisions(events))


async def test_without_echo_cancellation_the_echo_pauses_the_greeting(
    agent_without_echo_cancellation,
):
    async with await call_on_an_echoing_line(agent_without_echo_cancellation) as caller:
        await caller.first_media_at()
        for _ in range(250):
            if clears(caller):
                break
            await asyncio.sleep(0.02)
        await caller.stop()
    assert clears(caller), "the echo did not pause the greeting: this line does not echo enough"


async def test_the_caller_still_talks_over_a_prompt_on_an_echoing_line(agent_server, caller_voice):
    async with await call_on_an_echoing_line(agent_server) as caller:
        await caller.first_media_at()
        await asyncio.sleep(1.5)  # into the greeting, its echo coming back
        speech = caller_ulaw(caller_voice, "Sorry, I want to return my headphones.")
        started = asyncio.get_running_loop().time()
        speaking = asyncio.ensure_future(caller.say(speech))
        for _ in range(150):
            if clears(caller):
                break
            await asyncio.sleep(0.02)
        await speaking
        await caller.stop()
    assert clears(caller), "the agent did not stop for the caller"
    assert clears(caller)[0] - started < 1.0
