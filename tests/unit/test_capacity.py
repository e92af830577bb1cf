"""The agent's call slots over every channel (pure: the clock is passed in), and what Twilio is
told for a call beyond them."""

from __future__ import annotations

import time
from xml.etree import ElementTree

import pytest
from pydantic import ValidationError

from voice_agent.app import create_app
from voice_agent.capacity import (
    CALLS_PER_CORE,
    CALLS_PER_PROCESS,
    MIN_ANSWERS,
    PACE_WINDOW_S,
    RESERVE_S,
    CallCapacity,
    default_limit,
)
from voice_agent.metrics import CallMetrics
from voice_agent.settings import Settings
from voice_agent.telephony.twilio import LINES_BUSY, busy_twiml


def test_calls_beyond_the_limit_are_not_taken_until_one_ends() -> None:
    slots = CallCapacity(2)
    assert slots.take("CA1", 0.0) and slots.take("CA2", 0.0)
    assert not slots.take("CA3", 1.0) and not slots.reserve("CA3", 1.0)
    slots.release("CA1")
    assert slots.take("CA3", 2.0) and slots.in_use == 2


def test_each_call_turned_away_is_told() -> None:
    turned_away: list[None] = []
    slots = CallCapacity(1, on_full=lambda: turned_away.append(None))
    assert slots.take("CA1", 0.0) and slots.take("CA1", 0.1)  # its own slot: not turned away
    assert not slots.reserve("CA2", 0.2) and not slots.take("CA3", 0.3)
    assert len(turned_away) == 2


def test_a_reserved_slot_is_the_calls_own_when_it_starts() -> None:
    # Twilio's webhook reserves; the media stream that follows takes the same slot.
    slots = CallCapacity(1)
    assert slots.reserve("CA1", 0.0)
    assert not slots.reserve("CA2", 0.5) and not slots.take("CA2", 0.5)
    assert slots.reserve("CA1", 0.6)  # the webhook retried: still its slot
    assert slots.take("CA1", 1.0) and slots.in_use == 1


def test_a_reservation_no_call_takes_lapses_but_a_running_call_keeps_its_slot() -> None:
    slots = CallCapacity(2)
    assert slots.reserve("CA-never-streamed", 0.0) and slots.take("CA-running", 0.0)
    assert not slots.take("CA3", RESERVE_S - 1)
    assert slots.take("CA3", RESERVE_S)  # the reservation lapsed
    assert not slots.take("CA4", 10 * RESERVE_S)  # the running calls did not


def test_holding_releases_the_slot_when_the_call_ends_even_by_an_error() -> None:
    slots = CallCapacity(1)
    try:
        with slots.holding("CA1", 0.0) as taken:
            assert taken and slots.in_use == 1
            with slots.holding("CA2", 0.0) as second:
                assert not second
            assert slots.in_use == 1  # a call not taken frees nothing
            raise RuntimeError("the pipeline failed")
    except RuntimeError:
        pass
    assert slots.in_use == 0


def test_while_the_answers_are_slow_no_call_is_taken_beyond_the_ones_always_taken() -> None:
    turned_away: list[None] = []
    slots = CallCapacity(10, on_full=lambda: turned_away.append(None), slow_answer_s=1.0, always=2)
    assert slots.take("CA1", 0.0) and slots.take("CA2", 0.0) and slots.take("CA3", 0.0)
    for t in range(MIN_ANSWERS):
        slots.answered(1.2 if t else 0.4, 1.0 + t)  # the median is over: slow
    now = 1.0 + MIN_ANSWERS
    assert slots.slow(now) and not slots.reserve("CA4", now) and len(turned_away) == 1
    assert slots.take("CA1", now)  # a call in progress keeps its slot
    assert slots.why_full(now) == (
        "answers slow (median 1.2 s, audio 0.0 s behind), 3 calls in progress"
    )
    slots.release("CA2")
    slots.release("CA3")
    assert slots.take("CA5", now) and slots.in_use == 2  # fewer than always: taken
    assert not slots.take("CA6", now)
    # Answers older than the window no longer count, and too few say nothing.
    assert slots.answer_median(1.0 + PACE_WINDOW_S) == 1.2  # the first answer's last moment
    later = 1.5 + PACE_WINDOW_S
    assert slots.answer_median(later) is None and slots.take("CA6", later)


def test_the_pace_turns_no_call_away_when_quick_or_turned_off() -> None:
    quick, off = CallCapacity(5, slow_answer_s=1.0), CallCapacity(5, slow_answer_s=0.0)
    for t in range(2 * MIN_ANSWERS):
        quick.answered(0.9, t)
        off.answered(3.0, t)
    assert quick.answer_median(10) == 0.9 and not quick.slow(10) and not off.slow(10)
    assert all(slots.take(f"CA{i}", 10) for slots in (quick, off) for i in range(5))
    assert not quick.take("CA5", 10) and quick.why_full(10) == "5 calls in progress"


def test_while_most_calls_audio_is_handled_behind_the_line_no_call_is_taken() -> None:
    slots = CallCapacity(10, slow_answer_s=1.0, always=2)
    for i in range(3):
        assert slots.take(f"CA{i}", 0.0)
    slots.behind("CA0", 2.0, 0.0)  # one call's stall is not the box's
    slots.behind("CA1", 0.01, 0.0)
    slots.behind("CA2", 0.02, 0.0)
    assert not slots.slow(0.5) and slots.reserve("CA3", 0.5)
    slots.behind("CA1", 0.3, 0.6)
    assert slots.behind_median(0.6) == 0.3 and not slots.reserve("CA4", 0.6)
    assert slots.why_full(0.6).startswith("answers slow (median 0.0 s, audio 0.3 s behind)")
    # What a call said more than a second ago is stale: it may have ended.
    slots.behind("CA2", 0.01, 1.7)
    assert slots.behind_median(1.7) == 0.01 and slots.reserve("CA4", 1.7)


def test_the_app_feeds_its_answers_latency_to_its_call_limit(tmp_path) -> None:
    app = create_app(Settings(data_dir=tmp_path, slow_answer_s=0.5, max_calls=20))
    capacity, metrics = app.state.capacity, app.state.metrics
    assert capacity.limit == 20 and capacity.always >= 1
    for i in range(capacity.always):
        assert capacity.take(f"CA{i}", 0.0)
    for _ in range(MIN_ANSWERS):
        metrics.observe_latency("transcript_to_first_audio", 2.0)  # not an answer's whole wait
    assert capacity.reserve("CA-next", 0.0)
    capacity.release("CA-next")
    for _ in range(MIN_ANSWERS):
        metrics.observe_latency("end_of_speech_to_first_audio", 2.0)
    assert capacity.answer_median(time.monotonic()) == 2.0
    assert not capacity.reserve("CA-next", time.monotonic())
    assert "voice_agent_calls_turned_away_total 1.0" in metrics.render().decode()


def test_metrics_tell_each_answer_and_nothing_else() -> None:
    told: list[float] = []
    behind: list[tuple[str, float]] = []
    metrics = CallMetrics(on_answer=told.append, on_behind=lambda *a: behind.append(a))
    for stage in ("vad_end_to_transcript", "end_of_speech_to_first_audio"):
        metrics.observe_latency(stage, 0.4)
    metrics.observe_behind("CA1", 0.05)
    assert told == [0.4] and behind == [("CA1", 0.05)]


def test_the_default_limit_is_per_core_up_to_what_one_event_loop_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Where the process's cores can't be asked for (macOS, Windows): the machine's.
    monkeypatch.delattr("os.sched_getaffinity", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert default_limit() == 2 * CALLS_PER_CORE
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert default_limit() == CALLS_PER_PROCESS


def test_a_twilio_call_beyond_capacity_goes_to_a_person_or_hears_the_lines_are_busy() -> None:
    dialed = ElementTree.fromstring(busy_twiml("+15550123456"))
    assert dialed.findtext("./Dial/Number") == "+15550123456"
    desk = ElementTree.fromstring(busy_twiml("sip:desk@pbx.example.com"))
    assert desk.findtext("./Dial/Sip") == "sip:desk@pbx.example.com?X-VA-Reason=all+lines+busy"
    told = ElementTree.fromstring(busy_twiml(None))
    assert told.findtext("./Say") == LINES_BUSY and told.find("./Hangup") is not None
    assert told.find("./Connect") is None


def test_a_limit_of_no_calls_is_refused_at_start_up() -> None:
    with pytest.raises(ValidationError):
        Settings(max_calls=0)
    assert Settings(max_calls=3).max_calls == 3 and Settings().max_calls is None
