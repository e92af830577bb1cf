"""A caller who hangs up (``stop``) or whose websocket drops ends the call cleanly: the call
record is closed as abandoned, and the agent keeps serving other calls."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from voice_agent.testing.twilio_caller import place_call

pytestmark = pytest.mark.models


async def closed_record(base_url: str, call_sid: str) -> dict:
    async with httpx.AsyncClient(base_url=base_url) as http:
        for _ in range(100):
            response = await http.get(f"/calls/{call_sid}")
            if response.status_code == 200 and response.json().get("ended_at"):
                return response.json()
            await asyncio.sleep(0.1)
    raise AssertionError(f"call {call_sid} was not closed")


@pytest.mark.parametrize("how", ["stop", "drop"])
async def test_caller_leaving_closes_the_call_record(agent_server, how):
    caller = await place_call(agent_server.base_url)
    async with caller:
        await caller.wait_for_prompt(caller.started_at, quiet_s=0.3)
        if how == "stop":
            await caller.stop()
    record = await closed_record(agent_server.base_url, caller.call_sid)
    assert record["outcome"] == "abandoned"
    assert record["channel"] == "twilio"
    assert [t for t in record["turns"] if t["speaker"] == "agent"]
    # The agent still answers new calls.
    async with await place_call(agent_server.base_url) as next_caller:
        first, _ = await next_caller.wait_for_prompt(next_caller.started_at, quiet_s=0.3)
        assert first > next_caller.started_at
        await next_caller.stop()
