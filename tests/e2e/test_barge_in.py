"""Barge-in over the real Twilio websocket: speech over a prompt stops it (``clear``); a short
noise burst does not; an "uh-huh" pauses it and it goes on from the word being heard."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import yaml

from voice_agent.pipeline.recording import caller_words
from voice_agent.pipeline.tts import split_sentences
from voice_agent.settings import PROJECT_ROOT as ROOT
from voice_agent.testing.twilio_caller import FRAME_BYTES, place_call
from voice_agent.testing.voices import caller_ulaw, synthesize, to_phone_ulaw

pytestmark = pytest.mark.models


async def test_caller_speech_over_the_greeting_stops_it(agent_server, caller_voice):
    async with await place_call(agent_server.base_url) as caller:
        first = await caller.first_media_at()
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
        await caller.first_media_at()
        await asyncio.sleep(0.8)
        rng = np.random.default_rng(7)
        burst = (0.3 * rng.standard_normal(int(0.12 * 16000))).astype(np.float32)  # a click/cough
        await caller.say(to_phone_ulaw(burst, 16000).ljust(FRAME_BYTES, b"\xff"))
        await asyncio.sleep(1.5)
        assert not [r for r in caller.received if r.event == "clear"]
        await caller.stop()


async def call_events(agent_server, call_sid: str) -> list[dict]:
    """The call record's events, once the agent has written them at the end of the call."""
    events = await agent_server.call_events(call_sid)
    assert events is not None, f"no call record for {call_sid}"
    return events


def greeting_sentences() -> list[str]:
    """The greeting's sentences, as the TTS says them."""
    prompts = yaml.safe_load((ROOT / "dialogs" / "returns.yaml").read_text())["prompts"]
    return split_sentences(prompts["greeting"][0])


async def uh_huh_over_the_greeting(agent_server, caller_voice, at_s: float):
    """An "uh-huh" ``at_s`` into the greeting: what the agent said after the pause, and its
    seconds of audio.
    """
    async with await place_call(agent_server.base_url) as caller:
        await caller.first_media_at()
        await asyncio.sleep(at_s)
        started = asyncio.get_running_loop().time()
        await caller.say(caller_ulaw(caller_voice, "Uh-huh."))
        await asyncio.sleep(6.0)
        clears = [r.at for r in caller.received if r.event == "clear"]
        assert len(clears) == 1, "the prompt was not paused, or paused twice"
        assert clears[0] - started < 0.6
        resumed = caller.media_since(clears[0] + 0.1)
        assert resumed, "the greeting did not go on after the uh-huh"
        assert 0.3 < resumed[0].at - clears[0] < 1.5
        await caller.stop()
    events = await call_events(agent_server, caller.call_sid)
    kinds = [e["kind"] for e in events]
    assert "dialog_barge_in_paused" in kinds and "dialog_barge_in_resumed" in kinds
    assert "dialog_barge_in" not in kinds
    # The uh-huh was an acknowledgement, not the caller's answer.
    assert not caller_words(events)
    paused = next(e for e in events if e["kind"] == "dialog_barge_in_paused")["data"]
    resumed_with = next(e for e in events if e["kind"] == "dialog_barge_in_resumed")["data"]
    assert paused["unheard"] == resumed_with["text"]
    return resumed_with["text"], sum(len(r.payload) for r in resumed) / 8000


async def test_an_uh_huh_pauses_the_greeting_which_goes_on_from_the_word_heard(
    agent_server, caller_voice
):
    # The uh-huh comes 1.8 s into the greeting's first sentence, 3 s long.
    first, *rest = greeting_sentences()
    words = first.split()
    text, seconds = await uh_huh_over_the_greeting(agent_server, caller_voice, 1.8)
    assert text.endswith(" " + " ".join(rest)), text
    said_again = text[: -len(" ".join(rest)) - 1].split()
    assert 2 <= len(said_again) <= len(words) - 2, text  # not "Hi," again, nor only "line."
    assert said_again == words[-len(said_again) :]
    # Only that much was said again: the first sentence is ~3 s, the second ~1.5 s.
    assert seconds < 3.8, seconds


async def test_an_uh_huh_early_in_a_sentence_lets_it_go_on_from_its_start(
    agent_server, caller_voice
):
    # The agent speaks with the same Piper voice: its first sentence lasts as long here.
    first, *rest = greeting_sentences()
    assert rest, "the test needs a greeting of two sentences or more"
    audio, rate = synthesize(caller_voice, first)
    text, _ = await uh_huh_over_the_greeting(agent_server, caller_voice, len(audio) / rate + 0.05)
    assert text == " ".join(rest)


async def said_over_the_greeting(agent_server, audio: bytes) -> list[dict]:
    """The call record's events after ``audio`` (mu-law) was said 0.6 s into the greeting."""
    async with await place_call(agent_server.base_url) as caller:
        await caller.first_media_at()
        await asyncio.sleep(0.6)
        await caller.say(audio)
        await asyncio.sleep(3.0)
        await caller.stop()
    return await call_events(agent_server, caller.call_sid)


async def test_a_long_mm_hmm_stops_the_greeting_but_lets_it_go_on_once_heard(
    agent_server, caller_voice
):
    # Slowed, the "mm-hmm" outlasts barge_in_min_speech_s: the prompt is stopped for good until
    # the transcript says it was an acknowledgement. Without the backchannel words in Whisper's
    # prompt this rendering was read "Mm-m." and answered as the caller's turn.
    audio, rate = synthesize(caller_voice, "Mm-hmm.", length_scale=1.2)
    events = await said_over_the_greeting(agent_server, to_phone_ulaw(audio, rate))
    kinds = [e["kind"] for e in events]
    assert "dialog_barge_in" in kinds, "the mm-hmm did not stop the greeting"
    assert "dialog_backchannel" in kinds and "dialog_barge_in_resumed" in kinds, kinds
    assert not caller_words(events)


async def test_an_okay_over_the_greetings_first_sentence_lets_it_go_on(agent_server, caller_voice):
    # The greeting has asked nothing yet ("Hi, thanks for calling ..."): the caller acknowledges
    # it. Before, "Okay." was taken for the caller's turn and answered.
    events = await said_over_the_greeting(agent_server, caller_ulaw(caller_voice, "Okay."))
    kinds = [e["kind"] for e in events]
    assert "dialog_acknowledgement" in kinds and "dialog_barge_in_resumed" in kinds, kinds
    assert not caller_words(events)


async def test_a_short_answer_over_the_greeting_is_answered_and_the_greeting_does_not_go_on(
    agent_server, caller_voice
):
    # "No." is too short to be a barge-in by its length (barge_in_min_speech_s): it only pauses
    # the greeting. Its words settle the pause: the caller's turn, not an "uh-huh" the greeting
    # goes on after (which it did, and the answer came after the whole greeting again).
    events = await said_over_the_greeting(agent_server, caller_ulaw(caller_voice, "No."))
    kinds = [e["kind"] for e in events]
    assert "dialog_barge_in_paused" in kinds and "dialog_barge_in" in kinds, kinds
    assert "dialog_barge_in_resumed" not in kinds
    assert caller_words(events) == ["No."]
