"""The dialog processor's ending of a call: a hang-up or a transfer once what was said before
it has been played, and the outcome the call record closes with.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from loguru import logger
from pipecat.frames.frames import EndWorkerFrame

from voice_agent.dialog.types import Action, Transfer
from voice_agent.pipeline.call_log import CallLog

if TYPE_CHECKING:
    from voice_agent.pipeline.call import AgentServices, CallControl, CallInfo

#: If the TTS never produces audio for a prompt, deferred hang-ups/transfers still happen.
PLAYBACK_FALLBACK_S = 30.0


class EndingHooks:
    """Mixed into :class:`~voice_agent.pipeline.dialog_processor.DialogProcessor`, whose
    state it shares (declared here for the type checker).
    """

    call: CallInfo
    _control: CallControl
    _services: AgentServices
    _log: CallLog
    _prompt_pending: bool
    _queued_says: int
    _after_playback: list[Action]
    _finished: bool
    state: Any
    outcome: str | None
    transcript: list[tuple[str, str]]
    ended: asyncio.Event

    async def _on_bot_stopped(self) -> None:
        raise NotImplementedError

    def _cancel_silence_timer(self) -> None:
        raise NotImplementedError

    async def _defer(self, action: Action) -> None:
        """Transfers and hang-ups wait until what was said before them has been played."""
        if self._prompt_pending:
            self._after_playback.append(action)
            create_task = self.create_task  # type: ignore[attr-defined]  # the FrameProcessor's
            create_task(self._playback_fallback(), name="playback-fallback")
        else:
            await self._finish_call(action)

    async def _playback_fallback(self) -> None:
        await asyncio.sleep(PLAYBACK_FALLBACK_S)
        if self._after_playback and not self._finished:
            logger.warning(f"[{self.call.call_sid}] no end of playback seen; ending anyway")
            self._prompt_pending, self._queued_says = True, 0
            await self._on_bot_stopped()

    async def _finish_call(self, action: Action) -> None:
        if self._finished:
            return
        self._finished = True
        self._cancel_silence_timer()
        if isinstance(action, Transfer):
            self.outcome = "handed_off"
            target = self._services.settings.transfer_target
            ok = await self._control.transfer(target, action.summary | {"reason": action.reason})
            await self._log.event(
                "transfer",
                {"target": target, "ok": ok, "reason": action.reason, "summary": action.summary},
            )
        else:
            self.outcome = self.outcome or "resolved"
            await self._control.hang_up()
        self.ended.set()
        push_frame = self.push_frame  # type: ignore[attr-defined]  # the FrameProcessor's
        await push_frame(EndWorkerFrame(reason=self.outcome))

    # -- records ----------------------------------------------------------------------------------
    def _summary(self) -> dict[str, Any]:
        state = self.state
        return {
            "intent": getattr(state, "intent", None),
            "slots": dict(getattr(state, "slots", {}) or {}),
            "last_turns": self.transcript[-6:],
        }

    def mark_abandoned(self) -> None:
        if self.outcome is None:
            self.outcome = "abandoned"

    async def finish(self) -> None:
        """Close the call record once the pipeline has ended."""
        if self.outcome is None:
            self.outcome = "abandoned"
        await self._log.end(self.outcome)
