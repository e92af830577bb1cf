"""The dialog processor's side of barge-in, driven by scripted frames (no audio, no models).

The real dialog engine and spec; what the barge-in processor would tell the dialog (paused,
confirmed, resumed) comes in as hook frames at the point in the frame stream where the live
pipeline would call it. Transcripts stand for what Whisper heard, which is what makes these
cases deterministic here (over the wire, Whisper hears a phone-line "mm-hmm" as "MMM." one time
and "And a month." another).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from pipecat.frames.frames import Frame, SystemFrame, TranscriptionFrame, TTSSpeakFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.tests.utils import SleepFrame, run_test

from voice_agent.dialog.engine import DialogEngine
from voice_agent.dialog.spec import DialogSpec, load_dialog
from voice_agent.oms.models import Order
from voice_agent.oms.seed import load_seed
from voice_agent.pipeline.call import AgentServices, CallInfo
from voice_agent.pipeline.dialog_processor import DialogProcessor
from voice_agent.pipeline.frames import NothingHeardFrame
from voice_agent.pipeline.prompt_playback import PlaybackClock, PromptProgress
from voice_agent.pipeline.tts import split_sentences
from voice_agent.settings import PROJECT_ROOT, Settings

SPEC = load_dialog(PROJECT_ROOT / "dialogs" / "returns.yaml")
GREETING = SPEC.prompts["greeting"][0]


@dataclass
class Hook(SystemFrame):
    """Call ``DialogProcessor.<name>()`` here, as the barge-in processor or transport would."""

    hook: str = ""


class HookCaller(FrameProcessor):
    def __init__(self, dialog: DialogProcessor) -> None:
        super().__init__()
        self._dialog = dialog

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, Hook):
            await getattr(self._dialog, frame.hook)()
            return
        await self.push_frame(frame, direction)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def start_call(self, *args: Any) -> None: ...

    async def add_turn(self, *args: Any, **kwargs: Any) -> None: ...

    async def add_event(self, call_sid: str, kind: str, data: dict[str, Any]) -> None:
        self.events.append((kind, data))

    async def end_call(self, *args: Any) -> None: ...


class NoOms:
    async def get_order(self, order_id: str) -> None:
        return None

    async def submit(self, request: Any, idempotency_key: str) -> str:
        raise AssertionError("no work order in these calls")


class SeededOms:
    """The demo OMS's seeded orders."""

    def __init__(self) -> None:
        self.orders = {o.order_id: o for o in load_seed(date(2026, 11, 22))}

    async def get_order(self, order_id: str) -> Order | None:
        return self.orders.get(order_id)


class Control:
    async def transfer(self, target: str | None, summary: dict[str, Any]) -> bool:
        return True

    async def hang_up(self) -> None: ...


async def run_call(script: list[Frame]) -> tuple[list[str], list[tuple[str, dict[str, Any]]]]:
    """What the agent said (TTS requests) and the call record's dialog events."""
    _, said, events = await run_dialog(script)
    return said, events


async def run_dialog(
    script: list[Frame],
    settings: Settings | None = None,
    recorder: Recorder | None = None,
    orders: Any = None,
    spec: DialogSpec = SPEC,
    caller: str | None = None,
    echo_leaked: Callable[[float], bool] | None = None,
    prompt: PromptProgress | None = None,
) -> tuple[DialogProcessor, list[str], list[tuple[str, dict[str, Any]]]]:
    """The dialog processor after ``script`` (after the greeting started), what it said and
    the call record's dialog events. ``orders`` answers order look-ups (default: none found);
    ``caller`` is the phone number the call came from; ``echo_leaked`` stands for the echo
    canceller's word on whether the agent's echo may have come through; ``prompt`` for how
    much of the prompt was played (default: nothing, its words not known)."""
    recorder = recorder or Recorder()
    services = AgentServices(
        settings=settings or Settings(),
        models=None,  # type: ignore[arg-type]  # the dialog processor never touches models
        engine=DialogEngine(spec),
        orders=orders or NoOms(),
        work_orders=NoOms(),
        recorder=recorder,
    )
    # Nothing has been played yet: the whole prompt counts as unheard.
    prompt = prompt or PromptProgress(PlaybackClock(), split_sentences, lambda _: 1.0)
    dialog = DialogProcessor(
        call=CallInfo(call_sid="CA-test", channel="test", caller=caller),
        control=Control(),
        services=services,
        prompt=prompt,
        echo_leaked=echo_leaked,
    )
    frames = [SleepFrame(0.2), Hook("_on_bot_started"), *script, SleepFrame(0.3)]
    down, _ = await run_test(Pipeline([HookCaller(dialog), dialog]), frames_to_send=frames)
    said = [f.text for f in down if isinstance(f, TTSSpeakFrame)]
    return dialog, said, recorder.events


def heard(text: str) -> TranscriptionFrame:
    return TranscriptionFrame(text, "caller", "2026-11-22T00:00:00Z")


def kinds(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    not_answers = ("backchannel", "acknowledgement", "own_echo")
    return [k for k, _ in events if k.startswith("barge_in") or k in not_answers]


async def test_an_uh_huh_heard_while_paused_lets_the_prompt_go_on_at_once():
    # The turn's words settle the pause: the barge-in processor, which saw them pass, says no
    # more of it.
    said, events = await run_call(
        [
            Hook("on_barge_in_paused"),
            Hook("_on_bot_stopped"),  # the interruption stopped the audio
            heard("Oh."),  # an early end of turn delivers it
        ]
    )
    assert said == [GREETING, GREETING]
    assert kinds(events) == ["barge_in_paused", "backchannel", "barge_in_resumed"]


async def test_a_turn_heard_as_no_words_while_paused_lets_the_prompt_go_on():
    said, events = await run_call(
        [
            Hook("on_barge_in_paused"),
            Hook("_on_bot_stopped"),
            NothingHeardFrame(),  # a cough the turn VAD took for a turn
        ]
    )
    assert said == [GREETING, GREETING]
    assert kinds(events) == ["barge_in_paused", "barge_in_resumed"]


# A long "mm-hmm", and thanks: Whisper's "Thank you." for a caller's thanks, or for a noise or
# the prompt's own echo.
@pytest.mark.parametrize("words", ["MMM.", "Thank you."])
async def test_a_confirmed_barge_in_whose_words_were_only_a_backchannel_lets_the_prompt_go_on(
    words: str,
):
    said, events = await run_call(
        [
            Hook("on_barge_in_paused"),
            Hook("_on_bot_stopped"),
            Hook("on_barge_in"),
            SleepFrame(0.1),
            heard(words),
        ]
    )
    assert said == [GREETING, GREETING]
    assert kinds(events) == ["barge_in_paused", "barge_in", "backchannel", "barge_in_resumed"]


async def test_a_confirmed_barge_in_no_turn_came_of_lets_the_prompt_go_on():
    # The barge-in processor's verdict when the turn VAD started no turn: no words will come.
    said, events = await run_call(
        [
            Hook("on_barge_in_paused"),
            Hook("_on_bot_stopped"),
            Hook("on_barge_in"),
            SleepFrame(0.1),
            Hook("on_barge_in_resumed"),
        ]
    )
    assert said == [GREETING, GREETING]
    assert kinds(events) == ["barge_in_paused", "barge_in", "barge_in_resumed"]


def paused_then_heard(words: str) -> list[Frame]:
    """A barge-in paused (the prompt's audio stopped), then the turn's words."""
    return [Hook("on_barge_in_paused"), Hook("_on_bot_stopped"), heard(words), SleepFrame(0.2)]


def confirmed_then_heard(words: str) -> list[Frame]:
    """A barge-in paused and confirmed, then the turn's words."""
    return [
        Hook("on_barge_in_paused"),
        Hook("_on_bot_stopped"),
        Hook("on_barge_in"),
        SleepFrame(0.1),
        heard(words),
        SleepFrame(0.2),
    ]


def assert_taken_for_the_echo(said: list[str], events: list[tuple[str, dict[str, Any]]]) -> None:
    assert said == [GREETING, GREETING]
    assert kinds(events) == ["barge_in_paused", "barge_in", "own_echo", "barge_in_resumed"]


def assert_answered(said: list[str], events: list[tuple[str, dict[str, Any]]], words: str) -> None:
    assert len(said) == 2 and said[1] != GREETING
    assert ("event", {"type": "UserSaid", "text": words}) in events


async def test_the_prompts_own_words_heard_where_its_echo_may_have_leaked_let_it_go_on():
    # Whisper's reading of an "uh-huh" over the greeting echoed 0.7 s late, before the
    # canceller had found the echo: the caller's "mm-hmm" and the greeting's own words.
    words = "Mm-hmm. Thanks for calling."
    asked: list[float] = []
    for leaked in (True, False):

        def echo_leaked(seconds: float, leaked: bool = leaked) -> bool:
            asked.append(seconds)
            return leaked

        _, said, events = await run_dialog(confirmed_then_heard(words), echo_leaked=echo_leaked)
        if leaked:
            assert_taken_for_the_echo(said, events)
        else:  # on a line whose echo is cancelled, or none, they are the caller's words
            assert_answered(said, events, words)
    assert len(asked) == 2 and all(seconds >= 0 for seconds in asked)


@pytest.mark.parametrize(("words", "echo"), [("Refund.", False), ("Hi, thanks.", True)])
async def test_only_words_of_the_prompt_already_played_can_be_its_echo(words: str, echo: bool):
    # 0.6 s into the greeting "Hi, thanks for" has played: its "refunds" is seconds away, so no
    # echo of it can be in the turn, however late the line returns it.
    first = split_sentences(GREETING)[0]
    prompt = PromptProgress(
        PlaybackClock(), split_sentences, lambda _: 1.0, words_begun=lambda s, _: 3 * (s == first)
    )
    script = confirmed_then_heard(words)
    _, said, events = await run_dialog(script, echo_leaked=lambda _: True, prompt=prompt)
    if echo:
        assert_taken_for_the_echo(said, events)
    else:
        assert_answered(said, events, words)


@pytest.mark.parametrize("words", ["Okay.", "All right. Thanks."])
async def test_an_okay_lets_a_prompt_go_on_until_it_has_asked_something(words: str):
    # Over the greeting's "Hi, thanks for calling ...", it acknowledges; over its "How can I
    # help you today?" it is the caller's answer, however little it says.
    first = split_sentences(GREETING)[0]
    script = paused_then_heard(words)
    _, said, events = await run_dialog(script)  # the first sentence playing
    assert said == [GREETING, GREETING]
    assert kinds(events) == ["barge_in_paused", "acknowledgement", "barge_in_resumed"]
    # the first sentence heard whole (as if it had taken no time), the question playing
    prompt = PromptProgress(PlaybackClock(), split_sentences, lambda s: 1.0 * (s != first))
    _, said, events = await run_dialog(script, prompt=prompt)
    assert_answered(said, events, words)
    assert kinds(events) == ["barge_in_paused", "barge_in"]


async def test_an_okay_over_the_summary_to_confirm_opens_no_return_before_it_is_asked():
    # Before, it was the yes to "Shall I open the return?" still to come: the work order was
    # opened over "To confirm: you're returning ...".
    request = "I want to return the rain jacket from order 4 8 1 5 2 6, it's the wrong size."
    script = [
        Hook("_on_bot_stopped"),
        heard(request),
        SleepFrame(0.2),
        Hook("_on_bot_started"),  # "To confirm: you're returning the rain jacket ..."
        *paused_then_heard("Okay."),
    ]
    _, said, events = await run_dialog(script, orders=SeededOms())
    summary = said[-2]
    assert (
        summary.startswith("To confirm: you're returning the rain jacket") and said[-1] == summary
    )
    assert kinds(events) == ["barge_in_paused", "acknowledgement", "barge_in_resumed"]


async def test_an_answer_heard_while_paused_is_a_barge_in_and_the_callers_turn():
    # Too short for the barge-in processor to confirm ("Refund."), but words: the prompt stays
    # stopped and the answer is taken as soon as it is heard.
    for words in ("Refund.", "I want a refund."):
        dialog, said, events = await run_dialog(paused_then_heard(words))
        assert said[0] == GREETING and len(said) == 2 and said[1] != GREETING
        assert kinds(events) == ["barge_in_paused", "barge_in"]
        answer = events.index(("event", {"type": "UserSaid", "text": words}))
        assert answer > events.index(("barge_in", {"prompt": GREETING}))
        assert dialog.interruptions == 1


async def test_words_that_come_after_the_prompt_went_on_are_still_answered_after_it():
    # The barge-in processor's verdict came first (no turn in time: its wait for the words ran
    # out); the words that come then are the caller's turn all the same.
    said, events = await run_call(
        [
            Hook("on_barge_in_paused"),
            Hook("_on_bot_stopped"),
            Hook("on_barge_in_resumed"),
            SleepFrame(0.1),
            heard("Refund."),
            SleepFrame(0.2),
        ]
    )
    assert said[:2] == [GREETING, GREETING] and len(said) == 3 and said[2] != GREETING
    assert kinds(events) == ["barge_in_paused", "barge_in_resumed"]
