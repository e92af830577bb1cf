"""``VOICE_AGENT_NOISE_REDUCTION=1`` over the real Twilio websocket: the gate sits in the call.

The caller's line hisses under everything it sends. The agent still hears the caller, and the
call recording (what the agent heard) has the hiss turned down where the caller was silent; with
the setting off the recording's caller track is what was sent.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from voice_agent.audio import float_to_pcm16, read_audio
from voice_agent.pipeline.recording import recording_paths
from voice_agent.testing.server import AgentProcess
from voice_agent.testing.twilio_caller import place_call
from voice_agent.testing.voices import caller_ulaw

from .test_barge_in import call_events
from .test_twilio_call import hear

pytestmark = pytest.mark.models

RATE = 8000


@pytest.fixture(scope="module")
def gated_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    env = {"VOICE_AGENT_NOISE_REDUCTION": "1"}
    with AgentProcess(tmp_path_factory.mktemp("noise-gate"), env=env) as agent:
        yield agent


async def _caller_track(agent: AgentProcess, call_sid: str) -> np.ndarray:
    await call_events(agent, call_sid)  # written with the recording, when the call has ended
    path, _ = recording_paths(agent.data_dir, call_sid)
    audio, rate = read_audio(path, channel=0)  # the caller is the left channel
    assert rate == RATE
    return audio


def _rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(audio**2)))


async def test_the_caller_is_heard_through_the_gate_and_the_hiss_is_turned_down(
    gated_agent, caller_voice, ear
):
    hiss = (0.02 * np.random.default_rng(11).standard_normal(4 * RATE)).astype(np.float32)
    caller = await place_call(gated_agent.base_url)
    caller.line_noise = float_to_pcm16(hiss)
    async with caller:
        await caller.wait_for_prompt(caller.started_at)  # the greeting, over the hiss alone
        since = await caller.say(caller_ulaw(caller_voice, "I'd like to return my headphones."))
        _, question = await caller.wait_for_prompt(since)
        await caller.stop()
    assert "order number" in hear(ear, question)
    heard = await _caller_track(gated_agent, caller.call_sid)
    # 0.6-1.4 s: the greeting plays, the caller is silent, the gate has learnt the floor.
    quiet = heard[int(0.6 * RATE) : int(1.4 * RATE)]
    assert _rms(quiet) < 0.7 * _rms(hiss), (_rms(quiet), _rms(hiss))
