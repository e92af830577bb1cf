"""The latency bench's reading of a call record: which turns got "One moment" and when the
answer came (``bench.latency.answers_after_hold_on``)."""

from __future__ import annotations

from bench.latency import answers_after_hold_on


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
