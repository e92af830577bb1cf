"""'One moment.' over the real Twilio websocket, while a second model reads a number.

The agent hears "Eight double oh, oh four six." with tiny.en, is not sure of the number, and asks
base to read it again (~1 s more). The caller hears that it was heard at once, then the answer.
"""

from __future__ import annotations

import pytest

from voice_agent.testing.twilio_caller import place_call
from voice_agent.testing.voices import caller_ulaw

from .test_twilio_call import closed_record, hear

pytestmark = pytest.mark.models


async def test_a_number_read_again_gets_one_moment_then_the_answer(agent_server, caller_voice, ear):
    async with await place_call(agent_server.base_url) as caller:
        await caller.wait_for_prompt(caller.started_at)  # the greeting
        since = await caller.say(caller_ulaw(caller_voice, "I'd like to return my headphones."))
        _, question = await caller.wait_for_prompt(since)
        assert "order number" in hear(ear, question)
        since = await caller.say(caller_ulaw(caller_voice, "Eight double oh, oh four six."))
        _, reply = await caller.wait_for_prompt(since)
        await caller.stop()
    record = await closed_record(agent_server.base_url, caller.call_sid)
    heard = hear(ear, reply)  # then the answer, if it was ready by then
    assert heard.startswith(("one moment", "1 moment")), heard
    events = [(e["kind"], e["data"]) for e in record["events"] if e["kind"] != "state"]
    held = events.index(("hold_on", {"reason": "number_check", "text": "One moment."}))
    kinds = [kind for kind, _ in events[held:]]
    # The number was looked up after the hold-on, and how late its answer was is logged.
    assert kinds.index("event") < kinds.index("order_lookup") < kinds.index("answer_after_hold_on")
    agent = [t["text"] for t in record["turns"] if t["speaker"] == "agent"]
    assert agent[agent.index("One moment.") + 1].startswith("I couldn't find order")
