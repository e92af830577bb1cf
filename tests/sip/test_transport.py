"""The pipecat SIP transport on its own: a real pipeline around a call leg, with a media clock
task standing in for the RTP socket (the leg is the transport's whole boundary)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

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

from tests.unit.test_echo import speechlike
from voice_agent.audio import level_dbfs
from voice_agent.pipeline.echo_cancel import echo_cancellation
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


async def every_20_ms(tick: Callable[[], None]) -> None:
    """Call ``tick`` on a 20 ms clock, as the RTP session sends and a phone plays: on time
    on average, a late tick followed by the ones it held up (sleeping 20 ms after each tick
    instead, a busy box slowed the clock by a quarter and the echo's delay with it).
    """
    loop = asyncio.get_running_loop()
    due = loop.time()
    while True:
        tick()
        due += 0.02
        await asyncio.sleep(max(0.0, due - loop.time()))


async def start(
    processors: list[FrameProcessor], audio_out_sample_rate: int
) -> tuple[PipelineWorker, asyncio.Task[None]]:
    """Run a pipeline of ``processors`` (16 kHz in); its worker, and the task running it."""
    worker = PipelineWorker(
        Pipeline(processors),
        params=PipelineParams(
            audio_in_sample_rate=16000, audio_out_sample_rate=audio_out_sample_rate
        ),
        idle_timeout_secs=None,
        enable_rtvi=False,
        enable_turn_tracking=False,
    )
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    return worker, asyncio.create_task(runner.run())


async def test_transport_moves_audio_and_dtmf_and_clears_on_barge_in():
    leg = CallLeg("k", "call-id", "<sip:a@b>", "127.0.0.1:5060")
    ended: list[bool] = []

    async def on_end(drain: bool) -> None:
        ended.append(drain)

    transport = SipTransport(leg, on_end)
    recorder = Recorder()
    worker, run = await start(
        [transport.input(), recorder, transport.output()], audio_out_sample_rate=24000
    )
    played: list[bytes] = []

    clock = asyncio.create_task(every_20_ms(lambda: played.append(leg.playout.read_frame())))
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


async def test_a_sip_callers_echo_of_the_agent_is_taken_out():
    """Echo cancellation hears what the SIP transport writes: the caller's phone sends the
    agent's audio back 200 ms late and 15 dB down, and the pipeline gets it taken out.
    """
    leg = CallLeg("k", "call-id", "<sip:a@b>", "127.0.0.1:5060")

    async def on_end(drain: bool) -> None:
        pass

    transport = SipTransport(leg, on_end)
    echo_filter, _ = echo_cancellation(transport.output())
    recorder = Recorder()
    worker, run = await start(
        [transport.input(), echo_filter, recorder, transport.output()], audio_out_sample_rate=16000
    )
    played: list[bytes] = []
    returned: list[bytes] = []  # what the caller's phone sent: the echo alone

    def phone() -> None:
        played.append(leg.playout.read_frame())
        if len(played) > 10 and leg.deliver is not None:
            echo = (np.frombuffer(played[-11], "<i2") * 10 ** (-15 / 20)).astype("<i2")
            returned.append(echo.tobytes())
            leg.deliver(returned[-1])

    media = asyncio.create_task(every_20_ms(phone))
    try:
        await wait_for(lambda: leg.deliver is not None)
        await asyncio.sleep(0.3)  # the canceller's warm-up
        await worker.queue_frame(OutputAudioRawFrame(speechlike(4.0, seed=3).tobytes(), 16000, 1))

        def heard() -> list[bytes]:  # one pipeline frame for each frame the phone sent
            return [f.audio for f in recorder.frames if isinstance(f, InputAudioRawFrame)]

        await wait_for(lambda: len(heard()) >= 180, timeout=8.0)
        line = np.frombuffer(b"".join(returned[100:180]), "<i2")  # 2.0-3.6 s: the echo settled
        out = np.frombuffer(b"".join(heard()[100:180]), "<i2")
        assert level_dbfs(line) > -40  # the echo is there
        assert level_dbfs(out) < level_dbfs(line) - 30, (level_dbfs(line), level_dbfs(out))
    finally:
        media.cancel()
        await worker.cancel()
        await asyncio.wait_for(run, 5)
