"""The caller's speech to text, on the process-wide Whisper model.

pipecat's ``WhisperSTTService`` loads a model per instance (~2 s a call) and decodes with beam 5
and temperature fallback, which loops on the trailing silence of phone audio. This subclass takes
the shared model and decodes greedily, speculatively during the caller's pauses.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncGenerator, Callable
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
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.utils.time import time_now_iso8601

from voice_agent.audio import pcm16_to_float
from voice_agent.pipeline.frames import (
    AnswerDelayedFrame,
    EchoTakenOutAgainFrame,
    NothingHeardFrame,
    TurnHeldFrame,
)
from voice_agent.speech.asr import SAMPLE_RATE, AsrOptions, transcribe
from voice_agent.speech.models import model_busy
from voice_agent.speech.pauses import SpeechUnits, WebRtcSpeech

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
    ``acknowledgement(text)``, if given, tells a whole turn that answers nothing (an "uh-huh"
    over the agent's prompt, which then goes on): it is pushed as soon as it is read, without
    the wait or the smart-turn check.

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
        options_now: Callable[[float], AsrOptions] | None = None,
        number_check: tuple[WhisperModel, AsrOptions] | None = None,
        speculate_after_s: float | None = 0.1,
        speculate_busy_after_s: float | None = None,
        finish_after_s: float = 0.4,
        resume_after_s: float = 0.2,
        finish_early: Callable[[str], bool] | None = None,
        acknowledgement: Callable[[str], bool] | None = None,
        unfinished: Callable[[np.ndarray, int], bool] | None = None,
        speech_units: SpeechUnits | None = None,
        cancel_again: Callable[[bytes], Callable[[], bytes | None] | None] | None = None,
        **kwargs: Any,
    ) -> None:
        self._shared_model = model
        self._options_now = options_now or (lambda _seconds: options)
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
        self._acknowledgement = acknowledgement
        self._unfinished = unfinished
        self._cancel_again = cancel_again
        self._cleaned_again: weakref.WeakSet[asyncio.Future[Any]] = weakref.WeakSet()
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
            again = self._again(self._spec_buffer)
            task = self._spec_task = asyncio.ensure_future(self._decode(audio, True, again))
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
        at_once = self._acknowledgement is not None and self._acknowledgement(text)
        if self._unfinished is not None and not at_once:
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
        while not at_once and not self._quiet_enough.is_set():
            await self._quiet_enough.wait()
            if self._spec_task is not task or not self._user_speaking:
                return  # the caller went on, or the VAD ended the turn, during the wait
        self._audio_buffer = self._audio_buffer[len(self._spec_buffer) :]
        self._spec_task = self._spec_audio = None
        self._finished_early, self._spoke_after_finish = True, False
        self._speech_after_finish = 0
        self.early_finishes += 1
        self._words_pushed = True
        if task in self._cleaned_again:
            await self.push_frame(EchoTakenOutAgainFrame())
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

    def _again(self, pcm: bytes) -> Callable[[], bytes | None] | None:
        """The turn's audio cancelled again, to be worked out with the decode (see
        ``cancel_again``): taken from the canceller's line now, while it still holds it.
        """
        return self._cancel_again(pcm) if self._cancel_again is not None else None

    async def _decode(
        self,
        pcm: bytes,
        speculative: bool = False,
        again: Callable[[], bytes | None] | None = None,
    ) -> str:
        options = self._options_now(len(pcm) / 2 / SAMPLE_RATE)
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

        def decode() -> str:  # in a thread
            audio = pcm
            cleaned = again() if again is not None else None
            if cleaned is not None:
                audio = cleaned + pcm[len(cleaned) :]  # the trailing silence added to the turn
                if me is not None:  # told with its transcript
                    loop.call_soon_threadsafe(self._cleaned_again.add, me)
            return transcribe(
                self._shared_model,
                pcm16_to_float(audio),
                options,
                self._number_check,
                cancelled,
                on_check,
            )

        return await asyncio.to_thread(decode)

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
                # The turn as the canceller let it out: without the trailing silence added.
                again = self._again(audio[: len(audio) - len(self._trailing_silence())])
                task = self._awaited = asyncio.ensure_future(self._decode(audio, False, again))
                task.add_done_callback(_consume_result)  # if this generator is cancelled
                text = await task
        except Exception as exc:  # a failed decode must not end the call
            logger.opt(exception=exc).warning(f"{self}: transcription failed, turn lost")
            yield ErrorFrame(f"transcription failed: {exc}")
            text = None
        finally:
            self._awaited = self._spec_checked = None
            await self.stop_processing_metrics()
        if text and task in self._cleaned_again:
            yield EchoTakenOutAgainFrame()
        if text:
            yield TranscriptionFrame(text, self._user_id, time_now_iso8601(), None)
            return
        if text is not None:  # noise, or words lost: the call's log shows which turn
            logger.debug(f"{self}: no words heard in {len(audio) / 2 / self.sample_rate:.2f} s")
        if not self._words_pushed:  # the caller is asked again, unless the turn was answered
            yield NothingHeardFrame(failed=text is None)
