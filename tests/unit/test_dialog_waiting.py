"""When the dialog processor waits for the caller again (``idle``, the silence re-prompt) after a
turn that needs nothing more from it. Scripted frames, the real engine and spec, no models.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pipecat.frames.frames import VADUserStartedSpeakingFrame, VADUserStoppedSpeakingFrame
from pipecat.tests.utils import SleepFrame

from tests.unit.test_dialog_barge_in import GREETING, SPEC, Hook, Recorder, heard, run_dialog
from voice_agent.settings import Settings

QUICK_SILENCE = Settings(silence_reprompt_s=0.3)
ASK_NUMBER = "What's your order number?"


SILENCE_OPENINGS = tuple(p.split("{")[0] for p in SPEC.prompts["silence"])


def reprompts(said: list[str]) -> list[str]:
    return [text for text in said if text.startswith(SILENCE_OPENINGS)]


ANSWERED_BEFORE_THE_STOP = [
    Hook("_on_bot_stopped"),  # the greeting played
    VADUserStartedSpeakingFrame(),
    heard("I want to return my headphones."),
    SleepFrame(0.1),
    Hook("_on_bot_started"),
    Hook("_on_bot_stopped"),
    VADUserStoppedSpeakingFrame(),
    SleepFrame(0.5),
]


async def test_a_turn_answered_before_the_vads_stop_leaves_the_agent_waiting_for_the_caller():
    # The STT ends the turn on its transcript; the reply plays out (a replay plays it at once)
    # before the VAD's stop comes: only that stop can say the agent is waiting again.
    dialog, said, _ = await run_dialog(ANSWERED_BEFORE_THE_STOP)
    assert said[0] == GREETING and said[1].startswith(ASK_NUMBER)
    assert dialog.idle.is_set()
    # And a caller who then stays silent is asked again.
    _, said, _ = await run_dialog(ANSWERED_BEFORE_THE_STOP, QUICK_SILENCE)
    assert len(reprompts(said)) == 1


async def test_a_noise_between_prompts_no_transcript_comes_for_still_gets_the_reprompt():
    _, said, _ = await run_dialog(
        [
            Hook("_on_bot_stopped"),
            VADUserStartedSpeakingFrame(),  # a cough: the VAD's turn, then nothing heard
            VADUserStoppedSpeakingFrame(),
            SleepFrame(0.5),
        ],
        QUICK_SILENCE,
    )
    assert len(reprompts(said)) == 1


async def test_a_transcript_after_the_vads_stop_is_answered_and_not_reprompted():
    dialog, said, _ = await run_dialog(
        [
            Hook("_on_bot_stopped"),
            VADUserStartedSpeakingFrame(),
            VADUserStoppedSpeakingFrame(),
            SleepFrame(0.1),  # Whisper decoding, shorter than the re-prompt
            heard("I want to return my headphones."),
            SleepFrame(0.5),  # the reply has not been played: no silence is counted yet
        ],
        QUICK_SILENCE,
    )
    assert said[1].startswith(ASK_NUMBER)
    assert not reprompts(said)
    assert not dialog.idle.is_set()


async def test_the_vads_stop_while_the_reply_is_still_playing_does_not_make_the_agent_idle():
    dialog, said, _ = await run_dialog(
        [
            Hook("_on_bot_stopped"),
            VADUserStartedSpeakingFrame(),
            heard("I want to return my headphones."),
            SleepFrame(0.1),
            Hook("_on_bot_started"),
            VADUserStoppedSpeakingFrame(),
            SleepFrame(0.5),
        ],
        QUICK_SILENCE,
    )
    assert said[1].startswith(ASK_NUMBER)
    assert not dialog.idle.is_set()
    assert not reprompts(said)


class SlowTurnLog(Recorder):
    """A call record whose writes of the agent's lines are slow (a busy disk)."""

    async def add_turn(self, call_sid: str, speaker: str, *args: Any, **kwargs: Any) -> None:
        if speaker == "agent":
            await asyncio.sleep(0.3)


async def test_a_closing_prompt_that_plays_out_before_its_hand_off_is_logged_is_not_a_wait():
    # The step says "transferring you", then logs that line, then defers the transfer; a short
    # (cached) prompt can finish playing in between. The agent must not look idle then: a
    # replay would take it as waiting for the caller and end the call as abandoned.
    dialog, said, _ = await run_dialog(
        [
            Hook("_on_bot_stopped"),
            VADUserStartedSpeakingFrame(),
            VADUserStoppedSpeakingFrame(),
            heard("I want to talk to a real person."),
            SleepFrame(0.1),  # the step is logging the line it said
            Hook("_on_bot_started"),
            Hook("_on_bot_stopped"),
            SleepFrame(0.5),
        ],
        recorder=SlowTurnLog(),
    )
    assert len(said) == 2 and dialog.outcome == "handed_off"
    assert dialog.ended.is_set() and not dialog.idle.is_set()


async def test_the_callers_silence_counts_from_the_end_of_a_prompt_that_paused_midway():
    # A busy box synthesizes a prompt's next sentence late: its audio stops and goes on. The
    # caller's silence starts when the prompt has played out, not at the gap.
    script = [
        Hook("_on_bot_stopped"),  # a gap in the greeting
        SleepFrame(0.1),
        Hook("_on_bot_started"),  # its next sentence
        SleepFrame(0.4),  # still playing, past the re-prompt's wait from the gap
    ]
    _, said, _ = await run_dialog(script, QUICK_SILENCE)
    assert not reprompts(said)
    _, said, _ = await run_dialog(
        [*script, Hook("_on_bot_stopped"), SleepFrame(0.5)], QUICK_SILENCE
    )
    assert len(reprompts(said)) == 1
