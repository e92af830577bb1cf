"""A tiny agent for SIP tests: a real pipecat pipeline that plays a tone, records what arrives
(audio frames, DTMF) and then does what the test asks (nothing, hang up, transfer)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pipecat.frames.frames import (
    BotStoppedSpeakingFrame,
    Frame,
    InputAudioRawFrame,
    InputDTMFFrame,
    StartFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

TONE_HZ = 440.0


def tone(seconds: float, rate: int = 16000, freq: float = TONE_HZ) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * freq * t) * 12000).astype("<i2").tobytes()


@dataclass
class CallRecord:
    call_sid: str
    caller: str | None
    audio_frames: int = 0
    audio_rates: set[int] = field(default_factory=set)
    audio: bytearray = field(default_factory=bytearray)
    dtmf: list[str] = field(default_factory=list)
    transfer_ok: bool | None = None
    finished: bool = False


class _Probe(FrameProcessor):
    def __init__(self, record: CallRecord, tone_s: float, keep_audio: bool):
        super().__init__()
        self._record = record
        self._tone_s = tone_s
        self._keep_audio = keep_audio
        self.started = asyncio.Event()
        self.spoken = asyncio.Event()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            self._record.audio_frames += 1
            self._record.audio_rates.add(frame.sample_rate)
            if self._keep_audio:
                self._record.audio += frame.audio
            return
        if isinstance(frame, InputDTMFFrame):
            self._record.dtmf.append(frame.button.value)
        if isinstance(frame, BotStoppedSpeakingFrame):
            self.spoken.set()
        await self.push_frame(frame, direction)
        if isinstance(frame, StartFrame):
            if self._tone_s > 0:
                # 16 kHz on purpose: the output transport must resample to the 8 kHz line.
                # Framed as TTS speech, so the output transport says when it has all played.
                await self.push_frame(TTSStartedFrame())
                await self.push_frame(TTSAudioRawFrame(tone(self._tone_s), 16000, 1))
                await self.push_frame(TTSStoppedFrame())
            else:
                self.spoken.set()
            self.started.set()


class ToneAgent:
    """``on_call`` for :class:`~voice_agent.sip.server.SipServer` in tests."""

    def __init__(
        self,
        tone_s: float = 1.0,
        then: str = "wait",
        transfer_target: str = "",
        summary: dict[str, Any] | None = None,
        keep_audio: bool = False,
    ):
        self.tone_s = tone_s
        self.then = then
        self.transfer_target = transfer_target
        self.summary = summary or {}
        self.keep_audio = keep_audio
        self.calls: list[CallRecord] = []

    async def on_call(self, transport: Any, info: Any, control: Any) -> None:
        record = CallRecord(info.call_sid, info.caller)
        self.calls.append(record)
        probe = _Probe(record, self.tone_s, self.keep_audio)
        worker = PipelineWorker(
            Pipeline([transport.input(), probe, transport.output()]),
            params=PipelineParams(audio_in_sample_rate=16000, audio_out_sample_rate=16000),
            idle_timeout_secs=None,
            enable_rtvi=False,
            enable_turn_tracking=False,
        )

        @transport.event_handler("on_client_disconnected")
        async def _gone(*_: Any) -> None:
            await worker.cancel()

        async def act() -> None:
            # As the dialog does: act once the output transport says the agent stopped
            # speaking. A fixed wait raced the transport on a loaded box (the playout buffer
            # holds only 80 ms ahead, so a stalled loop left it empty mid-tone).
            await probe.spoken.wait()
            if self.then == "hang_up":
                await control.hang_up()
            elif self.then == "transfer":
                record.transfer_ok = await control.transfer(self.transfer_target, self.summary)

        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(worker)
        action = asyncio.create_task(act())
        try:
            await runner.run()
        finally:
            if not action.done():
                action.cancel()
            await asyncio.gather(action, return_exceptions=True)
            record.finished = True
