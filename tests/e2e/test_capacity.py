"""A real agent process that takes one call at a time (``VOICE_AGENT_MAX_CALLS=1``): a Twilio
call beyond that is told the lines are busy, over the real webhook and websocket, and the
browser phone is closed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
import websockets

from voice_agent.telephony.twilio import LINES_BUSY
from voice_agent.telephony.twilio_security import stream_token
from voice_agent.testing.server import AgentProcess
from voice_agent.testing.twilio_caller import TwilioCaller, place_call, ring

pytestmark = pytest.mark.models

TOKEN = "test-auth-token-capacity"


@pytest.fixture(scope="module")
def one_line_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    # With an auth token the stream tokens are the test's to make (a stream with no webhook).
    env = {"VOICE_AGENT_MAX_CALLS": "1", "VOICE_AGENT_TWILIO_AUTH_TOKEN": TOKEN}
    with AgentProcess(tmp_path_factory.mktemp("one-line"), env=env) as agent:
        yield agent


async def test_a_call_beyond_capacity_hears_the_lines_are_busy_until_the_call_ends(
    one_line_agent: AgentProcess,
) -> None:
    async with await place_call(one_line_agent.base_url, auth_token=TOKEN) as first:
        await first.wait_for_prompt(first.started_at)  # the greeting: the call is up
        async with httpx.AsyncClient(base_url=one_line_agent.base_url) as http:
            health = (await http.get("/health")).json()
        assert (health["calls"], health["max_calls"]) == (1, 1)
        busy = await ring(one_line_agent.base_url, "CA-second", auth_token=TOKEN)
        assert busy.findtext("./Say") == LINES_BUSY and busy.find("./Hangup") is not None
        assert busy.find("./Connect") is None
        # A media stream with no slot (its webhook's lapsed after 10 s) is closed unheard.
        token = stream_token(TOKEN.encode(), "CA-late")
        late = TwilioCaller(one_line_agent.ws_url, "CA-late", custom_parameters={"token": token})
        async with late:
            assert await late.closed_by_agent()
        assert not [r for r in late.received if r.event == "media"]
        # The browser phone shares the slots: closed, and the page shows why.
        phone_url = one_line_agent.base_url.replace("http", "ws", 1) + "/phone/ws"
        async with websockets.connect(phone_url) as phone:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(phone.recv(), 10)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1013, "all lines busy")
        async with httpx.AsyncClient(base_url=one_line_agent.base_url) as http:
            metrics = (await http.get("/metrics")).text
        assert "voice_agent_calls_turned_away_total 3.0" in metrics  # webhook, stream, phone
        assert [r for r in first.received if r.event == "media"]
    # The first call hung up: its slot is free for the next.
    for _ in range(100):
        answer = await ring(one_line_agent.base_url, "CA-third", auth_token=TOKEN)
        if answer.find("./Connect/Stream") is not None:
            break
        await asyncio.sleep(0.1)
    assert answer.find("./Connect/Stream") is not None
