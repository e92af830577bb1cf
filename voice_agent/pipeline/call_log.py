"""What the dialog writes about one call (turns and events), whether or not it is recorded."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from voice_agent.pipeline.call import CallInfo, CallRecorder


class CallLog:
    """One call's turns and events, sent to the recorder if the agent has one."""

    def __init__(self, recorder: CallRecorder | None, call: CallInfo) -> None:
        self._recorder = recorder
        self._call = call

    async def start(self) -> None:
        if self._recorder is not None:
            call = self._call
            await self._recorder.start_call(call.call_sid, call.channel, call.caller)

    async def turn(self, speaker: str, text: str, latency_ms: float | None = None) -> None:
        if self._recorder is not None:
            await self._recorder.add_turn(self._call.call_sid, speaker, text, latency_ms=latency_ms)

    async def event(self, kind: str, data: dict[str, Any]) -> None:
        if self._recorder is not None:
            await self._recorder.add_event(self._call.call_sid, kind, data)

    async def end(self, outcome: str) -> None:
        if self._recorder is not None:
            await self._recorder.end_call(self._call.call_sid, outcome)
