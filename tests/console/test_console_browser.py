"""The console in a real browser: headless Chromium (Debian ``chromium`` + ``chromium-driver``)
driven by Selenium, against an agent process holding a few completed Twilio calls.

Screenshots go to ``tmp/test-artifacts/console/`` (not committed). Skips when Chromium or its
driver is not installed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.console.browser import ARTIFACTS, chrome, wait_for
from voice_agent.dialog.codes import read_back

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    driver = chrome()
    try:
        yield driver
    finally:
        driver.quit()


def test_calls_list_call_page_audio_and_totals(browser, completed_calls):
    from selenium.webdriver.common.by import By

    driver = browser
    base = completed_calls.server.base_url
    sids = completed_calls.sids
    driver.get(f"{base}/console")
    wait_for(driver, "return document.body.dataset.ready === '#/'")
    rows = driver.find_elements(By.CSS_SELECTOR, "#calls tbody tr")
    assert {r.get_attribute("data-sid") for r in rows} >= set(sids.values())
    text = driver.find_element(By.ID, "calls").text
    assert "resolved" in text and "handed_off" in text and "return 735902" in text
    driver.save_screenshot(str(ARTIFACTS / "calls.png"))

    # Filter: handed-off calls only.
    driver.find_element(By.ID, "f-outcome").send_keys("handed_off")
    driver.find_element(By.CSS_SELECTOR, "#filters button").click()
    wait_for(driver, "return document.querySelectorAll('#calls tbody tr').length === 1")
    row = driver.find_element(By.CSS_SELECTOR, "#calls tbody tr")
    assert row.get_attribute("data-sid") == sids["handoff"]

    # One call: chat, work order, latency chart, and a playable stereo recording.
    driver.get(f"{base}/console#/call/{sids['return']}")
    wait_for(driver, f"return document.body.dataset.ready === '#/call/{sids['return']}'")
    messages = driver.find_elements(By.CSS_SELECTOR, "#chat .msg")
    assert len(messages) >= 4
    assert "agent" in messages[0].get_attribute("class")
    # The agent's read-back of the order, not the caller's words: the ASR may write the spoken
    # digits "735902" or "7-3-5-9-0-2", and the console shows whichever it wrote.
    assert read_back("735902") in driver.find_element(By.ID, "chat").text
    assert "return" in driver.find_element(By.ID, "work-orders").text
    assert driver.find_elements(By.CSS_SELECTOR, "#latency-chart rect.bar")
    duration = wait_for(
        driver,
        "const a = document.getElementById('audio');"
        "return a.readyState >= 1 && isFinite(a.duration) ? a.duration : 0;",
    )
    assert duration > 5
    # Seek into the caller's first turn: that line is highlighted.
    caller_start = float(driver.execute_script(
        "return document.querySelector('#chat .msg.user').dataset.start"))
    driver.execute_script(f"document.getElementById('audio').currentTime = {caller_start + 0.2}")
    wait_for(driver, "return document.querySelector('#chat .msg.current') !== null")
    current = driver.find_element(By.CSS_SELECTOR, "#chat .msg.current")
    assert "user" in current.get_attribute("class")
    driver.save_screenshot(str(ARTIFACTS / "call.png"))

    # Totals: two calls, half contained, the handoff reason and the return reason.
    driver.get(f"{base}/console#/totals")
    wait_for(driver, "return document.body.dataset.ready === '#/totals'")
    totals = driver.find_element(By.ID, "totals").text
    assert "50 %" in totals and "caller asked" in totals and "damaged" in totals
    assert driver.find_element(By.ID, "total-calls").text.startswith("2")
    driver.save_screenshot(str(ARTIFACTS / "totals.png"))
    logs = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    assert not logs, logs
