"""Pure parts of call recording, metrics and the console views (no models, no sockets)."""

from __future__ import annotations

import numpy as np
import pytest

from voice_agent.console.stats import call_row, complaint_words, timeline, totals, turn_latencies
from voice_agent.metrics import CallMetrics
from voice_agent.pipeline.recording import StereoTimeline, caller_words, recording_paths


def tone(seconds: float, rate: int, amp: float = 0.5) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * 32767 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()


def silence(seconds: float, rate: int) -> bytes:
    return bytes(int(seconds * rate) * 2)


def test_agent_audio_starts_where_the_caller_clock_is():
    line = StereoTimeline(rate=8000)
    for _ in range(100):  # 2 s of caller audio, 20 ms at a time, at the pipeline's 16 kHz
        line.add_caller(silence(0.02, 16000), 16000)
    for _ in range(50):  # then a 1 s prompt, as played
        line.add_agent(tone(0.02, 8000), 8000)
    stereo = line.stereo()
    assert stereo.shape[1] == 2
    agent = np.abs(stereo[:, 1]) > 0.01
    first = int(np.argmax(agent)) / 8000
    assert first == pytest.approx(2.0, abs=0.05)
    assert agent.sum() / 8000 == pytest.approx(1.0, abs=0.05)
    assert line.seconds == pytest.approx(2.0, abs=1e-9)  # the clock is the caller's samples


def test_a_prompt_is_not_split_by_small_clock_jitter():
    line = StereoTimeline(rate=8000)
    for _ in range(50):  # caller and agent interleaved 20 ms at a time, agent a frame behind
        line.add_caller(silence(0.02, 8000), 8000)
        line.add_agent(tone(0.02, 8000), 8000)
        line.add_caller(silence(0.0, 8000), 8000)
    agent = line.stereo()[:, 1]
    voiced = np.flatnonzero(np.abs(agent) > 0.01)
    # One contiguous prompt: no inserted gaps longer than a few samples between its frames.
    assert np.max(np.diff(voiced)) < 20


def test_caller_left_agent_right():
    line = StereoTimeline(rate=8000)
    line.add_caller(tone(0.5, 8000), 8000)
    line.add_agent(silence(0.5, 8000), 8000)
    stereo = line.stereo()
    assert np.abs(stereo[:, 0]).max() > 0.4
    assert np.abs(stereo[:, 1]).max() == 0


def test_caller_words_are_the_callers_turns_alone():
    events = [
        {"kind": "turn", "speaker": "agent", "text": "How can I help?"},
        {"kind": "vad_start", "t": 1.0},
        {"kind": "turn", "speaker": "user", "text": "A return."},
        {"kind": "turn", "speaker": "user", "text": "Order 123."},
    ]
    assert caller_words(events) == ["A return.", "Order 123."]


def test_recording_paths_are_file_name_safe(tmp_path):
    wav, events = recording_paths(tmp_path, "../../etc/passwd")
    assert wav.parent == tmp_path / "recordings"
    assert "/" not in wav.name and events.name.endswith(".events.jsonl")


def test_metrics_render_in_prometheus_format():
    m = CallMetrics()
    m.call_started("twilio")
    m.call_started("sip")
    m.call_ended("sip", "resolved")
    m.observe_latency("end_of_speech_to_first_audio", 0.8)
    m.observe_asr(0.3, 1.5)
    m.outbox_backlog.set(3)
    text = m.render().decode()
    assert 'voice_agent_active_calls{channel="twilio"} 1.0' in text
    assert 'voice_agent_active_calls{channel="sip"} 0.0' in text
    assert 'voice_agent_calls_total{channel="sip",outcome="resolved"} 1.0' in text
    stage = 'stage="end_of_speech_to_first_audio"'
    assert f'voice_agent_latency_seconds_bucket{{le="1.0",{stage}}} 1.0' in text
    assert 'voice_agent_asr_real_time_factor_bucket{le="0.2"} 1.0' in text
    assert 'voice_agent_asr_real_time_factor_bucket{le="0.1"} 0.0' in text
    assert "voice_agent_outbox_backlog 3.0" in text
    with pytest.raises(ValueError):
        m.observe_latency("made_up", 1.0)


RECORD = {
    "call_sid": "CA1",
    "channel": "twilio",
    "caller": "+1555***11",
    "started_at": "2026-11-22T10:00:00+00:00",
    "ended_at": "2026-11-22T10:01:30+00:00",
    "outcome": "handed_off",
    "turns": [
        {"speaker": "agent", "text": "Hi, how can I help?", "at": "2026-11-22T10:00:01"},
        {"speaker": "user", "text": "This is useless, the headphones are broken",
         "at": "2026-11-22T10:00:05"},
        {"speaker": "agent", "text": "Let me get you a person.", "at": "2026-11-22T10:00:06"},
    ],
    "events": [
        {"kind": "state", "at": "t", "data": {"state": {"intent": "return", "phase": "slot"}}},
        {"kind": "latency", "at": "t", "data": {"end_of_speech_to_audio_ms": 900}},
        {"kind": "transfer", "at": "t", "data": {"reason": "caller upset", "ok": True}},
    ],
    "work_orders": [{"type": "return", "order_id": "735902", "reason": "damaged",
                     "status": "delivered"}],
}


def test_call_row_and_totals():
    row = call_row(RECORD)
    assert row["duration_s"] == 90.0
    assert row["intent"] == "return"
    assert row["handed_off"] and row["handoff_reason"] == "caller upset"
    assert row["work_orders"] == [{"type": "return", "order_id": "735902", "status": "delivered"}]
    resolved = RECORD | {"call_sid": "CA2", "outcome": "resolved", "events": []}
    t = totals([RECORD, resolved, resolved | {"call_sid": "CA3"}])
    assert t["calls"] == 3 and t["containment_rate"] == pytest.approx(0.667, abs=0.001)
    assert t["handoff_reasons"] == [("caller upset", 1)]
    assert t["return_reasons"] == [("damaged", 3)]
    words = dict(complaint_words([RECORD]))
    assert words["useless"] == 1 and words["broken"] == 1 and "the" not in words


def test_timeline_places_lines_on_the_recording_clock():
    events = [
        {"t": 0.0, "kind": "call_start"},
        {"t": 0.1, "kind": "turn", "speaker": "agent", "text": "Hi, how can I help?"},
        {"t": 0.3, "kind": "agent_audio_start"},
        {"t": 3.0, "kind": "vad_start"},
        {"t": 5.0, "kind": "vad_stop"},
        {"t": 5.4, "kind": "turn", "speaker": "user", "text": "This is useless",
         "vad_end_to_transcript_ms": 400},
        {"t": 5.5, "kind": "turn", "speaker": "agent", "text": "Let me get you a person."},
        {"t": 6.1, "kind": "agent_first_audio", "transcript_to_first_audio_ms": 700,
         "end_of_speech_to_first_audio_ms": 1600},
        {"t": 6.1, "kind": "agent_audio_start"},
    ]
    chat = timeline(RECORD, events)
    assert [c["start_s"] for c in chat] == [0.3, 3.0, 6.1]
    assert [c["speaker"] for c in chat] == ["agent", "user", "agent"]
    assert turn_latencies(events, RECORD) == [
        {"turn": 1, "text": "This is useless", "vad_end_to_transcript_ms": 400,
         "transcript_to_first_audio_ms": 700, "end_of_speech_to_first_audio_ms": 1600}
    ]
    # Without a recording: wall-clock lines and the dialog's own latency events.
    assert timeline(RECORD, None)[1]["start_s"] is None
    assert turn_latencies(None, RECORD) == [{"turn": 1, "end_of_speech_to_first_audio_ms": 900}]


def said(text: str) -> object:
    from pipecat.frames.frames import TranscriptionFrame

    return TranscriptionFrame(text, "", "2026-11-22T00:00:00Z")


def reporting_turns_to(observer: object) -> object:
    """Stands in for the dialog, which reports each caller turn to the recorder."""
    from pipecat.frames.frames import Frame, TranscriptionFrame
    from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

    class Dialog(FrameProcessor):
        async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
            await super().process_frame(frame, direction)
            if isinstance(frame, TranscriptionFrame):
                observer.on_turn("user", frame.text)  # type: ignore[attr-defined]
            await self.push_frame(frame, direction)

    return Dialog()


async def test_a_turn_ended_on_its_transcript_is_timed_from_its_own_end_of_speech():
    from pipecat.frames.frames import (
        OutputAudioRawFrame,
        VADUserStartedSpeakingFrame,
        VADUserStoppedSpeakingFrame,
    )
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.tests.utils import SleepFrame, run_test

    from voice_agent.pipeline.call import CallInfo
    from voice_agent.pipeline.recording import CallObserver

    metrics = CallMetrics()
    observer = CallObserver(
        CallInfo("CA1", "twilio"), record_dir=None, metrics=metrics, vad_stop_secs=0.5
    )

    audio = OutputAudioRawFrame(tone(0.02, 16000), 16000, 1)
    await run_test(
        Pipeline([reporting_turns_to(observer), observer]),
        frames_to_send=[
            # A turn the VAD ended, then one the STT ended early, a second later.
            # (Sleeps: a live turn takes far longer than a frame takes to reach the observer.)
            VADUserStartedSpeakingFrame(), VADUserStoppedSpeakingFrame(), SleepFrame(sleep=0.1),
            said("My order."), audio, SleepFrame(sleep=1.0),
            VADUserStartedSpeakingFrame(), SleepFrame(sleep=0.1), said("Yes."), audio,
            SleepFrame(sleep=0.1), VADUserStoppedSpeakingFrame(),
        ],
    )  # fmt: skip
    turns = [e for e in observer.events if e["kind"] == "turn"]
    first_audio = [e for e in observer.events if e["kind"] == "agent_first_audio"]
    assert "ended_early" not in turns[0] and "vad_end_to_transcript_ms" in turns[0]
    # The transcript was there before the VAD's end: no wait for it after that end.
    assert turns[1]["ended_early"] and turns[1]["vad_end_to_transcript_ms"] == 0
    assert "end_of_speech_to_first_audio_ms" in first_audio[0]
    # Its audio came ~0.1 s before the VAD's stop, which is 0.5 s after the end of speech:
    # ~0.4 s, not ~1.5 s counted from the first turn's stop, and not left out.
    assert 300 <= first_audio[1]["end_of_speech_to_first_audio_ms"] <= 700
    assert first_audio[1]["transcript_to_first_audio_ms"] < 500
    text = metrics.render().decode()
    for stage in ("vad_end_to_transcript", "transcript_to_first_audio",
                  "end_of_speech_to_first_audio"):
        assert f'voice_agent_latency_seconds_count{{stage="{stage}"}} 2.0' in text, stage
    for ended_by in ("vad", "transcript"):  # one turn each
        assert f'voice_agent_caller_turns_total{{ended_by="{ended_by}"}} 1.0' in text, ended_by


async def test_an_answer_counts_from_when_the_caller_stopped_on_the_line_not_in_the_box():
    """Caller audio that reaches the pipeline's end late (the event loop behind, with more calls
    than it keeps up with) stopped on the line that much earlier than the VAD's stop says.
    """
    from pipecat.frames.frames import (
        InputAudioRawFrame,
        OutputAudioRawFrame,
        VADUserStartedSpeakingFrame,
        VADUserStoppedSpeakingFrame,
    )
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.tests.utils import SleepFrame, run_test

    from voice_agent.pipeline.call import CallInfo
    from voice_agent.pipeline.recording import CallObserver

    observer = CallObserver(CallInfo("CA1", "twilio"), record_dir=None, vad_stop_secs=0.5)

    def caller() -> InputAudioRawFrame:
        return InputAudioRawFrame(tone(0.02, 16000), 16000, 1)

    await run_test(
        Pipeline([reporting_turns_to(observer), observer]),
        frames_to_send=[
            caller(), SleepFrame(sleep=0.6),  # the line's next 0.6 s waited in the box
            caller(), VADUserStartedSpeakingFrame(), VADUserStoppedSpeakingFrame(),
            SleepFrame(sleep=0.1), said("My order."),
            OutputAudioRawFrame(tone(0.02, 16000), 16000, 1),
        ],
    )  # fmt: skip
    (answered,) = [e for e in observer.events if e["kind"] == "agent_first_audio"]
    # 0.1 s after the stop seen here, 0.5 s of the VAD's hangover, 0.58 s behind the line.
    assert 1100 <= answered["end_of_speech_to_first_audio_ms"] <= 1400


async def test_a_turn_held_for_the_vad_is_in_the_call_record():
    from pipecat.tests.utils import run_test

    from voice_agent.pipeline.call import CallInfo
    from voice_agent.pipeline.frames import TurnHeldFrame
    from voice_agent.pipeline.recording import CallObserver

    metrics = CallMetrics()
    observer = CallObserver(CallInfo("CA1", "twilio"), record_dir=None, metrics=metrics)
    said = "And so my fellow American ask."
    down, _ = await run_test(observer, frames_to_send=[TurnHeldFrame(said)])
    held = [e for e in observer.events if e["kind"] == "turn_held"]
    assert held == [
        {"t": held[0]["t"], "kind": "turn_held", "text": said, "reason": "sounds unfinished"}
    ]  # fmt: skip
    assert any(isinstance(f, TurnHeldFrame) for f in down)  # passed on, too
    assert "voice_agent_turns_held_total 1.0" in metrics.render().decode()
