"""Headless Chromium (Debian ``chromium`` + ``chromium-driver``) driven by Selenium."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tmp" / "test-artifacts" / "console"  # screenshots; not committed
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--window-size=1400,1000", "--autoplay-policy=no-user-gesture-required",
]


def chrome(extra_flags: list[str] | None = None) -> Any:
    """A headless Chromium session, or skip the test when Chromium/Selenium are missing."""
    if not CHROMIUM or not DRIVER:
        pytest.skip("headless Chromium not installed (apt-get install -y chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + (extra_flags or []):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.set_page_load_timeout(30)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return driver


def wait_for(driver: Any, script: str, timeout: float = 20.0) -> Any:
    """Poll a JS expression until it is truthy; fail with the page's recorded error."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    error = driver.execute_script("return document.body.dataset.error")
    raise AssertionError(f"timed out waiting for: {script}; page error={error}")
