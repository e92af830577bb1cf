"""The dialog processor's side of barge-in: what it does when the barge-in processor says a
prompt was paused for the caller's speech, stopped for good, or should go on
(:class:`~voice_agent.pipeline.barge_in.BargeInListener`).
"""

from __future__ import annotations

from typing import Any

from voice_agent.pipeline.call_log import CallLog
from voice_agent.pipeline.prompt_playback import PromptProgress


class BargeInHooks:
    """Mixed into :class:`~voice_agent.pipeline.dialog_processor.DialogProcessor`, whose
    state it shares (declared here for the type checker).
    """

    _interruptible: bool
    _speaking: bool
    _finished: bool
    _prompt_pending: bool
    _queued_says: int  # Says behind the one playing
    _paused: bool  # a prompt paused for the caller's speech, not yet settled
    _resume: tuple[str, Any] | None  # (unheard text, state) of a stopped prompt
    _started_over_prompt: bool
    _prompt_asked: bool  # whether that prompt had asked anything by then
    _prompt: PromptProgress | None
    _log: CallLog
    state: Any
    transcript: list[tuple[str, str]]
    interruptions: int

    async def _on_transcript(self, text: str) -> None:
        raise NotImplementedError

    async def _speak(self, text: str) -> None:
        raise NotImplementedError

    def _cancel_silence_timer(self) -> None:
        raise NotImplementedError

    @property
    def interruptible(self) -> bool:
        """Whether the prompt now playing may be cut short by the caller."""
        return self._interruptible and self._speaking and not self._finished

    async def on_barge_in_paused(self) -> None:
        """The prompt was stopped for the caller's speech, before it is known to be a barge-in.

        The barge-in processor's verdict settles it, or else the turn's words when they come
        (``_on_transcript``): an answer is a barge-in, an "uh-huh" lets the prompt go on.
        """
        self._paused = True
        await self._note_unheard("barge_in_paused")

    async def on_barge_in(self) -> None:
        """The caller talked over the prompt and it stays stopped (see ``BargeInProcessor``).

        Should their words turn out to be only "mm-hmm", the prompt goes on after all.
        """
        if not self._paused:  # no pause stage: the prompt stopped just now
            await self._note_unheard(None)
        self._paused = False
        await self._count_barge_in()

    async def _count_barge_in(self) -> None:
        self.interruptions += 1
        prompt = self.transcript[-1][1] if self.transcript else ""
        await self._log.event("barge_in", {"prompt": prompt})

    async def on_barge_in_resumed(self) -> None:
        """The pause was for a noise no turn came of (or its words are too late: see
        ``BargeInRule``), or a barge-in no turn came of: say the rest of the prompt.
        """
        self._paused = False
        await self._resume_prompt()

    def _mark_over_prompt(self) -> None:
        """The caller's turn began over the prompt: until words come, it may be a backchannel."""
        self._started_over_prompt = True
        self._prompt_asked = self._prompt is None or self._prompt.asked()

    async def _note_unheard(self, kind: str | None) -> None:
        self._mark_over_prompt()
        self._queued_says = 0  # the interruption stops them all: one BotStoppedSpeaking
        unheard = self._prompt.unheard() if self._prompt is not None else ""
        self._resume = (unheard, self.state) if unheard else None
        if kind is not None:
            await self._log.event(kind, {"unheard": unheard})

    async def _resume_prompt(self) -> None:
        """Say the rest of a stopped prompt, unless the dialog has moved on (a new prompt)."""
        resume, self._resume = self._resume, None
        if resume is None or self._finished or self._prompt_pending:
            return
        if resume[1] is not self.state:
            return
        self._cancel_silence_timer()
        await self._log.event("barge_in_resumed", {"text": resume[0]})
        await self._speak(resume[0])
