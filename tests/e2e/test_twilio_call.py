"""A whole phone call over the real Twilio Media Streams websocket, in real time.

The caller is synthesized speech sent as 8 kHz mu-law; it listens to each agent prompt (with its
own Whisper model) and answers what it was asked, like a person would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import numpy as np
import pytest

from voice_agent.audio import pcm16_to_float, resample, ulaw_decode
from voice_agent.oms.seed import DEFAULT_SEED
from voice_agent.speech.asr import AsrOptions, transcribe
from voice_agent.testing.dialogs import letter_dialog
from voice_agent.testing.server import AgentProcess
from voice_agent.testing.twilio_caller import TwilioCaller, place_call
from voice_agent.testing.voices import caller_ulaw

pytestmark = pytest.mark.models

ORDER_ID = "735902"
READING = "It's seven three five nine oh two."  # how the caller says ORDER_ID


def hear(ear, ulaw: bytes) -> str:
    audio = resample(pcm16_to_float(ulaw_decode(ulaw)), 8000, 16000)
    return transcribe(ear, audio, AsrOptions()).lower()


REQUEST = "I'd like to return my headphones."
CONFIRM = "Yes, that's right."


def answer(heard: str, order_reading: str = READING, request: str = REQUEST) -> str | None:
    """What the caller says to what it heard; None: nothing to answer (yet)."""
    if "goodbye" in heard:
        return None
    if "mean" in heard and "which" not in heard:  # the ear has heard "did you mean" "that demean"
        return "Yes."
    if "yours" in heard:  # "From the keys you typed, I found order ... Is that yours?"
        return "Yes."
    if "number" in heard and "order" in heard:
        return order_reading
    if "why" in heard or "reason" in heard:
        return "They arrived damaged."
    if "confirm" in heard or "shall i" in heard or "is that right" in heard:
        return CONFIRM
    if "help" in heard:
        return request
    return None


async def closed_record(base_url: str, call_sid: str) -> dict:
    """The call's record, once closed (after the pipeline has shut down), or as it is after 10 s."""
    async with httpx.AsyncClient(base_url=base_url) as http:
        for _ in range(50):
            record = (await http.get(f"/calls/{call_sid}")).json()
            if record.get("outcome"):
                break
            await asyncio.sleep(0.2)
    return record


@dataclass
class ReturnCall:
    heard: list[str]  # what the caller heard the agent say, prompt by prompt
    work_orders: list[dict]  # the call's work orders in the OMS, read while the call was live
    record: dict  # the agent's record of the call, once closed
    caller: TwilioCaller


async def return_call(
    server,
    caller_voice,
    ear,
    order_reading: str = READING,
    request: str = REQUEST,
    order_keys: str = "",
    caller_number: str = "+15550100999",
) -> ReturnCall:
    """A caller returns their headphones, answering each prompt as they hear it; asked for the
    order number, they type ``order_keys`` on the keypad if given."""
    heard_log: list[str] = []
    async with await place_call(server.base_url, caller_number=caller_number) as caller:
        since = caller.started_at
        work_orders: list[dict] = []
        for _turn in range(10):
            try:
                _first_audio_at, prompt = await caller.wait_for_prompt(since, quiet_s=1.5)
            except ConnectionError:
                break
            heard = hear(ear, prompt)
            heard_log.append(heard)
            if "goodbye" in heard:
                break
            reply = answer(heard, order_reading, request)
            if reply is None:  # part of a prompt, or nothing to answer: keep listening
                since = time.monotonic()
                continue
            if reply == order_reading and order_keys:
                for key in order_keys:
                    await caller.dtmf(key)
                since = time.monotonic()
                continue
            since = await caller.say(caller_ulaw(caller_voice, reply))
            if reply == CONFIRM:
                # As soon as the agent starts answering the confirmation — the call is live, no
                # stop sent, nothing hung up — the work order must already be in the OMS.
                while not caller.media_since(since):
                    await asyncio.sleep(0.02)
                assert not caller.closed_by_server
                async with httpx.AsyncClient(base_url=server.base_url) as http:
                    response = await http.get(
                        "/oms/work-orders", params={"call_sid": caller.call_sid}
                    )
                    response.raise_for_status()
                    work_orders = response.json()
        if not caller.closed_by_server:
            await caller.stop()
    record = await closed_record(server.base_url, caller.call_sid)
    print("caller heard:\n" + "\n".join(heard_log))
    return ReturnCall(heard_log, work_orders, record, caller)


async def test_return_call_opens_work_order_before_hangup(agent_server, caller_voice, ear):
    call = await return_call(agent_server, caller_voice, ear)
    heard_log, work_orders, record, caller = call.heard, call.work_orders, call.record, call.caller
    media = [r for r in caller.received if r.event == "media"]
    transcript = "\n".join(heard_log)
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
    assert "number" in " ".join(heard_log[-2:])
    assert record["outcome"] == "resolved" and record["channel"] == "twilio"
    # Agent audio: valid mu-law media events for our stream, real speech energy.
    assert not caller.bad_messages, caller.bad_messages[:3]
    assert media and all(0 < len(m.payload) <= 8000 for m in media)
    pcm = pcm16_to_float(ulaw_decode(b"".join(m.payload for m in media)))
    assert float(np.sqrt(np.mean(pcm**2))) > 0.01
    assert time.monotonic() - caller.started_at < 120


async def test_an_order_number_misheard_is_offered_as_the_order_on_file_for_the_callers_phone(
    agent_server, caller_voice, ear
):
    # The headphones' order, 735902, is on file under +15550178830. Calling from that phone,
    # the caller gives the number with its last digit wrong, as a line can make a "two" heard;
    # the agent offers the order on file and opens the return for it once the caller says yes.
    call = await return_call(
        agent_server,
        caller_voice,
        ear,
        order_reading="It's seven three five nine oh three.",
        caller_number="+15550178830",
    )
    assert [w["order_id"] for w in call.work_orders] == [ORDER_ID], call.heard
    agent_said = " ".join(t["text"] for t in call.record["turns"] if t["speaker"] == "agent")
    offer = "I heard 7, 3, 5, 9, 0, 3. Did you mean your order 7, 3, 5, 9, 0, 2?"
    assert offer in agent_said, agent_said
    assert any("mean" in h for h in call.heard), call.heard
    assert "5550178830" not in str(call.record)  # the caller's number is kept masked


@pytest.fixture(scope="module")
def letter_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    """An agent for a retailer whose order numbers hold letters: the returns dialog with a
    letter pattern, the demo orders with the headphones' order as ZT735902."""
    folder = tmp_path_factory.mktemp("letters")
    dialog = letter_dialog(folder)
    seed = DEFAULT_SEED.read_text()
    assert f'order_id: "{ORDER_ID}"' in seed
    (folder / "seed.yaml").write_text(seed.replace(f'"{ORDER_ID}"', f'"ZT{ORDER_ID}"'))
    env = {
        "VOICE_AGENT_DIALOG_FILE": str(dialog),
        "VOICE_AGENT_OMS_SEED_FILE": str(folder / "seed.yaml"),
    }
    with AgentProcess(folder / "var", env) as server:
        yield server


async def test_an_order_number_with_a_letter_misheard_is_offered_by_its_sound_alike(
    letter_agent, caller_voice, ear
):
    # The caller's order is ZT735902. A phone line often makes a "Z" said alone a "C": here
    # the caller says "C as in Charlie" so that the agent hears C whatever the line. The OMS
    # has no CT735902; the agent looks up its sound-alikes, offers ZT735902, and the return
    # is opened for it once the caller says yes.
    request = "I'd like to return my headphones, order C as in Charlie, T as in Tango, 735902."
    call = await return_call(letter_agent, caller_voice, ear, request=request)
    assert [w["order_id"] for w in call.work_orders] == [f"ZT{ORDER_ID}"], call.heard
    agent_said = " ".join(t["text"] for t in call.record["turns"] if t["speaker"] == "agent")
    offer = "find order C as in Charlie, T as in Tango, 7, 3, 5, 9, 0, 2. Did you mean Z as in Zulu"
    assert offer in agent_said, agent_said
    assert "order Z as in Zulu, T as in Tango, 7, 3, 5, 9, 0, 2" in agent_said, agent_said
    assert any("mean" in h for h in call.heard), call.heard


async def test_an_order_number_with_letters_typed_on_the_keypad_is_found_and_offered(
    letter_agent, caller_voice, ear
):
    # Asked for the order number, the caller types ZT735902 with each letter on its key:
    # 9 8 7 3 5 9 0 2. Those keys are 12 codes (W, X, Y or Z; T, U or V); the agent looks
    # them up in the OMS in turn, offers the one it has, and opens the return for it.
    call = await return_call(letter_agent, caller_voice, ear, order_keys="98735902")
    assert [w["order_id"] for w in call.work_orders] == [f"ZT{ORDER_ID}"], call.heard
    agent_said = " ".join(t["text"] for t in call.record["turns"] if t["speaker"] == "agent")
    offer = "From the keys you typed, I found order Z as in Zulu, T as in Tango, 7, 3, 5, 9, 0, 2."
    assert offer in agent_said, agent_said
    assert any("yours" in h for h in call.heard), call.heard
