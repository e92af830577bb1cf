"""The dialog processor while someone waits: the caller's silence, a turn heard without words,
and "One moment." while the agent's answer takes long.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from voice_agent.dialog.types import Event, NotHeard, Silence
from voice_agent.pipeline.call_log import CallLog

if TYPE_CHECKING:
    from voice_agent.pipeline.call import AgentServices

#: The dialog's optional prompt for a long wait (see ``dialogs/returns.yaml``).
HOLD_ON_PROMPT = "hold_on"
#: Its optional prompt while an order number is read a second time, said as the turn ends:
#: a short acknowledgement, since an answer ready while it plays waits for its end.
CHECK_PROMPT = "number_check"


class WaitingHooks:
    """Mixed into :class:`~voice_agent.pipeline.dialog_processor.DialogProcessor`, whose
    state it shares (declared here for the type checker).
    """

    _services: AgentServices
    _engine: Any
    _log: CallLog
    _events: asyncio.Queue[Event | None]
    _silence_task: asyncio.Task[None] | None
    _speaking: bool
    _quiet_since: float  # when the agent's audio last stopped
    _prompt_pending: bool
    _finished: bool
    _paused: bool
    _user_speaking: bool
    _user_stopped_at: float | None
    _speech_s: float
    _started_over_prompt: bool
    _holds: int  # hold-on prompts said in this call
    _awaiting_words: bool  # told the caller to hold on; the turn's transcript is coming
    _answer_since: float | None  # end of the speech a hold-on was said for
    _oms_since = 0.0  # when the OMS wait began (the first of a chain of look-ups)
    _oms_held = False  # that wait has had its hold-on

    async def _speak(self, text: str) -> None:
        raise NotImplementedError

    def _nothing_on_its_way(self) -> bool:
        raise NotImplementedError

    if TYPE_CHECKING:  # BargeInHooks' (after this class in the dialog processor's bases)

        async def _resume_prompt(self) -> None: ...

    @staticmethod
    def _cancel(task: asyncio.Task[None] | None) -> None:
        if task is not None and not task.done():
            task.cancel()

    # -- the caller's silence ---------------------------------------------------------------------
    def _arm_silence_timer(self) -> None:
        self._cancel_silence_timer()
        create_task = self.create_task  # type: ignore[attr-defined]  # the FrameProcessor's
        self._silence_task = create_task(self._silence_after(), name="silence-timer")

    def _cancel_silence_timer(self) -> None:
        self._cancel(self._silence_task)
        self._silence_task = None

    async def _silence_after(self) -> None:
        wait = reprompt_s = self._services.settings.silence_reprompt_s
        while wait > 0:
            await asyncio.sleep(wait)
            # The agent's audio went on after the timer was armed (a prompt played slowly by a
            # busy box, or resumed after a late sentence): the caller's silence counts from
            # the end of that audio.
            quiet = 0.0 if self._speaking else time.monotonic() - self._quiet_since
            wait = reprompt_s - quiet
        self._silence_task = None
        await self._events.put(Silence())

    async def _on_nothing_heard(self) -> None:
        """A turn with no words: if it was speech, not a cough, ask again now (see settings).

        A cough or a noise that stopped a prompt lets it go on, as an "uh-huh" does.
        """
        self._awaiting_words = False
        self._paused = False  # a pause this turn began settles here
        if self._speech_s < self._services.settings.unheard_after_speech_s:
            if self._started_over_prompt:
                self._started_over_prompt = False
                if not self._user_speaking:
                    await self._resume_prompt()
            return  # else the silence timer the end of the turn armed stays
        if self._user_speaking or not self._nothing_on_its_way():
            return  # the caller went on, or a reply or a resumed prompt is coming
        self._cancel_silence_timer()
        self._started_over_prompt = False
        await self._events.put(NotHeard(round(self._speech_s, 2)))

    # -- the agent's slow answer ------------------------------------------------------------------
    async def _on_answer_delayed(self, reason: str) -> None:
        """The STT reads the turn's number a second time: the words come ~1 s later."""
        if not self._user_speaking and await self._hold_on(reason):
            self._awaiting_words = True  # and no silence reprompt meanwhile
            self._cancel_silence_timer()

    async def _oms_with_hold_on(
        self, answer: Coroutine[Any, Any, Event], chained: bool = False
    ) -> Event:
        """The OMS's answer; a hold-on once it has taken ``hold_on_after_s``. The look-ups of
        an order number's sound-alikes, ``chained`` to the one before, are one wait: it counts
        from the first, and gets one hold-on at most.
        """
        if not chained:
            self._oms_since, self._oms_held = time.monotonic(), False
        task = asyncio.ensure_future(answer)
        left = self._services.settings.hold_on_after_s - (time.monotonic() - self._oms_since)
        done, _ = await asyncio.wait({task}, timeout=max(0.0, left))
        if not done and not self._oms_held:
            self._oms_held = await self._hold_on("oms")
        return await task

    async def _hold_on(self, reason: str) -> bool:
        """Say the dialog's hold-on prompt (for a number check its own prompt, if it has one),
        unless it has none, something is being said or the call is ending. Whether it was said.
        """
        spec = getattr(self._engine, "spec", None)
        if spec is None:
            return False
        own = reason == "number_check" and CHECK_PROMPT in spec.prompts
        key = CHECK_PROMPT if own else HOLD_ON_PROMPT
        if key not in spec.prompts:
            return False
        if self._speaking or self._prompt_pending or self._finished:
            return False
        if self._paused:
            return False
        text = spec.prompt(key, self._holds)
        self._holds += 1
        since = self._user_stopped_at
        await self._log.event("hold_on", {"reason": reason, "text": text})
        await self._speak(text)
        self._answer_since = since
        return True

    async def _note_answer(self) -> None:
        """The answer a hold-on was said for is being handed to the TTS: log how late."""
        if self._answer_since is None:
            return
        answer_ms = round((time.monotonic() - self._answer_since) * 1000)
        self._answer_since = None
        await self._log.event("answer_after_hold_on", {"end_of_speech_to_answer_ms": answer_ms})
