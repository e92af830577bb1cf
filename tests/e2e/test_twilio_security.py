"""Twilio production behaviour against a real agent process with Twilio credentials configured.

Twilio's REST API can't be reached from CI, so the agent's Twilio client is pointed (setting
``VOICE_AGENT_TWILIO_API_BASE_URL``) at a local stand-in that records every request; the tests
assert the exact requests the agent makes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs
from xml.etree import ElementTree

import httpx
import pytest
import websockets
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from voice_agent.oms.serve import ServerThread
from voice_agent.telephony.twilio_security import sign
from voice_agent.testing.server import AgentProcess
from voice_agent.testing.twilio_caller import TwilioCaller, place_call
from voice_agent.testing.voices import caller_ulaw

pytestmark = pytest.mark.models

ACCOUNT = "AC" + "1" * 32
TOKEN = "test-auth-token-0123456789abcdef"
HUMAN = "+15550123456"


class TwilioStandIn:
    """Records ``POST /2010-04-01/Accounts/{sid}/Calls/{call}.json`` like Twilio's API."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        app = FastAPI()

        @app.post("/2010-04-01/Accounts/{account}/Calls/{call}.json")
        async def update_call(account: str, call: str, request: Request) -> JSONResponse:
            form = parse_qs((await request.body()).decode())
            if call.startswith("CAgone"):  # the caller already hung up: Twilio answers 404
                self.requests.append({"at": time.monotonic(), "call": call, "status": 404})
                return JSONResponse(
                    {"code": 20404, "message": "not found", "status": 404},
                    status_code=404,
                )
            self.requests.append(
                {
                    "at": time.monotonic(),
                    "account": account,
                    "call": call,
                    "auth": request.headers.get("authorization", ""),
                    "form": {k: v[0] for k, v in form.items()},
                }
            )
            return JSONResponse({"sid": call, "account_sid": account, "status": "in-progress"})

        self.server = ServerThread(app)


@pytest.fixture(scope="module")
def twilio_api() -> Iterator[TwilioStandIn]:
    stand_in = TwilioStandIn()
    with stand_in.server:
        yield stand_in


@pytest.fixture(scope="module")
def secured_agent(tmp_path_factory, twilio_api) -> Iterator[AgentProcess]:
    env = {
        "VOICE_AGENT_TWILIO_ACCOUNT_SID": ACCOUNT,
        "VOICE_AGENT_TWILIO_AUTH_TOKEN": TOKEN,
        "VOICE_AGENT_TWILIO_API_BASE_URL": twilio_api.server.url,
        "VOICE_AGENT_TRANSFER_TARGET": HUMAN,
    }
    with AgentProcess(tmp_path_factory.mktemp("secured"), env=env) as agent:
        yield agent


def webhook_form(call_sid: str) -> dict[str, str]:
    return {"CallSid": call_sid, "AccountSid": ACCOUNT, "From": "+15550100999", "To": "+15550100"}


async def test_forged_or_missing_signature_is_refused(secured_agent):
    url = secured_agent.base_url + "/twilio/voice"
    form = webhook_form("CAforged")
    async with httpx.AsyncClient() as http:
        missing = await http.post(url, data=form)
        forged = await http.post(
            url, data=form, headers={"X-Twilio-Signature": sign("wrong-token", url, form)}
        )
        tampered = await http.post(
            url,
            data=form | {"From": "+15550000000"},
            headers={"X-Twilio-Signature": sign(TOKEN, url, form)},
        )
    assert missing.status_code == forged.status_code == tampered.status_code == 403
    assert "<Stream" not in missing.text + forged.text + tampered.text


async def test_signed_webhook_gets_twiml_with_a_stream_token(secured_agent):
    url = secured_agent.base_url + "/twilio/voice"
    form = webhook_form("CAsigned")
    async with httpx.AsyncClient() as http:
        response = await http.post(
            url, data=form, headers={"X-Twilio-Signature": sign(TOKEN, url, form)}
        )
    assert response.status_code == 200
    stream = ElementTree.fromstring(response.text).find("./Connect/Stream")
    assert stream is not None
    assert stream.get("url", "").endswith("/twilio/media")
    params = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    assert len(params["token"] or "") >= 16
    assert params["caller"] == "+15550100999"


async def test_stream_with_a_bad_token_is_closed(secured_agent):
    caller = await place_call(secured_agent.base_url, auth_token=TOKEN)
    # A valid token of another call must not open this one, nor a missing one.
    for params in ({"token": caller.custom_parameters["token"] + "x"}, {}):
        intruder = TwilioCaller(
            secured_agent.ws_url, call_sid=caller.call_sid, custom_parameters=params
        )
        async with intruder:
            assert await intruder.closed_by_agent()
            assert not [r for r in intruder.received if r.event == "media"]


async def test_transfer_to_a_human_updates_the_live_call(secured_agent, twilio_api, caller_voice):
    before = len(twilio_api.requests)
    async with await place_call(secured_agent.base_url, auth_token=TOKEN) as caller:
        since, _ = await caller.wait_for_prompt(caller.started_at)
        since = await caller.say(caller_ulaw(caller_voice, "Can I speak to a real person please?"))
        _, _prompt = await caller.wait_for_prompt(since)  # "I'll transfer you"
        for _ in range(200):
            if len(twilio_api.requests) > before:
                break
            await asyncio.sleep(0.05)
        marks = [r for r in caller.received if r.event == "mark"]
    assert len(twilio_api.requests) == before + 1, twilio_api.requests
    request = twilio_api.requests[-1]
    assert request["account"] == ACCOUNT and request["call"] == caller.call_sid
    assert request["auth"].startswith("Basic ")
    twiml = ElementTree.fromstring(request["form"]["Twiml"])
    assert twiml.findtext("./Dial/Number") == HUMAN
    # The redirect came only after the caller had heard the transfer announcement.
    assert marks and request["at"] >= marks[-1].at
    async with httpx.AsyncClient(base_url=secured_agent.base_url) as http:
        for _ in range(50):
            record = (await http.get(f"/calls/{caller.call_sid}")).json()
            if record.get("outcome"):
                break
            await asyncio.sleep(0.2)
    assert record["outcome"] == "handed_off"
    transfer = [e for e in record["events"] if e["kind"] == "transfer"]
    assert transfer and transfer[0]["data"]["ok"] is True
    # The handoff summary is in the call record: intent, slots, the last turns, and why.
    summary = transfer[0]["data"]["summary"]
    assert {"intent", "slots", "last_turns", "reason"} <= set(summary)
    assert any("person" in str(turn) for turn in summary["last_turns"])


async def test_fuzzed_messages_do_not_break_a_concurrent_healthy_call(secured_agent, caller_voice):
    garbage = [
        "not json",
        "{}",
        '{"event":"media","media":{"payload":"%%%%"}}',
        '{"event":"media","media":{"payload":' + '"' + "A" * 70000 + '"}}',
        '{"event":"dtmf","dtmf":{"digit":"Z"}}',
        '{"event":"start","start":{}}',
        '{"event":"mark"}',
        "[" * 5000,
        '{"event":"media","streamSid":null,"media":{"payload":null}}',
    ]

    async def fuzz_inside_a_call() -> None:
        async with await place_call(secured_agent.base_url, auth_token=TOKEN) as bad:
            await bad.wait_for_prompt(bad.started_at)
            for text in garbage * 3:
                await bad.send_raw(text)
            await bad.dtmf("4")  # still a working call after the garbage
            await asyncio.sleep(0.5)

    async def fuzz_before_start() -> None:
        for text in garbage:
            async with websockets.connect(secured_agent.ws_url) as ws:
                await ws.send(text)
                await ws.send(b"\x00\xff binary")
                with contextlib.suppress(websockets.ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 5)

    async def healthy_call() -> list[str]:
        async with await place_call(secured_agent.base_url, auth_token=TOKEN) as caller:
            since, _ = await caller.wait_for_prompt(caller.started_at)
            since = await caller.say(caller_ulaw(caller_voice, "Where is my order?"))
            _, prompt = await caller.wait_for_prompt(since)
            await caller.stop()
        return [r.event for r in caller.received]

    events, *_ = await asyncio.gather(healthy_call(), fuzz_inside_a_call(), fuzz_before_start())
    assert events.count("media") > 50
    async with httpx.AsyncClient(base_url=secured_agent.base_url) as http:
        health = await http.get("/health")
    assert health.status_code == 200
    assert isinstance(health.json()["prompts_warm"], bool)


async def test_hang_up_waits_for_the_last_mark(secured_agent, twilio_api, caller_voice):
    before = len(twilio_api.requests)
    async with await place_call(secured_agent.base_url, auth_token=TOKEN) as caller:
        since, _ = await caller.wait_for_prompt(caller.started_at)
        since = await caller.say(caller_ulaw(caller_voice, "Actually that's all, goodbye."))
        for _ in range(300):
            if len(twilio_api.requests) > before:
                break
            await asyncio.sleep(0.05)
        received = list(caller.received)
    assert len(twilio_api.requests) == before + 1
    request = twilio_api.requests[-1]
    assert request["call"] == caller.call_sid and request["form"] == {"Status": "completed"}
    marks = [r for r in received if r.event == "mark"]
    goodbye = [r for r in received if r.event == "media" and r.at > since]
    assert goodbye, "the agent said goodbye"
    # Twilio echoes a mark once the audio before it has played: the hang-up comes after that.
    assert marks and marks[-1].at >= goodbye[-1].at
    played_until = goodbye[0].at + sum(len(m.payload) for m in goodbye) / 8000
    assert request["at"] >= played_until - 0.1


async def test_hang_up_of_a_call_twilio_already_ended_is_not_an_error(
    secured_agent, twilio_api, caller_voice
):
    before = len(twilio_api.requests)
    call_sid = "CAgone" + "0" * 26
    caller = await place_call(secured_agent.base_url, call_sid=call_sid, auth_token=TOKEN)
    async with caller:
        await caller.wait_for_prompt(caller.started_at)
        await caller.say(caller_ulaw(caller_voice, "That's all, goodbye."))
        for _ in range(300):
            if len(twilio_api.requests) > before:
                break
            await asyncio.sleep(0.05)
    assert twilio_api.requests[-1] | {"at": 0} == {"at": 0, "call": call_sid, "status": 404}
    async with httpx.AsyncClient(base_url=secured_agent.base_url) as http:
        for _ in range(50):
            record = (await http.get(f"/calls/{call_sid}")).json()
            if record.get("outcome"):
                break
            await asyncio.sleep(0.2)
    assert record["outcome"] == "resolved"
    assert "Traceback" not in secured_agent.log_tail(20000)
