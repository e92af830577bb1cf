"""``voice-agent replay`` on a recorded caller track (stereo: caller left, something else right)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from voice_agent.audio import write_wav
from voice_agent.testing.voices import synthesize

pytestmark = pytest.mark.models

TURNS = [
    "Hi, I need to return something.",
    "The order number is seven three five nine oh two.",
    "It arrived damaged.",
    "Yes please.",
]


def test_replay_prints_turns_and_the_work_order(tmp_path, caller_voice):
    parts: list[np.ndarray] = []
    rate = 22050
    for text in TURNS:
        audio, rate = synthesize(caller_voice, text)
        parts += [np.zeros(int(1.5 * rate), dtype=np.float32), audio]
    parts.append(np.zeros(rate, dtype=np.float32))
    caller = np.concatenate(parts)
    # The right channel carries a tone the whole time: only --channel 0 gives a clean caller.
    other = 0.2 * np.sin(2 * np.pi * 300 * np.arange(len(caller)) / rate).astype(np.float32)
    wav = tmp_path / "call.wav"
    write_wav(wav, np.stack([caller, other], axis=1), rate)

    env = os.environ | {"HF_HUB_OFFLINE": "1", "VOICE_AGENT_DATA_DIR": str(tmp_path / "var")}
    done = subprocess.run(
        [sys.executable, "-m", "voice_agent", "replay", str(wav), "--channel", "0", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    heard = [t["input"].get("text", "") for t in result["turns"]]
    assert result["caller_turns"] == len(TURNS)
    assert any("return" in h.lower() for h in heard), heard
    actions = [a for t in result["turns"] for a in t["actions"]]
    work_orders = [a for a in actions if a["action"] == "CreateWorkOrder"]
    assert len(work_orders) == 1, actions
    assert work_orders[0]["order_id"] == "735902"
    assert work_orders[0]["type"] == "return"
    assert "damage" in work_orders[0]["reason"].lower()
    assert any(a["action"] == "HangUp" for a in actions)
    assert result["outcome"] == "resolved"
    # Nothing of the replay's scratch OMS/database leaks into the configured data dir.
    assert not (tmp_path / "var").exists()
