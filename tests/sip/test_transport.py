"""The pipecat SIP transport on its own: a real pipeline around a call leg, with a media clock
task standing in for the RTP socket (the leg is the transport's whole boundary)."""

from __future__ import annotations

import asyncio

import numpy as np
from pipecat.frames.frames import (
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InputDTMFFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

from voice_agent.sip.media import FRAME_BYTES, SILENCE, CallLeg
from voice_agent.sip.transport import SipTransport

from .agent import tone


class Recorder(FrameProcessor):
    def __init__(self) -> None:
        super().__init__()
        self.frames: list[Frame] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, (InputAudioRawFrame, InputDTMFFrame)):
            self.frames.append(frame)
        await self.push_frame(frame, direction)


async def wait_for(predicate, timeout: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_transport_moves_audio_and_dtmf_and_clears_on_barge_in():
    leg = CallLeg("k", "call-id", "<sip:a@b>", "127.0.0.1:5060")
    ended: list[bool] = []

    async def on_end(drain: bool) -> None:
        ended.append(drain)

    transport = SipTransport(leg, on_end)
    recorder = Recorder()
    worker = PipelineWorker(
        Pipeline([transport.input(), recorder, transport.output()]),
        params=PipelineParams(audio_in_sample_rate=16000, audio_out_sample_rate=24000),
        idle_timeout_secs=None,
        enable_rtvi=False,
        enable_turn_tracking=False,
    )
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    run = asyncio.create_task(runner.run())
    played: list[bytes] = []

    async def media_clock() -> None:
        while True:
            played.append(leg.playout.read_frame())
            await asyncio.sleep(0.02)

    clock = asyncio.create_task(media_clock())
    try:
        await wait_for(lambda: leg.deliver is not None)
        deliver = leg.deliver
        assert deliver is not None
        for _ in range(10):
            deliver(tone(0.02, rate=8000))
        transport.input().push_dtmf("5")
        transport.input().push_dtmf("x")  # not a key: ignored
        await wait_for(lambda: len(recorder.frames) >= 11)
        audio = [f for f in recorder.frames if isinstance(f, InputAudioRawFrame)]
        assert len(audio) == 10  # one pipeline frame per 20 ms RTP frame
        assert {(f.sample_rate, len(f.audio)) for f in audio} == {(16000, 640)}
        assert [f.button.value for f in recorder.frames if isinstance(f, InputDTMFFrame)] == ["5"]

        # 24 kHz agent audio is resampled to the 8 kHz line and queued only a little ahead
        await worker.queue_frame(OutputAudioRawFrame(tone(3.0, rate=24000), 24000, 1))
        await wait_for(lambda: sum(f != SILENCE for f in played) >= 25)
        assert leg.playout.buffered_s < 0.2  # paced, not dumped into the buffer
        await worker.queue_frame(InterruptionFrame())
        await wait_for(lambda: leg.playout.is_empty, timeout=1.0)
        await asyncio.sleep(0.2)
        loud = [i for i, f in enumerate(played) if f != SILENCE]
        assert len(played) - 1 - loud[-1] >= 5  # silence since the barge-in
        assert len(loud) < 100  # the 3 s prompt was cut short
        first = np.frombuffer(played[loud[5]], "<i2")
        assert len(played[loud[5]]) == FRAME_BYTES and np.abs(first).max() > 5000

        await worker.queue_frame(EndFrame())
        await asyncio.wait_for(run, 10)
        assert ended == [True]  # the pipeline's end asks for a drained hang-up, once
        assert leg.deliver is None
    finally:
        clock.cancel()
        if not run.done():
            await worker.cancel()
            await asyncio.wait_for(run, 5)
