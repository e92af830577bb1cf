"""The shared model registry: the order-number check model is optional."""

from __future__ import annotations

from pathlib import Path

import pytest

import voice_agent.registry as registry
from voice_agent.settings import Settings

pytestmark = pytest.mark.models


def test_loads_without_the_check_model_when_its_files_are_missing(monkeypatch, tmp_path) -> None:
    real = registry.whisper_path

    def path(settings: Settings, name=None) -> Path:
        return tmp_path / "no-model" if name == "base" else real(settings, name)

    monkeypatch.setattr(registry, "whisper_path", path)
    models = registry.ModelRegistry.load(Settings(data_dir=tmp_path, asr_number_check_model="base"))
    assert models.number_check is None
    assert models.names["asr_number_check"] == "off"


def test_no_check_model_when_it_is_the_asr_model_itself(tmp_path) -> None:
    models = registry.ModelRegistry.load(
        Settings(data_dir=tmp_path, asr_model="tiny.en", asr_number_check_model="tiny.en")
    )
    assert models.number_check is None
