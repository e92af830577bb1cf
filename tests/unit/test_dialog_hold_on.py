"""'One moment.' while an answer takes long, at the dialog processor, on scripted frames.

Two waits get it: an order look-up the OMS is slow to answer (the OMS here is a stand-in that
sleeps: a slow OMS is a timing the demo OMS does not have), and a turn whose order number the
STT reads again with a second model (``AnswerDelayedFrame``; when the real STT sends it is
``tests/speech/test_stt_service.py``'s), which gets the dialog's shorter ``number_check``
prompt ("Okay.") when it has one.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.frames.frames import (
    InputDTMFFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.tests.utils import SleepFrame

from voice_agent.dialog.keypad import keypad_codes
from voice_agent.dialog.lookup import sound_alikes
from voice_agent.dialog.spec import load_dialog
from voice_agent.pipeline.frames import AnswerDelayedFrame
from voice_agent.settings import Settings
from voice_agent.testing.dialogs import LETTER_PATTERN, letter_dialog

from .test_dialog_barge_in import SPEC, Hook, heard, run_dialog

HOLD_ON = SPEC.prompts["hold_on"]
CHECK = SPEC.prompts["number_check"]
ASK_ORDER = SPEC.prompts["ask_order_id"][0]
NOT_FOUND = SPEC.prompt("order_not_found").split("{")[0]  # "I couldn't find order "


class SlowOms:
    """An OMS that takes ``delay_s`` to say it has no such order."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.asked: list[str] = []

    async def get_order(self, order_id: str) -> None:
        self.asked.append(order_id)
        await asyncio.sleep(self.delay_s)
        return None


def played() -> list:
    """The prompt just asked for has played to its end."""
    return [Hook("_on_bot_started"), Hook("_on_bot_stopped")]


def number_turn(*during: object) -> list:
    """The caller asks for a return, is asked the order number, and reads it (VAD turn)."""
    return [
        Hook("_on_bot_stopped"),
        heard("I want to return something."),
        SleepFrame(0.1),
        *played(),
        VADUserStartedSpeakingFrame(start_secs=0.2),
        SleepFrame(0.3),
        VADUserStoppedSpeakingFrame(stop_secs=0.5),
        *during,
    ]


def holds(events) -> list[dict]:
    return [data for kind, data in events if kind == "hold_on"]


async def test_a_slow_order_lookup_gets_one_moment_then_the_answer():
    oms = SlowOms(0.6)
    script = [*number_turn(heard("4 8 1 5 5 0")), SleepFrame(0.9)]
    _, said, events = await run_dialog(script, Settings(hold_on_after_s=0.2), orders=oms)
    assert oms.asked == ["481550"]
    assert said[-2] == HOLD_ON[0] and said[-1].startswith(NOT_FOUND)
    assert holds(events) == [{"reason": "oms", "text": HOLD_ON[0]}]
    [answer] = [d for k, d in events if k == "answer_after_hold_on"]
    assert answer["end_of_speech_to_answer_ms"] >= 600


async def test_a_quick_order_lookup_gets_no_hold_on():
    script = [*number_turn(heard("4 8 1 5 5 0")), SleepFrame(0.5)]
    _, said, events = await run_dialog(script, Settings(hold_on_after_s=0.2), orders=SlowOms(0))
    assert said[-1].startswith(NOT_FOUND) and HOLD_ON[0] not in said
    assert holds(events) == []


async def test_a_number_read_again_gets_okay_and_the_agent_waits_for_it():
    script = [
        *number_turn(AnswerDelayedFrame("number_check"), SleepFrame(0.1)),
        *played(),  # "Okay." has played; the number is still being read
        SleepFrame(0.5),
        heard("4 8 1 5 5 0"),
        SleepFrame(0.2),
    ]
    dialog, said, events = await run_dialog(script, Settings(silence_reprompt_s=0.3))
    assert said[-3:-1] == [ASK_ORDER, CHECK[0]] and said[-1].startswith(NOT_FOUND)
    assert holds(events) == [{"reason": "number_check", "text": CHECK[0]}]
    # No "Are you still there?" while the answer was on its way.
    assert [d["type"] for k, d in events if k == "event"][-1] == "OrderLookedUp"


async def test_no_hold_on_while_a_prompt_plays_or_the_caller_speaks():
    # The question is still playing when the check starts (the caller spoke over its end).
    script = [
        Hook("_on_bot_stopped"),
        heard("I want to return something."),
        SleepFrame(0.1),
        Hook("_on_bot_started"),
        AnswerDelayedFrame("number_check"),
        SleepFrame(0.1),
    ]
    _, said, _ = await run_dialog(script)
    assert said[-1] == ASK_ORDER
    # The caller is speaking again when it comes.
    script = [*number_turn(), VADUserStartedSpeakingFrame(start_secs=0.2)]
    _, said, _ = await run_dialog([*script, AnswerDelayedFrame("number_check"), SleepFrame(0.1)])
    assert said[-1] == ASK_ORDER


async def test_the_second_hold_on_of_a_call_uses_the_next_variant():
    oms = SlowOms(0.4)
    script = [
        *number_turn(heard("4 8 1 5 5 0")),
        SleepFrame(0.6),
        *played(),
        *played(),
        heard("4 8 1 5 5 1"),
        SleepFrame(0.6),
    ]
    _, said, _ = await run_dialog(script, Settings(hold_on_after_s=0.2), orders=oms)
    assert [s for s in said if s in HOLD_ON] == HOLD_ON[:2]


async def test_the_end_of_one_moment_is_not_the_end_of_the_answer_queued_behind_it():
    # The OMS answers while "One moment." plays: the answer is a second TTS context,
    # and the output transport reports the end of each. Only the answer's end starts the wait
    # for the caller (here: a silence reprompt 0.3 s later).
    oms = SlowOms(0.3)
    script = [
        *number_turn(heard("4 8 1 5 5 0")),
        SleepFrame(0.25),
        Hook("_on_bot_started"),  # "One moment." starts playing
        SleepFrame(0.4),  # the answer is said meanwhile
        Hook("_on_bot_stopped"),  # the end of "One moment."
        SleepFrame(0.5),
    ]
    settings = Settings(hold_on_after_s=0.2, silence_reprompt_s=0.3)
    dialog, said, _ = await run_dialog(script, settings, orders=oms)
    assert said[-2] == HOLD_ON[0] and said[-1].startswith(NOT_FOUND)
    assert not dialog.idle.is_set()  # the answer has not played yet
    _, said, events = await run_dialog([*script, *played(), SleepFrame(0.5)], settings, orders=oms)
    assert said[-1].startswith("Are you still there?")
    assert [d["type"] for k, d in events if k == "event"][-1] == "Silence"


async def test_a_dialog_without_a_number_check_prompt_says_its_hold_on():
    prompts = {k: v for k, v in SPEC.prompts.items() if k != "number_check"}
    spec = SPEC.model_copy(update={"prompts": prompts})
    script = [*number_turn(AnswerDelayedFrame("number_check"), SleepFrame(0.1))]
    _, said, events = await run_dialog(script, spec=spec)
    assert said[-2:] == [ASK_ORDER, HOLD_ON[0]]
    assert holds(events) == [{"reason": "number_check", "text": HOLD_ON[0]}]


async def test_the_look_ups_of_a_letter_codes_sound_alikes_are_one_wait_with_one_hold_on(
    tmp_path: Path,
):
    # Order numbers with letters: "C B ..." not found, its 25 sound-alikes are looked up one
    # after the other. Each answers in 30 ms, under hold_on_after_s, but not all of them.
    spec = load_dialog(letter_dialog(tmp_path))
    oms = SlowOms(0.03)
    script = [*number_turn(heard("C B 2 3 5 4 1 0")), SleepFrame(1.5)]
    settings = Settings(hold_on_after_s=0.2)
    _, said, events = await run_dialog(script, settings, orders=oms, spec=spec)
    assert oms.asked == ["CB235410", *sound_alikes("CB235410", LETTER_PATTERN)]
    assert holds(events) == [{"reason": "oms", "text": HOLD_ON[0]}]
    assert said[-2] == HOLD_ON[0] and said[-1].startswith(NOT_FOUND + "C as in Charlie")


async def test_the_look_ups_of_keys_typed_for_a_letter_code_wait_as_one_from_the_first(
    tmp_path: Path,
):
    # Keys typed for a code of two letters and six digits are 12 codes here, looked up one
    # after the other: one wait, counted from the first look-up (not from the call's last OMS
    # wait). At 5 ms an answer they take 60 ms, no hold-on; at 30 ms 360 ms, one.
    spec = load_dialog(letter_dialog(tmp_path))
    keys = [InputDTMFFrame(KeypadEntry(k)) for k in "98735902"]
    for delay_s, hold_ons in ((0.005, []), (0.03, [{"reason": "oms", "text": HOLD_ON[0]}])):
        oms = SlowOms(delay_s)
        script = [Hook("_on_bot_stopped"), heard("Return."), *played(), *keys, SleepFrame(1)]
        settings = Settings(hold_on_after_s=0.2)
        _, said, events = await run_dialog(script, settings, orders=oms, spec=spec)
        assert oms.asked == keypad_codes("98735902", LETTER_PATTERN)
        assert holds(events) == hold_ons
        assert said[-1].startswith(NOT_FOUND + "9, 8, 7, 3, 5, 9, 0, 2")
