"""pipecat STT/TTS services that use the process-wide models instead of loading their own.

pipecat's ``WhisperSTTService`` and ``PiperTTSService`` load a model per instance (~2 s a call) and
decode Whisper with beam 5 and temperature fallback, which loops on the trailing silence of phone
audio. These subclasses take the shared models and decode greedily; the TTS also caches the audio
of sentences it has spoken, since a hotline says the same prompts all day.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

import numpy as np
from faster_whisper import WhisperModel
from loguru import logger
from pipecat.frames.frames import (
    ErrorFrame,
    Frame,
    InputAudioRawFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.piper.tts import PiperTTSService, PiperTTSSettings
from pipecat.services.tts_service import TTSService
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.utils.time import time_now_iso8601
from piper import PiperVoice

from voice_agent.audio import pcm16_to_float
from voice_agent.pipeline.frames import AnswerDelayedFrame, NothingHeardFrame, TurnHeldFrame
from voice_agent.speech.asr import AsrOptions, transcribe
from voice_agent.speech.models import model_busy
from voice_agent.speech.pauses import SpeechUnits, WebRtcSpeech

STOP_FRAME_TIMEOUT_S = 15.0
# A colon ends a chunk too: "To confirm:" is the same on every call (cached, heard at once)
# while the rest, "you're returning the lamp from order...", is synthesized.
_SENTENCE_END = re.compile(r"(?<=[.!?:])\s+")


def split_sentences(text: str) -> list[str]:
    """Sentences as the TTS speaks and caches them ("Done. Your number is W, 1." → two)."""
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


class SentenceAudioCache:
    """Thread-safe LRU of synthesized sentences (16-bit PCM at the voice's rate)."""

    def __init__(self, max_items: int = 1024) -> None:
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._max = max_items
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, sentence: str) -> bytes | None:
        with self._lock:
            audio = self._items.get(sentence)
            if audio is None:
                self.misses += 1
                return None
            self._items.move_to_end(sentence)
            self.hits += 1
            return audio

    def seconds(self, sentence: str, sample_rate: int) -> float | None:
        """Length of a cached sentence's audio (None if not cached); not counted as a use."""
        with self._lock:
            audio = self._items.get(sentence)
        return None if audio is None else len(audio) / (2 * sample_rate)

    def put(self, sentence: str, audio: bytes) -> None:
        with self._lock:
            self._items[sentence] = audio
            self._items.move_to_end(sentence)
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def __contains__(self, sentence: str) -> bool:
        with self._lock:
            return sentence in self._items


def synthesize_into(voice: PiperVoice, cache: SentenceAudioCache, text: str) -> None:
    """Synthesize every sentence of ``text`` not yet cached (blocking; for warm-up)."""
    for sentence in split_sentences(text):
        if sentence not in cache:
            audio = b"".join(c.audio_int16_bytes for c in voice.synthesize(sentence))
            cache.put(sentence, audio)


#: Silence appended to the caller's audio before it is decoded (the live pipeline's setting).
TRAILING_SILENCE_S = 0.2


def _consume_result(future: asyncio.Future[Any]) -> None:
    """A discarded speculation's error must not surface as 'exception never retrieved'."""
    if not future.cancelled():
        future.exception()


class SharedWhisperSTTService(WhisperSTTService):
    """Segmented Whisper STT over a shared ``WhisperModel`` with explicit decode options.

    Speculative transcription: the turn VAD only declares the end of a turn after its stop
    hangover (~0.5 s of silence). Once ``speculate_after_s`` of non-speech (as ``speech_units``
    decide it: by default WebRTC VAD, mode 2; the pipeline passes Silero's scores, which hear a
    pause on a noisy line too) has followed the caller's words, the segment so far is
    transcribed at once; if the turn then ends with no more speech, that result is used, so the
    hangover hides the decoding time. If the caller speaks again, the speculation is discarded.

    Early end of turn: when a speculation finishes before the VAD's hangover does and
    ``finish_early(text)`` says the text is a whole answer, it is pushed once ``finish_after_s``
    of non-speech has followed the words (at once if that much has), and the turn ends there.
    Speculating before that (``speculate_after_s`` < ``finish_after_s``) hides the decode inside
    the pause that an early end waits for anyway. Speech after an early end becomes a turn of
    its own (the audio already transcribed is dropped) once ``resume_after_s`` of it has come
    without a break, as the turn VAD needs to start a turn (its ``start_secs``); shorter
    bursts, which a noisy line's noise gives the units (one of the bench's noise recordings:
    9 of its 10 runs of Silero windows at 0.5 or more), are dropped with the turn. All these
    times are counted in the samples of whole units (20 ms frames, 32 ms Silero windows).
    ``unfinished(samples, rate)``, if given, is asked when the text reads as finished whether
    the sound of the turn says it is not over (smart-turn); if so, the VAD ends the turn.

    ``number_check`` is the second model (and its options) :func:`transcribe` asks on a turn
    whose options expect a number, when ``model``'s reading of it is not sure. That costs the
    turn ~1 s more, so once the turn has ended and its decode asks the check, an
    :class:`AnswerDelayedFrame` goes downstream ahead of the transcript (a speculation's check
    counts once ``run_stt`` takes the speculation, not while the caller may still go on).

    While ``model`` decodes other turns (other calls', or this call's discarded speculation),
    a speculation waits for ``speculate_busy_after_s`` of non-speech instead: a decode the
    caller talks over runs to its end all the same, and on a busy model it delays the turns
    that have ended. Shorter pauses are mostly commas ("Yes, that's right.").
    """

    def __init__(
        self,
        model: WhisperModel,
        options: AsrOptions,
        *,
        options_now: Callable[[], AsrOptions] | None = None,
        number_check: tuple[WhisperModel, AsrOptions] | None = None,
        speculate_after_s: float | None = 0.1,
        speculate_busy_after_s: float | None = None,
        finish_after_s: float = 0.4,
        resume_after_s: float = 0.2,
        finish_early: Callable[[str], bool] | None = None,
        unfinished: Callable[[np.ndarray, int], bool] | None = None,
        speech_units: SpeechUnits | None = None,
        **kwargs: Any,
    ) -> None:
        self._shared_model = model
        self._options_now = options_now or (lambda: options)
        self._number_check = number_check
        self._speculate_after_s = speculate_after_s
        self._speculate_busy_after_s = speculate_busy_after_s
        self._finish_after_s = finish_after_s
        self._resume_after_s = resume_after_s
        self._quiet_enough = asyncio.Event()  # set while the pause is long enough to finish
        self._speech_units = speech_units
        self._quiet = 0  # samples of non-speech since the caller's last words
        self._spec_buffer = b""
        self._spec_audio: bytes | None = None
        self._spec_task: asyncio.Future[str] | None = None
        self._spec_used: asyncio.Future[str] | None = None  # the one run_stt took, if running
        self._awaited: asyncio.Future[str] | None = None  # the decode run_stt waits for
        self._spec_checked: asyncio.Future[str] | None = None  # a speculation that asked the check
        self._finish_early = finish_early
        self._unfinished = unfinished
        self._finished_early = False  # this VAD turn's words were already pushed
        self._words_pushed = False  # an early end pushed words in this VAD turn
        self._spoke_after_finish = False
        self._speech_after_finish = 0  # samples of unbroken speech since an early end
        self.speculations = 0
        self.speculations_used = 0
        self.early_finishes = 0
        self.early_finishes_vetoed = 0
        super().__init__(
            settings=WhisperSTTService.Settings(model="shared", language=None), **kwargs
        )

    def _load(self) -> None:
        self._model = self._shared_model

    async def process_audio_frame(self, frame: InputAudioRawFrame, direction: FrameDirection):
        await super().process_audio_frame(frame, direction)
        if self._speculate_after_s is None:
            return
        if self._speech_units is None:
            self._speech_units = WebRtcSpeech(self.sample_rate)
        units = self._speech_units.feed(frame.audio)  # fed all along: units keep stream time
        if not self._user_speaking:
            return
        for speech, samples in units:
            if speech and self._finished_early and not self._spoke_after_finish:
                self._speech_after_finish += samples
                if self._speech_after_finish < self._samples(self._resume_after_s):
                    continue  # not yet enough to be the caller's next turn
            if speech:
                self._quiet = 0
                self._spec_audio = self._spec_task = None  # the caller went on: discard
                self._spoke_after_finish = True
                self._quiet_enough.set()  # wakes a waiting early finish, which sees the discard
                self._quiet_enough.clear()
            else:
                self._speech_after_finish = 0
                self._quiet += samples
                if self._quiet >= self._samples(self._finish_after_s):
                    self._quiet_enough.set()
        if self._finished_early and not self._spoke_after_finish:
            return  # nothing new to transcribe
        if self._spec_task is None and self._quiet >= self._samples(self._speculate_after()):
            self._spec_buffer = bytes(self._audio_buffer)
            audio = self._spec_audio = self._spec_buffer + self._trailing_silence()
            task = self._spec_task = asyncio.ensure_future(self._decode(audio, speculative=True))
            task.add_done_callback(_consume_result)
            self.speculations += 1
            if self._finish_early is not None:
                self.create_task(self._finish_if_complete(task, audio), name="stt-early-finish")

    def _speculate_after(self) -> float:
        """The pause a speculation waits for now (see the class doc)."""
        after = self._speculate_after_s or 0.0
        busy_after = self._speculate_busy_after_s
        if busy_after is None or self._quiet >= self._samples(busy_after):
            return after
        return busy_after if model_busy(self._shared_model) else after

    def _samples(self, seconds: float) -> int:
        return round(seconds * self.sample_rate)

    async def _finish_if_complete(self, task: asyncio.Future[str], audio: bytes) -> None:
        """End the turn on a speculation that reads as a whole answer (see the class doc)."""
        try:
            text = await task
        except Exception:
            return  # run_stt decodes again at the end of the turn
        if self._spec_task is not task or not self._user_speaking or not text:
            return  # discarded, or the VAD ended the turn first and run_stt has it
        if self._finish_early is None or not self._finish_early(text):
            return
        if self._unfinished is not None:
            # Only once the text reads as finished: on every pause it cost 4 calls in
            # unison ~200 ms a turn (bench.latency).
            try:
                unfinished = await asyncio.to_thread(
                    self._unfinished, pcm16_to_float(audio), self.sample_rate
                )
            except Exception as exc:  # the veto is an extra; the text rule still stands
                logger.warning(f"{self}: end-of-turn model failed: {exc!r}")
                unfinished = False
            if unfinished:
                self.early_finishes_vetoed += 1
                logger.debug(f"{self}: {text!r} reads as finished but sounds unfinished")
                await self.push_frame(TurnHeldFrame(text))
                return
            if self._spec_task is not task or not self._user_speaking:
                return  # discarded or ended while the model listened
        while not self._quiet_enough.is_set():
            await self._quiet_enough.wait()
            if self._spec_task is not task or not self._user_speaking:
                return  # the caller went on, or the VAD ended the turn, during the wait
        self._audio_buffer = self._audio_buffer[len(self._spec_buffer) :]
        self._spec_task = self._spec_audio = None
        self._finished_early, self._spoke_after_finish = True, False
        self._speech_after_finish = 0
        self.early_finishes += 1
        self._words_pushed = True
        await self.push_frame(TranscriptionFrame(text, self._user_id, time_now_iso8601(), None))

    async def _handle_user_started_speaking(self, frame: VADUserStartedSpeakingFrame) -> None:
        self._quiet = 0
        self._quiet_enough.clear()
        self._spec_audio = self._spec_task = None
        self._finished_early = self._spoke_after_finish = self._words_pushed = False
        self._speech_after_finish = 0
        await super()._handle_user_started_speaking(frame)

    async def _handle_user_stopped_speaking(self, frame: VADUserStoppedSpeakingFrame) -> None:
        finished, self._finished_early = self._finished_early, False
        self._quiet_enough.set()  # a waiting early finish gives way: run_stt has the turn
        if finished and not self._spoke_after_finish:
            self._user_speaking = False
            self._audio_buffer.clear()  # the turn was already transcribed
            return
        if self._spec_audio is not None:
            # Hand the base class exactly the audio already being decoded, so run_stt can
            # recognise it; what came after the snapshot was non-speech.
            self._audio_buffer = bytearray(self._spec_buffer)
        await super()._handle_user_stopped_speaking(frame)

    async def _decode(self, pcm: bytes, speculative: bool = False) -> str:
        samples = pcm16_to_float(pcm)
        options = self._options_now()
        me = asyncio.current_task()
        loop = asyncio.get_running_loop()
        cancelled = None
        if speculative:
            # Once the caller speaks over it, the rest of a speculation is wasted CPU that
            # other calls' turns wait for; see transcribe().
            cancelled = lambda: me is not self._spec_task and me is not self._spec_used  # noqa: E731

        def on_check() -> None:  # in the decode's thread
            with contextlib.suppress(RuntimeError):  # the loop closed: the call is over
                loop.call_soon_threadsafe(self._number_check_started, me)

        return await asyncio.to_thread(
            transcribe,
            self._shared_model,
            samples,
            options,
            self._number_check,
            cancelled,
            on_check,
        )

    def _number_check_started(self, decode: asyncio.Future[Any] | None) -> None:
        """A decode asked the number check: say so now if the turn is over and waits for it."""
        if decode is not None and decode is self._awaited:
            self.create_task(
                self.push_frame(AnswerDelayedFrame("number_check")), name="stt-delayed"
            )
        else:
            self._spec_checked = decode  # said when run_stt takes it (if it does)

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        await self.start_processing_metrics()
        try:
            if self._spec_task is not None and audio == self._spec_audio:
                task, self._spec_task, self._spec_audio = self._spec_task, None, None
                self._spec_used = self._awaited = task
                self.speculations_used += 1
                logger.debug(f"{self}: using the speculative transcript")
                if self._spec_checked is task:
                    yield AnswerDelayedFrame("number_check")
                text = await task
            else:
                task = self._awaited = asyncio.ensure_future(self._decode(audio))
                task.add_done_callback(_consume_result)  # if this generator is cancelled
                text = await task
        except Exception as exc:  # a failed decode must not end the call
            logger.opt(exception=exc).warning(f"{self}: transcription failed, turn lost")
            yield ErrorFrame(f"transcription failed: {exc}")
            text = None
        finally:
            self._awaited = self._spec_checked = None
            await self.stop_processing_metrics()
        if text:
            yield TranscriptionFrame(text, self._user_id, time_now_iso8601(), None)
            return
        if text is not None:  # noise, or words lost: the call's log shows which turn
            logger.debug(f"{self}: no words heard in {len(audio) / 2 / self.sample_rate:.2f} s")
        if not self._words_pushed:  # the caller is asked again, unless the turn was answered
            yield NothingHeardFrame(failed=text is None)


class SharedPiperTTSService(PiperTTSService):
    """Piper TTS over a shared, already loaded ``PiperVoice``, sentence by sentence, cached."""

    def __init__(
        self,
        voice: PiperVoice,
        cache: SentenceAudioCache | None = None,
        voice_name: str = "en_US-joe-medium",
        **kwargs: Any,
    ) -> None:
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
        self._cache = cache or SentenceAudioCache()

    async def _sentence_audio(self, text: str) -> AsyncIterator[bytes]:
        for sentence in split_sentences(text):
            cached = self._cache.get(sentence)
            if cached is not None:
                yield cached
                continue
            chunks = iter(self._voice.synthesize(sentence))
            parts: list[bytes] = []
            while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
                parts.append(chunk.audio_int16_bytes)
                yield chunk.audio_int16_bytes
            self._cache.put(sentence, b"".join(parts))

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        try:
            await self.start_tts_usage_metrics(text)
            async for frame in self._stream_audio_frames_from_iterator(
                self._sentence_audio(text),
                in_sample_rate=self._voice.config.sample_rate,
                context_id=context_id,
            ):
                await self.stop_ttfb_metrics()
                yield frame
        except Exception as exc:
            logger.error(f"{self} synthesis failed: {exc}")
            yield ErrorFrame(error=f"TTS failed: {exc}")
        finally:
            await self.stop_ttfb_metrics()
