"""The latency bench's reading of a call record: which turns got "One moment" and when the
answer came (``bench.hold_on.answers_after_hold_on``); the loads it runs."""

from __future__ import annotations

from argparse import Namespace

from bench.hold_on import answers_after_hold_on
from bench.latency import loads, summarize


def ev(kind: str, **data: object) -> dict:
    return {"kind": kind, "data": data}


def test_the_turn_a_hold_on_was_said_for_and_its_two_times() -> None:
    events = [
        ev("event", type="CallStarted"),
        ev("event", type="UserSaid", text="I'd like to return my headphones."),
        ev("latency", end_of_speech_to_audio_ms=12),
        # The number is read again: "One moment" before the turn's words reach the dialog.
        ev("hold_on", reason="number_check", text="One moment, please."),
        ev("latency", end_of_speech_to_audio_ms=108),
        ev("event", type="UserSaid", text="8, double oh, oh four six."),
        ev("action", action="LookupOrder", order_id="800046"),
        ev("answer_after_hold_on", end_of_speech_to_answer_ms=917),
        ev("event", type="UserSaid", text="They arrived damaged."),
        ev("latency", end_of_speech_to_audio_ms=30),
    ]
    assert answers_after_hold_on(events) == {1: (108, 917)}


def test_a_slow_oms_after_the_turn_reached_the_dialog() -> None:
    events = [
        ev("event", type="UserSaid", text="It's 4 8 1 5 5 0."),
        ev("action", action="LookupOrder", order_id="481550"),
        ev("hold_on", reason="oms", text="One moment, please."),
        ev("latency", end_of_speech_to_audio_ms=820),
        ev("answer_after_hold_on", end_of_speech_to_answer_ms=2400),
    ]
    # Said after the turn's words were stepped: it belongs to that turn, the first.
    assert answers_after_hold_on(events) == {0: (820, 2400)}


def rec(t: float, kind: str) -> dict:
    return {"t": t, "kind": kind}


def test_when_the_caller_heard_an_answer_after_its_hold_on() -> None:
    from bench.hold_on import hold_on_to_answer_heard

    recording = [
        rec(7.6, "agent_audio_start"),  # the question before
        rec(11.7, "agent_audio_stop"),
        rec(15.06, "dialog_hold_on"),
        rec(15.06, "agent_audio_start"),  # "One moment, please." plays
        rec(15.54, "dialog_answer_after_hold_on"),  # handed to the TTS while it plays...
        rec(16.26, "agent_audio_stop"),
        rec(16.26, "agent_audio_start"),  # ... and heard once it has played
        rec(26.0, "agent_audio_stop"),
        rec(30.0, "dialog_hold_on"),  # a slow OMS: the hold-on has ended before the answer
        rec(30.02, "agent_audio_start"),
        rec(31.2, "agent_audio_stop"),
        rec(33.0, "dialog_answer_after_hold_on"),
        rec(33.03, "agent_audio_start"),
        rec(40.0, "dialog_hold_on"),  # the call ended before this one's answer
        rec(40.0, "agent_audio_start"),
    ]
    gaps = hold_on_to_answer_heard(recording)
    assert [round(g, 2) for g in gaps] == [1.2, 3.01]


def test_heard_answers_are_paired_with_their_turns() -> None:
    from bench.hold_on import answers_heard

    call = {"turn_ms": [450.0, 540.0, 440.0, 430.0], "answer_ms": {"1": 1032}}
    recording = [
        rec(15.0, "dialog_hold_on"),
        rec(15.0, "agent_audio_start"),
        rec(15.5, "dialog_answer_after_hold_on"),
        rec(16.2, "agent_audio_start"),
    ]
    assert answers_heard(call, recording) == {"1": 1740}  # 540 ms to the hold-on, 1.2 s on
    assert answers_heard(call, []) == {}  # no recording: nothing made up


def test_the_loads_run_by_default_and_for_the_boxs_capacity() -> None:
    args = Namespace(calls=8, rounds=2, loads=[], staggered=[])
    assert [label for label, *_ in loads(args)] == [
        "1 call",
        "4 concurrent",
        "4 concurrent, staggered 1.7 s",
    ]
    args.loads = ["4 concurrent"]
    assert loads(args) == [("4 concurrent", 4, 2, 0.0)]
    args.staggered = [8, 16]  # one round each, and nothing else
    assert loads(args) == [
        ("8 concurrent, staggered 1.7 s", 8, 1, 1.7),
        ("16 concurrent, staggered 1.7 s", 16, 1, 1.7),
    ]


def test_a_call_that_waited_too_long_is_counted_apart_from_the_figures() -> None:
    answered = {"greeting_ms": 30.0, "turn_ms": [300.0, 320.0], "silence_ms": [0.0, 80.0]}
    waited = {"greeting_ms": 40.0, "turn_ms": [900.0], "silence_ms": [600.0]}
    never = {"greeting_ms": None, "turn_ms": [], "silence_ms": []}
    for call, seconds in ((answered, 9), (waited, 40), (never, 30)):
        call |= {"answer_ms": {}, "duration_s": seconds}
    calls = [answered, waited | {"timed_out": True}, never | {"timed_out": True}, {"busy": True}]
    summary = summarize(calls, ["a", "b"])
    assert (summary["calls"], summary["busy"], summary["timed_out"]) == (3, 1, 2)
    assert summary["turns"] == 3 and summary["turn_p50_ms"] == 320.0
    assert summary["greeting_max_ms"] == 40.0
    assert (summary["silence_in_answer_p95_ms"], summary["silence_in_answer_max_ms"]) == (600, 600)
    assert [t["said"] for t in summary["by_turn"]] == []  # no turn every call reached
