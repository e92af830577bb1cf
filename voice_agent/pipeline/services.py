"""pipecat STT/TTS services that use the process-wide models instead of loading their own.

pipecat's ``WhisperSTTService`` and ``PiperTTSService`` load a model per instance (~2 s a call) and
decode Whisper with beam 5 and temperature fallback, which loops on the trailing silence of phone
audio. These subclasses take the shared models and decode greedily.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import numpy as np
from faster_whisper import WhisperModel
from pipecat.frames.frames import ErrorFrame, Frame, TranscriptionFrame
from pipecat.services.piper.tts import PiperTTSService, PiperTTSSettings
from pipecat.services.tts_service import TTSService
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.utils.time import time_now_iso8601
from piper import PiperVoice

from voice_agent.speech.asr import AsrOptions, transcribe

STOP_FRAME_TIMEOUT_S = 15.0


class SharedWhisperSTTService(WhisperSTTService):
    """Segmented Whisper STT over a shared ``WhisperModel`` with explicit decode options."""

    def __init__(self, model: WhisperModel, options: AsrOptions, **kwargs: Any) -> None:
        self._shared_model = model
        self._options = options
        super().__init__(
            settings=WhisperSTTService.Settings(model="shared", language=None), **kwargs
        )

    def _load(self) -> None:
        self._model = self._shared_model

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        samples = np.frombuffer(audio, dtype=np.int16).astype(np.float32) / 32768.0
        await self.start_processing_metrics()
        try:
            text = await asyncio.to_thread(transcribe, self._shared_model, samples, self._options)
        except Exception as exc:  # a failed decode must not end the call
            yield ErrorFrame(f"transcription failed: {exc}")
            return
        finally:
            await self.stop_processing_metrics()
        if text:
            yield TranscriptionFrame(text, self._user_id, time_now_iso8601(), None)


class SharedPiperTTSService(PiperTTSService):
    """Piper TTS over a shared, already loaded ``PiperVoice``."""

    def __init__(self, voice: PiperVoice, voice_name: str = "en_US-joe-medium", **kwargs: Any):
        # Skip PiperTTSService.__init__, which would download/load a voice of its own.
        TTSService.__init__(
            self,
            push_start_frame=True,
            push_stop_frames=True,
            # Piper always produces audio; under load its first sentence can take seconds, and
            # pipecat's 3 s default would end the context and drop the prompt.
            stop_frame_timeout_s=STOP_FRAME_TIMEOUT_S,
            settings=PiperTTSSettings(model=None, voice=voice_name, language=None),
            **kwargs,
        )
        self._voice = voice
