"""The background prompt warm-up: fills the TTS cache at the lowest priority, reports when done."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from voice_agent import services
from voice_agent.dialog.engine import DialogEngine
from voice_agent.dialog.spec import load_dialog
from voice_agent.pipeline.tts import SentenceAudioCache
from voice_agent.settings import Settings


class _Models:
    """Just what the warmer reads off the registry; the voice is the real one."""

    def __init__(self) -> None:
        from voice_agent.registry import load_piper_voice

        self.voice = load_piper_voice()
        self.tts_cache = SentenceAudioCache()


@pytest.mark.models
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="per-thread niceness is Linux")
def test_warm_up_runs_niced_and_says_when_it_is_done(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real = services.synthesize_into

    def spy(voice, cache, text):  # type: ignore[no-untyped-def]
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        real(voice, cache, text)

    monkeypatch.setattr(services, "synthesize_into", spy)
    models = _Models()
    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    warmer = services.PromptWarmer(DialogEngine(load_dialog(Settings().dialog_file)), models)  # type: ignore[arg-type]
    warmer.others = warmer.others[:3]  # enough to see it work; the whole set takes ~10 s of CPU
    assert warmer.done  # nothing started yet
    warmer.start()
    deadline = time.monotonic() + 60
    while not warmer.done and time.monotonic() < deadline:
        time.sleep(0.05)
    assert warmer.done
    assert all(s in models.tts_cache for s in warmer.others)
    assert seen and set(seen) == {19}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == own  # untouched
    warmer.stop()
