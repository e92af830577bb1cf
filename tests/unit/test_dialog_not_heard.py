"""A caller turn with no words in it, at the dialog processor, driven by scripted frames.

The STT says it decoded a turn to nothing (``NothingHeardFrame``) after the VAD's stop; the
dialog asks again at once when the VAD heard enough speech for it to be a voice, and leaves a
cough to the silence reprompt. Which audio Whisper hears no words in is the STT's test
(``tests/speech/test_stt_service.py``); here the frames make each case exact.
"""

from __future__ import annotations

from pipecat.frames.frames import VADUserStartedSpeakingFrame, VADUserStoppedSpeakingFrame
from pipecat.tests.utils import SleepFrame

from voice_agent.pipeline.frames import NothingHeardFrame
from voice_agent.settings import Settings

from .test_dialog_barge_in import GREETING, SPEC, Hook, heard, run_dialog

SORRY = SPEC.prompts["not_heard"]


def turn(speech_s: float, *after: object) -> list:
    """A VAD turn of ``speech_s`` of speech (0.2 s start, 0.5 s stop hangover), then ``after``."""
    return [
        VADUserStartedSpeakingFrame(start_secs=0.2),
        SleepFrame(speech_s - 0.2 + 0.5),
        VADUserStoppedSpeakingFrame(stop_secs=0.5),
        *after,
    ]


def inputs(events) -> list[dict]:
    return [data for kind, data in events if kind == "event"]


async def test_a_voice_with_no_words_is_asked_again_at_once():
    script = [Hook("_on_bot_stopped"), *turn(1.4, NothingHeardFrame(), SleepFrame(0.1))]
    dialog, said, events = await run_dialog(script)
    assert said == [GREETING, SORRY[0].format(question=GREETING)]
    [event] = [e for e in inputs(events) if e["type"] == "NotHeard"]
    assert 1.3 <= event["speech_s"] <= 1.6
    assert dialog.turns[-1]["input"]["type"] == "NotHeard"


async def test_a_failed_decode_is_asked_again_too():
    script = [Hook("_on_bot_stopped"), *turn(2.0, NothingHeardFrame(failed=True))]
    _, said, _ = await run_dialog(script + [SleepFrame(0.1)])
    assert said == [GREETING, SORRY[0].format(question=GREETING)]


async def test_a_cough_is_left_to_the_silence_reprompt():
    script = [Hook("_on_bot_stopped"), *turn(0.4, NothingHeardFrame(), SleepFrame(0.6))]
    _, said, events = await run_dialog(script, Settings(silence_reprompt_s=0.5))
    assert said[0] == GREETING and len(said) == 2
    assert said[1].startswith("Are you still there?")
    assert [e["type"] for e in inputs(events)][-1] == "Silence"


async def test_the_threshold_is_a_setting():
    script = [Hook("_on_bot_stopped"), *turn(1.4, NothingHeardFrame(), SleepFrame(0.1))]
    _, said, _ = await run_dialog(script, Settings(unheard_after_speech_s=2.0))
    assert said == [GREETING]


async def test_nothing_heard_while_a_prompt_plays_or_words_follow_asks_nothing():
    # The greeting still playing: the barge-in processor decides what that speech was.
    _, said, _ = await run_dialog([*turn(1.4, NothingHeardFrame(), SleepFrame(0.1))])
    assert said == [GREETING]
    # The caller went on speaking before the STT's verdict came.
    script = [
        Hook("_on_bot_stopped"),
        *turn(1.4),
        VADUserStartedSpeakingFrame(start_secs=0.2),
        NothingHeardFrame(),
        SleepFrame(0.1),
    ]
    _, said, _ = await run_dialog(script)
    assert said == [GREETING]


async def test_words_after_a_not_heard_turn_are_answered_as_usual():
    script = [
        Hook("_on_bot_stopped"),
        *turn(1.4, NothingHeardFrame(), SleepFrame(0.1)),
        Hook("_on_bot_started"),
        Hook("_on_bot_stopped"),
        *turn(1.0, heard("I want a refund."), SleepFrame(0.1)),
    ]
    dialog, said, _ = await run_dialog(script)
    assert said[:2] == [GREETING, SORRY[0].format(question=GREETING)] and len(said) == 3
    assert dialog.state.unheard == 0 and dialog.state.intent is not None


async def test_a_noise_that_stopped_the_prompt_lets_it_go_on():
    # Silero took a noise for speech long enough to stop the greeting; Whisper heard no words.
    script = [
        Hook("on_barge_in_paused"),
        Hook("_on_bot_stopped"),
        Hook("on_barge_in"),
        *turn(0.6, NothingHeardFrame(), SleepFrame(0.1)),
    ]
    _, said, events = await run_dialog(script)
    assert said == [GREETING, GREETING]
    assert ("barge_in_resumed", {"text": GREETING}) in events
    # A longer voice with no words over the prompt is asked again, as after any question.
    _, said, _ = await run_dialog(script[:3] + turn(1.4, NothingHeardFrame(), SleepFrame(0.1)))
    assert said == [GREETING, SORRY[0].format(question=GREETING)]
