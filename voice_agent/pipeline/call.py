"""One call: the pipecat pipeline that joins a transport to VAD, ASR, the dialog and TTS.

Channels (Twilio websocket, SIP/RTP, replay) build their transport and a :class:`CallControl`,
then hand both to :func:`run_call`. Models and clients come from :class:`AgentServices`, built once
per process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

from loguru import logger
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.transports.base_transport import BaseTransport
from pipecat.workers.runner import WorkerRunner

from voice_agent.oms.models import Order, WorkOrderCreate
from voice_agent.pipeline.barge_in import BargeInProcessor
from voice_agent.pipeline.dialog_processor import DialogProcessor
from voice_agent.pipeline.echo_cancel import echo_cancellation
from voice_agent.pipeline.noise_gate import CallerAudioFilter
from voice_agent.pipeline.prompt_playback import PlaybackClock, PromptProgress
from voice_agent.pipeline.recording import observe_call
from voice_agent.pipeline.stt import TRAILING_SILENCE_S, SharedWhisperSTTService
from voice_agent.pipeline.tts import SharedPiperTTSService, split_sentences
from voice_agent.pipeline.turn_taking import code_slot_of, is_backchannel, turn_is_complete
from voice_agent.registry import ModelRegistry
from voice_agent.settings import Settings
from voice_agent.speech.asr import (
    BACKCHANNEL_AND_LOGPROB,
    BACKCHANNEL_WORDS,
    AsrOptions,
    default_asr_options,
    order_number_prompt,
)
from voice_agent.speech.pauses import make_speech_units
from voice_agent.speech.silero import ConfidenceTap
from voice_agent.speech.vad import make_input_filter, make_vad_analyzer

if TYPE_CHECKING:
    from voice_agent.dialog.engine import DialogEngine
    from voice_agent.metrics import CallMetrics

ASR_SAMPLE_RATE = 16000


@dataclass
class CallInfo:
    call_sid: str
    channel: str
    caller: str | None = None
    today: date | None = None


class CallControl(Protocol):
    """What a channel can do to the live call besides streaming audio."""

    async def transfer(self, target: str | None, summary: dict[str, Any]) -> bool: ...

    async def hang_up(self) -> None: ...


class OrderLookup(Protocol):
    async def get_order(self, order_id: str) -> Order | None: ...

    async def orders_for_phone(self, phone: str) -> list[Order]: ...


class WorkOrderSink(Protocol):
    """Opens work orders; returns the reference the caller hears."""

    async def submit(self, request: WorkOrderCreate, idempotency_key: str) -> str: ...


class CallRecorder(Protocol):
    async def start_call(self, call_sid: str, channel: str, caller: str | None) -> None: ...

    async def add_turn(
        self,
        call_sid: str,
        speaker: str,
        text: str,
        latency_ms: float | None = None,
        interrupted: bool = False,
    ) -> None: ...

    async def add_event(self, call_sid: str, kind: str, data: dict[str, Any]) -> None: ...

    async def end_call(self, call_sid: str, outcome: str) -> None: ...


@dataclass
class AgentServices:
    """Everything a call needs, built once per process in ``create_app()``."""

    settings: Settings
    models: ModelRegistry
    engine: DialogEngine
    orders: OrderLookup
    work_orders: WorkOrderSink
    recorder: CallRecorder | None = None
    warmer: Any = None  # background prompt synthesis; stopped at shutdown
    metrics: CallMetrics | None = None
    extra_processors: list[FrameProcessor] = field(default_factory=list)


def asr_options(
    settings: Settings, code_pattern: str | None, model_names: dict[str, str]
) -> tuple[AsrOptions, AsrOptions, AsrOptions]:
    """Whisper options for a call: any turn, the order-number turn, and the number check.

    When the dialog has just asked for the order number, Whisper is primed with spoken digits
    (and letters, if the dialog's order numbers hold them),
    decodes digits-only as well and asks the number-check model when the two disagree (bench:
    better exact capture); the domain prompt otherwise (it hurts free speech). The check decodes
    on a shorter window of its own (``asr_number_check_window_s``).
    """
    options = default_asr_options(
        settings.asr_model, beam_size=settings.asr_beam_size, window_s=settings.asr_window_s
    )
    prompt = order_number_prompt(code_pattern)
    number_options = replace(options, initial_prompt=prompt, expect_code=code_pattern)
    check_options = default_asr_options(
        model_names.get("asr_number_check", "base"),
        initial_prompt=prompt,
        window_s=settings.number_check_window_s,
    )
    return options, number_options, check_options


#: Turn audio up to which a turn begun over the agent's prompt may be an acknowledgement: the
#: STT's second before the VAD's start, its 0.5 s hangover and 0.2 s of padding make ~1.5 s of
#: it, so up to ~1 s of sound, not a sentence.
BACKCHANNEL_TURN_S = 2.5


def turn_options(
    dialog: DialogProcessor, options: AsrOptions, number_options: AsrOptions
) -> Callable[[float], AsrOptions]:
    """Whisper's options for a turn of so many seconds, by what the dialog is waiting for: the
    order number; maybe an "mm-hmm" (a short turn begun over a prompt: the prompt ends with
    :data:`~voice_agent.speech.asr.BACKCHANNEL_WORDS`); anything else.
    """
    prompt = options.initial_prompt
    over_prompt = (
        replace(
            options,
            initial_prompt=f"{prompt} {BACKCHANNEL_WORDS}",
            drop_and_logprob=BACKCHANNEL_AND_LOGPROB,
        )
        if prompt
        else options
    )

    def now(seconds: float) -> AsrOptions:
        if dialog.expects_code:
            return number_options
        if dialog.started_over_prompt and seconds <= BACKCHANNEL_TURN_S:
            return over_prompt
        return options

    return now


def build_pipeline(
    transport: BaseTransport,
    call: CallInfo,
    control: CallControl,
    services: AgentServices,
) -> tuple[Pipeline, DialogProcessor]:
    settings = services.settings
    # The Silero turn VAD's scores, reused by barge-in and by the STT's pause counter.
    tap = ConfidenceTap() if settings.vad == "silero" else None
    pause_tap = ConfidenceTap() if tap is not None and settings.pause_vad == "silero" else None
    vad = VADProcessor(
        vad_analyzer=make_vad_analyzer(
            settings.vad,
            start_secs=settings.vad_start_secs,
            stop_secs=settings.vad_stop_secs,
            min_volume=settings.vad_min_volume,
            silero_session=services.models.silero,
            taps=[t for t in (tap, pause_tap) if t is not None],
        )
    )
    observer, services = observe_call(call, services)  # recording + metrics (or None)
    clock = PlaybackClock()
    voice_rate = services.models.voice.config.sample_rate
    cache = services.models.tts_cache
    prompt = PromptProgress(
        clock,
        split_sentences,
        lambda s: cache.seconds(s, voice_rate),
        lambda s, at_s: cache.from_word(s, at_s, voice_rate),
        lambda s, at_s: cache.words_begun(s, at_s, voice_rate),
    )
    echo_filters: list[FrameProcessor] = []
    canceller = None
    # Replay feeds recorded caller audio (already without the echo) with no pacing.
    if settings.echo_cancellation and call.channel != "replay":
        echo_filter, canceller = echo_cancellation(transport.output())
        echo_filters = [echo_filter]
    echo_leaked = canceller.leaked_within if canceller is not None else None
    dialog = DialogProcessor(
        call=call, control=control, services=services, prompt=prompt, echo_leaked=echo_leaked
    )
    code_slot = code_slot_of(getattr(services.engine, "spec", None))
    options, number_options, check_options = asr_options(
        settings, code_slot.pattern if code_slot is not None else None, services.models.names
    )
    check_model = services.models.number_check
    number_check = (check_model, check_options) if check_model is not None else None
    stt = SharedWhisperSTTService(
        services.models.whisper,
        options,
        options_now=turn_options(dialog, options, number_options),
        number_check=number_check,
        finish_early=lambda text: turn_is_complete(
            text,
            getattr(dialog.state, "pending", None),
            code_slot,
            open_question=getattr(dialog.state, "phase", None) == "intent",
            over_prompt=dialog.started_over_prompt,
        ),
        # Asked only of a whole turn: a bare backchannel is one only over a prompt (above).
        acknowledgement=is_backchannel,
        unfinished=smart_turn.unfinished if (smart_turn := services.models.smart_turn) else None,
        cancel_again=canceller.again if canceller is not None else None,
        speculate_after_s=settings.speculate_after_s,
        speculate_busy_after_s=settings.speculate_busy_after_s,
        finish_after_s=settings.early_finish_after_s,
        resume_after_s=settings.vad_start_secs,
        speech_units=make_speech_units(
            settings.pause_vad,
            tap=pause_tap,
            session=services.models.silero,
            sample_rate=ASR_SAMPLE_RATE,
            threshold=settings.pause_speech_confidence,
        ),
        trailing_silence_secs=TRAILING_SILENCE_S,
    )
    barge_in = BargeInProcessor(
        listener=dialog,
        tap=tap,
        silero_session=services.models.silero,
        min_speech_s=settings.barge_in_min_speech_s,
        pause_s=settings.barge_in_pause_s,
        resume_after_s=settings.barge_in_resume_after_s,
    )
    tts = SharedPiperTTSService(
        services.models.voice, services.models.tts_cache, synthesis=services.models.synthesis
    )
    audio_filter = make_input_filter(settings.noise_reduction)
    filters: list[FrameProcessor] = echo_filters + (
        [] if audio_filter is None else [CallerAudioFilter(audio_filter)]
    )
    pipeline = Pipeline(
        [transport.input(), *filters, vad, stt, barge_in, dialog, tts, transport.output(), clock]
        + ([observer] if observer is not None else [])
    )
    return pipeline, dialog


class CallSession:
    """One call's pipeline and worker. ``dialog`` is available before :meth:`run` is awaited."""

    def __init__(
        self,
        transport: BaseTransport,
        call: CallInfo,
        control: CallControl,
        services: AgentServices,
        *,
        audio_out_sample_rate: int = 8000,
    ) -> None:
        self.call = call
        pipeline, self.dialog = build_pipeline(transport, call, control, services)
        self.worker = PipelineWorker(
            pipeline,
            params=PipelineParams(
                audio_in_sample_rate=ASR_SAMPLE_RATE,
                audio_out_sample_rate=audio_out_sample_rate,
                enable_metrics=False,
            ),
            idle_timeout_secs=None,
            enable_rtvi=False,
            enable_turn_tracking=False,
            check_dangling_tasks=False,
        )

        @transport.event_handler("on_client_disconnected")
        async def _on_disconnected(_transport: BaseTransport, *_: Any) -> None:
            logger.info(f"[{call.call_sid}] caller disconnected")
            await self.end_by_caller()

    async def end_by_caller(self) -> None:
        """The caller hung up: stop at once, the call record says abandoned unless resolved."""
        self.dialog.mark_abandoned()
        await self.worker.cancel(reason="caller hung up")

    async def run(self) -> DialogProcessor:
        """Run until the call ends (hang-up, transfer, or the caller leaving)."""
        runner = WorkerRunner(handle_sigint=False, check_dangling_tasks=False)
        await runner.add_workers(self.worker)
        try:
            await runner.run()
        finally:
            await self.dialog.finish()
        return self.dialog


async def run_call(
    transport: BaseTransport,
    call: CallInfo,
    control: CallControl,
    services: AgentServices,
    *,
    audio_out_sample_rate: int = 8000,
) -> DialogProcessor:
    """Run one call until it ends; the returned dialog processor holds its outcome and state."""
    session = CallSession(
        transport, call, control, services, audio_out_sample_rate=audio_out_sample_rate
    )
    return await session.run()
