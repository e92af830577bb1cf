"""Pure parts of the softphone protocol and of the call observer's wiring."""

from __future__ import annotations

import json

import pytest
from pipecat.frames.frames import InputAudioRawFrame, InputDTMFFrame, OutputAudioRawFrame

from voice_agent.console.phone import MAX_MESSAGE_BYTES, BrowserPcmSerializer
from voice_agent.metrics import CallMetrics
from voice_agent.pipeline.call import CallInfo
from voice_agent.pipeline.recording import TeeRecorder, observe_call, turns_from_events
from voice_agent.settings import Settings


def test_browser_audio_and_keys_become_frames():
    hung_up = []
    s = BrowserPcmSerializer(on_hangup=lambda: hung_up.append(True))
    frame = s.parse(b"\x01\x00" * 160)
    assert isinstance(frame, InputAudioRawFrame) and frame.sample_rate == 16000
    key = s.parse(json.dumps({"event": "dtmf", "digit": "7"}))
    assert isinstance(key, InputDTMFFrame) and key.button.value == "7"
    assert s.parse(json.dumps({"event": "hangup"})) is None and hung_up == [True]
    assert s.bad_messages == 0


@pytest.mark.parametrize(
    "message",
    [b"", b"\x01", b"\x00" * (MAX_MESSAGE_BYTES + 2), "not json", "[1, 2]",
     json.dumps({"event": "dtmf", "digit": "x"}), json.dumps({"event": "nope"})],
)
def test_malformed_browser_messages_are_dropped(message):
    s = BrowserPcmSerializer()
    assert s.parse(message) is None
    assert s.bad_messages == 1


async def test_only_agent_audio_goes_to_the_browser():
    s = BrowserPcmSerializer()
    audio = OutputAudioRawFrame(audio=b"\x02\x00" * 10, sample_rate=16000, num_channels=1)
    assert await s.serialize(audio) == audio.audio
    assert await s.serialize(InputDTMFFrame.__new__(InputDTMFFrame)) is None


def _observe(settings, channel="twilio", metrics=None):
    import dataclasses

    @dataclasses.dataclass
    class S:
        settings: Settings
        metrics: CallMetrics | None = None
        recorder: object = None

    return observe_call(CallInfo(call_sid="CA1", channel=channel), S(settings, metrics))


def test_observer_only_when_recording_or_metrics(tmp_path):
    off = Settings(data_dir=tmp_path, record_calls=False)
    observer, services = _observe(off)
    assert observer is None and services.recorder is None
    observer, services = _observe(off, metrics=CallMetrics())
    assert observer is not None and observer.record_dir is None
    assert isinstance(services.recorder, TeeRecorder)
    on = Settings(data_dir=tmp_path, record_calls=True)
    observer, _ = _observe(on)
    assert observer is not None and observer.record_dir == tmp_path
    observer, _ = _observe(on, channel="replay")  # replays are not recorded again
    assert observer is None


def test_turns_from_recorded_events():
    events = [{"t": 0.0, "kind": "recording"}, {"t": 5.0, "kind": "vad_start"},
              {"t": 7.5, "kind": "vad_stop"}, {"t": 8.0, "kind": "turn"},
              {"t": 12.0, "kind": "vad_start"}, {"t": 12.9, "kind": "vad_stop"},
              {"t": 20.0, "kind": "vad_start"}]  # call ended mid-turn: not a turn
    assert turns_from_events(events) == [(4.8, 7.5), (11.8, 12.9)]
