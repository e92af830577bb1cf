"""Recording, metrics and the console API over real Twilio calls to a real agent process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date

import httpx
import numpy as np
import pytest
import yaml

from voice_agent.audio import read_audio
from voice_agent.pipeline.recording import recording_paths

pytestmark = pytest.mark.models


def wait_ended(base_url: str, sid: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        call = httpx.get(f"{base_url}/calls/{sid}").json()
        if call.get("outcome") or time.monotonic() > deadline:
            return call
        time.sleep(0.2)


def test_each_call_is_recorded_as_stereo_wav_and_events(completed_calls):
    server = completed_calls.server
    for scenario, sid in completed_calls.sids.items():
        wait_ended(server.base_url, sid)
        wav, events_path = recording_paths(server.data_dir, sid)
        deadline = time.monotonic() + 20
        while not events_path.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert wav.is_file() and events_path.is_file(), (scenario, server.log_tail())
        stereo, rate = read_audio(wav, channel=0)
        agent, _ = read_audio(wav, channel=1)
        assert rate == 8000 and len(stereo) == len(agent)
        assert np.abs(stereo).max() > 0.05, "caller channel is silent"
        assert np.abs(agent).max() > 0.05, "agent channel is silent"
        events = [json.loads(line) for line in events_path.read_text().splitlines()]
        kinds = [e["kind"] for e in events]
        assert kinds[0] == "recording" and kinds[-1] == "call_end"
        for kind in ("call_start", "vad_start", "vad_stop", "turn", "agent_first_audio",
                     "dialog_state", "dialog_action"):
            assert kind in kinds, (scenario, kind)
        times = [e["t"] for e in events]
        assert times == sorted(times)
        # The agent's greeting starts before the caller's first turn, both on the WAV's clock.
        first_agent = next(e["t"] for e in events if e["kind"] == "agent_audio_start")
        first_vad = next(e["t"] for e in events if e["kind"] == "vad_start")
        assert first_agent < first_vad <= len(stereo) / rate
        # Agent audio sits where the events say: voiced within 0.5 s after the greeting started.
        i = int(first_agent * rate)
        assert np.abs(agent[i : i + rate // 2]).max() > 0.05
        # And the caller track carries the caller's speech at the VAD start.
        j = int(max(first_vad - 0.3, 0) * rate)
        assert np.abs(stereo[j : j + rate]).max() > 0.05
    ret = recording_paths(server.data_dir, completed_calls.sids["return"])[1].read_text()
    assert '"action": "CreateWorkOrder"' in ret
    assert '"end_of_speech_to_first_audio_ms"' in ret


def test_metrics_count_calls_latency_and_backlog(completed_calls):
    server = completed_calls.server
    for sid in completed_calls.sids.values():
        wait_ended(server.base_url, sid)
    text = httpx.get(f"{server.base_url}/metrics").text
    assert 'voice_agent_calls_total{channel="twilio",outcome="resolved"} 1.0' in text
    assert 'voice_agent_calls_total{channel="twilio",outcome="handed_off"} 1.0' in text
    assert 'voice_agent_active_calls{channel="twilio"} 0.0' in text
    for stage in ("vad_end_to_transcript", "transcript_to_first_audio",
                  "end_of_speech_to_first_audio"):
        count = [line for line in text.splitlines()
                 if line.startswith(f'voice_agent_latency_seconds_count{{stage="{stage}"}}')]
        assert count and float(count[0].split()[-1]) >= 2, (stage, text[-3000:])
    assert "voice_agent_asr_real_time_factor_count" in text
    assert "voice_agent_outbox_backlog 0.0" in text
    assert 'voice_agent_work_orders_total{type="return"} 1.0' in text


def test_console_api_lists_calls_and_serves_one_call(completed_calls):
    server = completed_calls.server
    for sid in completed_calls.sids.values():
        wait_ended(server.base_url, sid)
    with httpx.Client(base_url=server.base_url) as http:
        rows = {r["call_sid"]: r for r in http.get("/console/api/calls").json()}
        ret, hand = rows[completed_calls.sids["return"]], rows[completed_calls.sids["handoff"]]
        assert ret["intent"] == "return" and ret["outcome"] == "resolved"
        assert ret["work_orders"][0]["type"] == "return" and ret["has_recording"]
        assert hand["handed_off"] and "caller" in hand["handoff_reason"]
        only = http.get("/console/api/calls", params={"outcome": "handed_off"}).json()
        assert [r["call_sid"] for r in only] == [completed_calls.sids["handoff"]]
        assert http.get("/console/api/calls", params={"q": "zzz-nothing"}).json() == []
        call = http.get(f"/console/api/calls/{completed_calls.sids['return']}").json()
        assert [m["speaker"] for m in call["chat"]][:2] == ["agent", "user"]
        assert all(m["start_s"] is not None for m in call["chat"])
        assert call["work_orders"][0]["status"] in ("delivered", "pending")
        assert call["latency"] and call["latency"][0]["end_of_speech_to_first_audio_ms"] > 0
        wav = http.get(call["recording"])
        assert wav.status_code == 200 and wav.content[:4] == b"RIFF"
        totals = http.get("/console/api/totals").json()
        assert totals["calls"] == 2 and totals["containment_rate"] == 0.5
        assert totals["return_reasons"] == [["damaged", 1]]
        assert http.get("/console/api/calls/nope").status_code == 404
        assert http.get("/console/api/calls/nope/recording.wav").status_code == 404
        assert http.get("/console/static/../api.py").status_code == 404


def test_a_recorded_call_replays_as_a_qa_case(completed_calls, tmp_path):
    """Record a live call, then replay it with ``voice-agent qa`` (turns placed by its events)."""
    server = completed_calls.server
    sid = completed_calls.sids["return"]
    wait_ended(server.base_url, sid)
    wav, events = recording_paths(server.data_dir, sid)
    case = tmp_path / "cases" / "recorded_return"
    case.mkdir(parents=True)
    shutil.copy(wav, case / "caller.wav")
    shutil.copy(events, case / "caller.events.jsonl")
    expect = {"intent": "return", "outcome": "resolved", "handoff": False,
              "work_orders": [{"type": "return", "order_id": "735902", "reason": "damaged"}]}
    (case / "expected.yaml").write_text(
        yaml.safe_dump({"today": date.today().isoformat(), "expect": expect})
    )
    env = os.environ | {"HF_HUB_OFFLINE": "1", "VOICE_AGENT_DATA_DIR": str(tmp_path / "var")}
    done = subprocess.run(
        [sys.executable, "-m", "voice_agent", "qa", str(case.parent), "--out", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    report = json.loads((tmp_path / "qa_report.json").read_text())
    assert report["cases"][0]["actual"]["caller_turns_in_audio"] == 2
