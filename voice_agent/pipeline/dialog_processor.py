"""The pipecat processor that joins a live call to the pure dialog engine.

Transcripts, keypad digits and silences become engine events; the engine's actions become speech
(``TTSSpeakFrame``), OMS requests, transfers and hang-ups. Events are stepped one at a time, in
order, by a single task, so the engine's determinism carries over to the live call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import date
from typing import TYPE_CHECKING, Any

from loguru import logger
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    EndFrame,
    Frame,
    InputDTMFFrame,
    InterimTranscriptionFrame,
    StartFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from voice_agent.dialog.types import (
    CALLER_INPUTS,
    Action,
    CallStarted,
    CreateWorkOrder,
    DtmfKey,
    Event,
    FindCallerOrders,
    HangUp,
    LookupOrder,
    OrderLookedUp,
    OrdersOnFile,
    Say,
    Transfer,
    UserSaid,
    describe_event,
)
from voice_agent.oms.models import phone_key
from voice_agent.pipeline.barge_in_hooks import BargeInHooks
from voice_agent.pipeline.call_log import CallLog
from voice_agent.pipeline.ending_hooks import EndingHooks
from voice_agent.pipeline.frames import AnswerDelayedFrame, NothingHeardFrame
from voice_agent.pipeline.oms_calls import oms_answer, orders_on_file
from voice_agent.pipeline.prompt_playback import PromptProgress
from voice_agent.pipeline.turn_taking import (
    code_slot_of,
    is_acknowledgement,
    is_backchannel,
    is_own_echo,
    partial_code,
)
from voice_agent.pipeline.waiting_hooks import WaitingHooks

if TYPE_CHECKING:
    from voice_agent.pipeline.call import AgentServices, CallControl, CallInfo

APOLOGY = "Sorry, something went wrong on my side. Let me get you a person."


class DialogProcessor(WaitingHooks, BargeInHooks, EndingHooks, FrameProcessor):
    """Drives :class:`~voice_agent.dialog.engine.DialogEngine` from pipeline frames.

    (``WaitingHooks`` comes first: it implements the silence timer ``BargeInHooks`` declares.)
    """

    def __init__(
        self,
        *,
        call: CallInfo,
        control: CallControl,
        services: AgentServices,
        prompt: PromptProgress | None = None,
        echo_leaked: Callable[[float], bool] | None = None,
    ) -> None:
        super().__init__(name=f"Dialog[{call.call_sid}]")
        self._prompt = prompt  # what of the prompt was heard, to resume it (see barge-in)
        # whether the agent's echo may have come through in the caller's last seconds of audio
        self._echo_leaked = echo_leaked
        # (unheard text, state) of a stopped prompt while the caller's words may be a backchannel
        self._resume: tuple[str, Any] | None = None
        self._paused = False  # a prompt paused for the caller's speech, not yet settled
        self.call = call
        self._control = control
        self._services = services
        self._engine = services.engine
        self._log = CallLog(services.recorder, call)
        self._events: asyncio.Queue[Event | None] = asyncio.Queue()
        self._loop_task: asyncio.Task[None] | None = None
        self._silence_task: asyncio.Task[None] | None = None
        self.state: Any = None
        self.outcome: str | None = None
        self.transcript: list[tuple[str, str]] = []
        self.actions: list[Action] = []
        self.turns: list[dict[str, Any]] = []  # per caller input: what was heard, said and done
        self._speaking = False
        self._quiet_since = 0.0  # when the agent's audio last stopped (monotonic)
        self._prompt_pending = False  # a Say was issued and has not finished playing
        # Says issued while another was pending: each plays as its own TTS context, whose end
        # the output transport reports with a BotStoppedSpeaking of its own.
        self._queued_says = 0
        self._after_playback: list[Action] = []
        self._user_stopped_at: float | None = None
        self._ended_early = False  # the STT ended this turn on its transcript, before the VAD
        self.turn_latencies_ms: list[float] = []
        self._finished = False
        self._stepping = False  # the engine is taking a step (it may be waiting for the OMS)
        # Turn-taking: a partial order number held open, caller speech over a prompt.
        self._code_slot = code_slot_of(getattr(services.engine, "spec", None))
        self._held_text: str | None = None
        self._hold_task: asyncio.Task[None] | None = None
        self._interruptible = True
        self._user_speaking = False
        self._speech_since: float | None = None  # when the VAD's turn began (its start_secs back)
        self._speech_s = 0.0  # the last VAD turn's length, less the VAD's stop hangover
        self._started_over_prompt = False
        self._prompt_asked = True
        self._holds = 0
        self._awaiting_words = False
        self._answer_since: float | None = None
        self.interruptions = 0
        self.idle = asyncio.Event()  # set while the agent waits for the caller
        self.ended = asyncio.Event()  # set once the agent has ended the call

    # -- frames -----------------------------------------------------------------------------------
    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            await self.push_frame(frame, direction)
            self._loop_task = self.create_task(self._event_loop(), name="dialog-events")
            today = self.call.today or date.today()
            await self._log.start()
            caller_known = phone_key(self.call.caller) is not None
            await self._events.put(
                CallStarted(self.call.call_sid, today, self.call.channel, caller_known)
            )
            return
        if isinstance(frame, TranscriptionFrame):
            await self._on_transcript(frame.text.strip())
            return  # transcripts are for the dialog only: the TTS must not speak them
        if isinstance(frame, InterimTranscriptionFrame):
            return
        if isinstance(frame, InputDTMFFrame):
            self._cancel_silence_timer()
            await self._events.put(DtmfKey(str(frame.button.value)))
            return
        if isinstance(frame, AnswerDelayedFrame):
            await self._on_answer_delayed(frame.reason)
        elif isinstance(frame, NothingHeardFrame):
            await self._on_nothing_heard()
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            self._speech_since = time.monotonic() - frame.start_secs
            self._on_user_started()
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            since = self._speech_since or time.monotonic()
            self._speech_s = max(time.monotonic() - frame.stop_secs - since, 0.0)
            self._on_user_stopped()
        elif isinstance(frame, BotStartedSpeakingFrame) and direction == FrameDirection.UPSTREAM:
            await self._on_bot_started()
        elif isinstance(frame, BotStoppedSpeakingFrame) and direction == FrameDirection.UPSTREAM:
            await self._on_bot_stopped()
        elif isinstance(frame, (EndFrame, CancelFrame)):
            await self._stop_loop()
        await self.push_frame(frame, direction)

    # -- turn-taking ------------------------------------------------------------------------------
    async def _on_transcript(self, text: str) -> None:
        self._awaiting_words = False
        if not text:
            return
        if self._user_speaking:  # an early end of turn: latency counts from now
            self._user_stopped_at, self._ended_early = time.monotonic(), True
        paused, self._paused = self._paused, False  # a paused prompt: these words settle it
        over_prompt, self._started_over_prompt = self._started_over_prompt, False
        not_an_answer = self._not_an_answer(text) if over_prompt else None
        if not_an_answer is not None:
            await self._log.event(not_an_answer, {"text": text})
            await self._resume_prompt()  # if it had stopped the prompt
            return
        if paused:
            await self._count_barge_in()
        self._resume = None
        self._cancel_silence_timer()
        self._cancel(self._hold_task)
        if self._held_text:
            text, self._held_text = f"{self._held_text} {text}", None
        pending = getattr(self.state, "pending", None)
        if partial_code(text, pending, self._code_slot):
            self._held_text = text  # wait for the rest of the number
            self._hold_task = self.create_task(self._release_held(), name="turn-hold")
            return
        await self._caller_said(text)

    def _not_an_answer(self, text: str) -> str | None:
        """What words heard over a prompt are when they answer nothing: an "uh-huh"
        acknowledging it (``backchannel``), an "okay" before it has asked anything
        (``acknowledgement``), or the prompt's own words coming back on a line whose echo may
        have passed uncancelled in this turn (``own_echo``).
        """
        if is_backchannel(text):
            return "backchannel"
        if not self._prompt_asked and is_acknowledgement(text):
            return "acknowledgement"
        now = time.monotonic()
        turn_s = now - (self._speech_since or now)
        leaked = self._echo_leaked is not None and self._echo_leaked(turn_s)
        if leaked and self._prompt is not None and is_own_echo(text, self._prompt.heard()):
            return "own_echo"
        return None

    async def _release_held(self) -> None:
        await asyncio.sleep(self._services.settings.turn_hold_s)
        text, self._held_text = self._held_text, None
        if text:
            await self._caller_said(text)

    async def _caller_said(self, text: str) -> None:
        self.transcript.append(("user", text))
        await self._log.turn("user", text)
        await self._events.put(UserSaid(text))

    def _on_user_started(self) -> None:
        self._user_speaking = True
        self._awaiting_words = False  # this turn's end decides what the agent waits for
        self._ended_early = False
        self._cancel_silence_timer()
        self._cancel(self._hold_task)  # the rest of a held number may be coming
        self.idle.clear()
        if self._speaking:
            self._mark_over_prompt()

    def _on_user_stopped(self) -> None:
        self._user_speaking = False
        answered = self._ended_early
        if not answered:
            self._user_stopped_at = time.monotonic()
        self._ended_early = False
        if self._held_text:
            self._hold_task = self.create_task(self._release_held(), name="turn-hold")
        elif self._nothing_on_its_way():
            # The turn's words were answered before the VAD's stop (that reply has played), or
            # the turn was a noise no transcript will come for: either way the agent waits for
            # the caller again. A transcript still coming cancels the timer.
            if answered:
                self._wait_for_caller()
            else:
                self._arm_silence_timer()

    def _nothing_on_its_way(self) -> bool:
        """No reply being worked out, held, played or waited on."""
        return not (
            self._speaking
            or self._prompt_pending
            or self._finished
            or self._stepping
            or not self._events.empty()
            or self._paused
            or self._after_playback
            or self._held_text is not None
            or self._awaiting_words
        )

    def _wait_for_caller(self) -> None:
        self._arm_silence_timer()
        self.idle.set()

    @property
    def started_over_prompt(self) -> bool:
        """Whether the caller's turn began while the agent spoke, and no words came of it yet."""
        return self._started_over_prompt

    @property
    def expects_code(self) -> bool:
        """Whether the last question asked for the order number (or another code slot)."""
        slot = self._code_slot
        return slot is not None and getattr(self.state, "pending", None) == slot.name

    async def _on_bot_started(self) -> None:
        self._speaking = True
        if self._user_stopped_at is not None:
            latency = (time.monotonic() - self._user_stopped_at) * 1000
            self.turn_latencies_ms.append(latency)
            self._user_stopped_at = None
            await self._log.event("latency", {"end_of_speech_to_audio_ms": round(latency)})

    async def _on_bot_stopped(self) -> None:
        self._speaking, self._quiet_since = False, time.monotonic()
        if not self._prompt_pending:
            return
        if self._queued_says:  # only an earlier Say ended ("One moment" before its answer)
            self._queued_says -= 1
            return
        self._prompt_pending = False
        self._interruptible = True
        deferred, self._after_playback = self._after_playback, []
        for action in deferred:
            # Not awaited here: ending may wait for the channel (e.g. a Twilio mark echo), and
            # frames must keep flowing through this processor meanwhile.
            self.create_task(self._finish_call(action), name="finish-call")
        # While a step is going on it may still add a hang-up (a cached "Goodbye!" can finish
        # playing while its turn is being logged): the end of the step decides.
        # After a hold-on the answer is still coming: no waiting for the caller yet.
        busy = self._finished or self._user_speaking or self._stepping or self._awaiting_words
        if not deferred and not busy:
            self._wait_for_caller()

    # -- the event loop ---------------------------------------------------------------------------
    async def _event_loop(self) -> None:
        while True:
            event = await self._events.get()
            if event is None:
                return
            self._stepping = True
            try:
                await self._step(event)
            except Exception:
                # A bug in one step must not kill the call silently: apologise and hand over.
                logger.exception(f"[{self.call.call_sid}] dialog step failed on {event!r}")
                await self._speak(APOLOGY)
                await self._defer(Transfer(reason="internal_error", summary=self._summary()))
            finally:
                self._stepping = False
            # The caller's orders come in the background: no new wait for the caller.
            background = isinstance(event, OrdersOnFile)
            if not background and not self._user_speaking and self._nothing_on_its_way():
                self._wait_for_caller()

    async def _step(self, event: Event) -> None:
        if isinstance(event, CallStarted):
            self.state, actions = self._engine.start(event)
        else:
            if self.state is None or self.state.ended:
                return
            self.state, actions = self._engine.step(self.state, event)
        described = describe_event(event)
        await self._log.event("event", described)
        await self._log.event("state", {"state": self.state.to_dict()})
        if not self.turns or isinstance(event, (CallStarted, *CALLER_INPUTS)):
            self.turns.append({"input": described, "said": [], "actions": []})
        turn = self.turns[-1]
        # What precedes a hang-up or transfer (the reference number, "transferring you") must be
        # heard whole: those prompts can't be barged in on.
        closing = any(isinstance(a, (HangUp, Transfer)) for a in actions)
        for action in actions:
            self.actions.append(action)
            if isinstance(action, Say) and closing:
                self._interruptible = False
            if isinstance(action, Say):
                turn["said"].append(action.text)
            else:
                described_action = {"action": type(action).__name__} | asdict(action)
                turn["actions"].append(described_action)
                await self._log.event("action", described_action)
            await self._execute(action, chained=isinstance(event, OrderLookedUp))

    async def _execute(self, action: Action, chained: bool = False) -> None:
        """Carry out one action; ``chained``: it answers an order look-up (the next code of
        the sound-alikes or of the keys typed), so the OMS wait goes on.
        """
        if isinstance(action, Say):
            await self._speak(action.text)
        elif isinstance(action, (LookupOrder, CreateWorkOrder)):
            answer = oms_answer(action, self._services, self.call.call_sid, self._log.event)
            await self._events.put(await self._oms_with_hold_on(answer, chained))
        elif isinstance(action, FindCallerOrders) and self.call.caller:
            # Asked at the greeting, answered whenever the OMS answers: nothing waits for it.
            on_file = orders_on_file(
                self._services.orders, self.call.call_sid, self.call.caller, self._log.event
            )
            self.create_task(self._put_when_done(on_file), name="orders-on-file")
        elif isinstance(action, (Transfer, HangUp)):
            await self._defer(action)

    async def _put_when_done(self, answer: Awaitable[Event]) -> None:
        await self._events.put(await answer)

    async def _speak(self, text: str) -> None:
        await self._note_answer()
        if self._prompt_pending:
            self._queued_says += 1
        if self._prompt is not None:
            self._prompt.said(text, new=not self._prompt_pending)
        self._resume = None
        self.transcript.append(("agent", text))
        self._prompt_pending = True
        self.idle.clear()
        await self.push_frame(TTSSpeakFrame(text))
        await self._log.turn("agent", text)

    async def _stop_loop(self) -> None:
        self._cancel_silence_timer()
        self._cancel(self._hold_task)
        if self._loop_task is not None:
            await self._events.put(None)
            self._loop_task = None
