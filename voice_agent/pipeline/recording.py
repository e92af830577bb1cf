"""Call recording and live call metrics.

:class:`CallObserver` sits at the end of a call's pipeline (after ``transport.output()``, where
caller audio passes through and agent audio arrives as it is played). It keeps a stereo
recording (caller left, agent right) on the caller's sample clock, and an events list (VAD,
transcripts, dialog events and actions, work orders, latencies) timed on that same clock. The
dialog's records reach it through :class:`TeeRecorder`, which wraps the call store. When the call
ends it writes ``<data_dir>/recordings/<call_sid>.wav`` and ``<call_sid>.events.jsonl``.

:class:`StereoTimeline` is the pure part: it aligns the two tracks and is unit-tested alone.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import soxr
from loguru import logger
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    InputAudioRawFrame,
    InputDTMFFrame,
    OutputAudioRawFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from voice_agent.audio import LineClock, write_wav
from voice_agent.pii import mask_data
from voice_agent.pipeline.frames import EchoTakenOutAgainFrame, NothingHeardFrame, TurnHeldFrame

if TYPE_CHECKING:
    from voice_agent.metrics import CallMetrics
    from voice_agent.pipeline.call import AgentServices, CallInfo, CallRecorder

RECORDING_RATE = 8000  # phone audio: 8 kHz keeps a 10-minute stereo call under 20 MB
ALIGN_TOLERANCE_S = 0.1  # agent audio this far behind the caller clock starts after a gap


class StereoTimeline:
    """Caller and agent audio on one clock: the caller track's sample count.

    A live caller stream is continuous (silence included), so the caller track is the call's
    clock. Agent audio is appended as it is played; when it arrives after a pause (the agent
    track is behind the caller clock by more than ``ALIGN_TOLERANCE_S``) silence is inserted
    first, so each prompt starts where it was heard. Small lags are not padded, which keeps a
    prompt's 20 ms chunks contiguous.
    """

    def __init__(self, rate: int = RECORDING_RATE) -> None:
        self.rate = rate
        # The caller track stays at its own rate until written: resampled 20 ms at a time it
        # cost ~5% of a call's CPU (soxr's per-call overhead).
        self._caller = bytearray()
        self._caller_rate: int | None = None
        self.agent = bytearray()
        self._resamplers: dict[int, soxr.ResampleStream] = {}

    def add_caller(self, pcm: bytes, rate: int) -> None:
        if self._caller_rate is None:
            self._caller_rate = rate
        if rate != self._caller_rate and pcm:
            samples = np.frombuffer(pcm, dtype="<i2")
            pcm = soxr.resample(samples, rate, self._caller_rate).astype("<i2").tobytes()
        self._caller += pcm

    def add_agent(self, pcm: bytes, rate: int) -> None:
        lag_s = self.seconds - len(self.agent) / 2 / self.rate
        if lag_s > ALIGN_TOLERANCE_S:
            self.agent += bytes(int(lag_s * self.rate) * 2)
        if rate != self.rate and pcm:
            if rate not in self._resamplers:
                self._resamplers[rate] = soxr.ResampleStream(rate, self.rate, 1, dtype="int16")
            samples = np.frombuffer(pcm, dtype="<i2")
            pcm = self._resamplers[rate].resample_chunk(samples).astype("<i2").tobytes()
        self.agent += pcm

    @property
    def seconds(self) -> float:
        """The call clock: seconds of caller audio so far."""
        return len(self._caller) / 2 / self._caller_rate if self._caller_rate else 0.0

    @property
    def caller(self) -> bytes:
        """The caller track at the recording rate."""
        if not self._caller_rate or self._caller_rate == self.rate:
            return bytes(self._caller)
        samples = np.frombuffer(bytes(self._caller), dtype="<i2")
        return soxr.resample(samples, self._caller_rate, self.rate).astype("<i2").tobytes()

    def stereo(self) -> np.ndarray:
        """Frames x 2 float array (caller left, agent right), padded to the longer track."""
        caller = self.caller
        n = max(len(caller), len(self.agent)) // 2
        out = np.zeros((n, 2), dtype=np.float32)
        for ch, track in enumerate((caller, self.agent)):
            samples = np.frombuffer(bytes(track[: len(track) // 2 * 2]), dtype="<i2")
            out[: len(samples), ch] = samples.astype(np.float32) / 32768.0
        return out


def recording_paths(data_dir: Path, call_sid: str) -> tuple[Path, Path]:
    """Where a call's WAV and events file go (the call SID made file-name safe)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", call_sid)[:128] or "call"
    folder = data_dir / "recordings"
    return folder / f"{safe}.wav", folder / f"{safe}.events.jsonl"


def read_events(path: Path) -> list[dict[str, Any]] | None:
    """A recording's events file; bad lines are skipped, a missing file gives None."""
    if not path.is_file():
        return None
    events = []
    for line in path.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events


def caller_words(events: list[dict[str, Any]]) -> list[str]:
    """What the agent heard the caller say in a recorded call, turn by turn."""
    return [e["text"] for e in events if e.get("kind") == "turn" and e.get("speaker") == "user"]


def turns_from_events(
    events: list[dict[str, Any]], *, pad_s: float = 0.2
) -> list[tuple[float, float]]:
    """Caller turns of a recorded call as (start, end) seconds on the WAV's clock.

    Each VAD start/stop pair is one turn, widened by ``pad_s`` (the VAD confirms speech a little
    after it starts); replaying these spans feeds each answer exactly as the agent heard it.
    """
    turns: list[tuple[float, float]] = []
    start: float | None = None
    for event in events:
        if event.get("kind") == "vad_start" and start is None:
            start = float(event["t"])
        elif event.get("kind") == "vad_stop" and start is not None:
            turns.append((max(start - pad_s, 0.0), float(event["t"])))
            start = None
    return turns


class CallObserver(FrameProcessor):
    """Records the call (optional) and reports its latencies and outcome to the metrics."""

    def __init__(
        self,
        call: CallInfo,
        *,
        record_dir: Path | None,
        metrics: CallMetrics | None = None,
        vad_stop_secs: float = 0.0,
    ) -> None:
        super().__init__(name=f"CallObserver[{call.call_sid}]")
        self.call = call
        self.record_dir = record_dir
        self.metrics = metrics
        self.timeline = StereoTimeline()
        self.events: list[dict[str, Any]] = []
        self._vad_stop_secs = vad_stop_secs
        # How far behind the line the caller's audio reaches this, the pipeline's end (a box
        # with more calls than its event loop keeps up with): the caller stopped that much
        # earlier than the VAD's stop here says. Left out, answers 4 s late on the wire were
        # counted ~0.7 s (16 calls on the Intel Xeon box).
        self._line: LineClock | None = None
        self._behind = self._behind_at_stop = 0.0
        self._speech_started: float | None = None
        self._speech_stopped: float | None = None
        self._speech_s = 0.0
        self._transcript_at: float | None = None
        self._await_audio = False
        # A turn ended on its transcript before the VAD's stop: its turn event, and the time and
        # event of its first audio if that came first too, settled when the stop comes.
        self._early_turn: dict[str, Any] | None = None
        self._early_audio: tuple[float, dict[str, Any]] | None = None
        self._started = False
        self._ended = False
        self.paths: tuple[Path, Path] | None = None

    # -- events -----------------------------------------------------------------------------------
    def event(self, kind: str, **data: Any) -> None:
        self.events.append({"t": round(self.timeline.seconds, 3), "kind": kind} | data)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        now = time.monotonic()
        if isinstance(frame, InputAudioRawFrame):
            self._line = self._line or LineClock(frame.sample_rate)
            self._behind = self._line.heard(len(frame.audio) // 2, now)
            if self.metrics is not None:
                self.metrics.observe_behind(self.call.call_sid, self._behind)
            if self.record_dir is not None:
                self.timeline.add_caller(frame.audio, frame.sample_rate)
        elif isinstance(frame, OutputAudioRawFrame):
            if self.record_dir is not None:
                self.timeline.add_agent(frame.audio, frame.sample_rate)
            if self._await_audio:
                self._on_first_audio(now)
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            self._speech_started = now
            self._speech_stopped = None  # the last turn's stop must not time this one
            self._early_turn = self._early_audio = None
            self.event("vad_start")
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._speech_stopped = now
            self._behind_at_stop = self._behind
            started = self._speech_started or now
            self._speech_s = max(now - started - self._vad_stop_secs, 0.0)
            self.event("vad_stop", speech_s=round(self._speech_s, 3))
            self._settle_early_turn(now)
        elif isinstance(frame, InputDTMFFrame):
            self.event("dtmf", key=str(frame.button.value))
        elif isinstance(frame, TurnHeldFrame):
            self.event("turn_held", text=frame.text, reason="sounds unfinished")
            if self.metrics is not None:
                self.metrics.turns_held.inc()
        elif isinstance(frame, NothingHeardFrame):
            self.event("nothing_heard", failed=frame.failed)
        elif isinstance(frame, EchoTakenOutAgainFrame):
            self.event("echo_taken_out_again")
        elif isinstance(frame, BotStartedSpeakingFrame) and direction == FrameDirection.DOWNSTREAM:
            self.event("agent_audio_start")
        elif isinstance(frame, BotStoppedSpeakingFrame) and direction == FrameDirection.DOWNSTREAM:
            self.event("agent_audio_stop")
        await self.push_frame(frame, direction)

    def _on_first_audio(self, now: float) -> None:
        self._await_audio = False
        data: dict[str, Any] = {}
        if self._transcript_at is not None:
            data["transcript_to_first_audio_ms"] = round((now - self._transcript_at) * 1000)
            self._observe("transcript_to_first_audio", now - self._transcript_at)
        if self._speech_stopped is not None:
            end_of_speech = self._end_of_speech(self._speech_stopped)
            data["end_of_speech_to_first_audio_ms"] = round((now - end_of_speech) * 1000)
            self._observe("end_of_speech_to_first_audio", now - end_of_speech)
        self.event("agent_first_audio", **data)
        if self._speech_stopped is None and self._early_turn is not None:
            self._early_audio = (now, self.events[-1])

    def _settle_early_turn(self, vad_stop: float) -> None:
        """Time a turn that ended on its transcript, now that the VAD's stop dates its end.

        Its transcript was there before the VAD's end, so the wait for it after that end was 0.
        Its first audio, if that came before the stop as well, counts from the end of speech
        like any other turn's; without this the fastest turns would be missing from the figures.
        """
        turn, self._early_turn = self._early_turn, None
        audio, self._early_audio = self._early_audio, None
        if turn is None:
            return
        turn["vad_end_to_transcript_ms"] = 0
        self._observe("vad_end_to_transcript", 0.0)
        if audio is not None:
            at, event = audio
            seconds = at - self._end_of_speech(vad_stop)
            event["end_of_speech_to_first_audio_ms"] = round(seconds * 1000)
            self._observe("end_of_speech_to_first_audio", seconds)

    def _end_of_speech(self, vad_stop: float) -> float:
        """When the caller stopped, on the line, for the VAD's stop seen here at ``vad_stop``."""
        return vad_stop - self._vad_stop_secs - self._behind_at_stop

    def _observe(self, stage: str, seconds: float) -> None:
        if self.metrics is not None:
            self.metrics.observe_latency(stage, seconds)

    # -- from the dialog (through TeeRecorder) ----------------------------------------------------
    def on_start(self) -> None:
        if not self._started:
            self._started = True
            self.event("call_start", call_sid=self.call.call_sid, channel=self.call.channel,
                       at=datetime.now(UTC).isoformat())
            if self.metrics is not None:
                self.metrics.call_started(self.call.channel)

    def on_turn(self, speaker: str, text: str) -> None:
        now = time.monotonic()
        data: dict[str, Any] = {"speaker": speaker, "text": text}
        early = False
        if speaker == "user":
            self._transcript_at = now
            self._await_audio = True
            # A second transcript before the stop means the caller went on: the stop will not
            # date the earlier one's end.
            self._early_turn = self._early_audio = None
            early = self._speech_stopped is None and self._speech_started is not None
            if early:
                data["ended_early"] = True  # on its transcript, before the VAD's stop
            if self._speech_stopped is not None:
                asr_s = now - self._speech_stopped
                data["vad_end_to_transcript_ms"] = round(asr_s * 1000)
                self._observe("vad_end_to_transcript", asr_s)
                if self.metrics is not None:
                    self.metrics.observe_asr(asr_s, self._speech_s)
        self.event("turn", **data)
        if speaker == "user" and self.metrics is not None:
            self.metrics.caller_turns.labels(ended_by="transcript" if early else "vad").inc()
        if early:
            self._early_turn = self.events[-1]

    def on_event(self, kind: str, data: dict[str, Any]) -> None:
        self.event(f"dialog_{kind}", data=json.loads(json.dumps(data, default=str)))
        if kind == "action" and data.get("action") == "CreateWorkOrder" and self.metrics:
            self.metrics.work_orders.labels(type=str(data.get("type"))).inc()

    async def on_end(self, outcome: str) -> None:
        if self._ended:
            return
        self._ended = True
        self.event("call_end", outcome=outcome, at=datetime.now(UTC).isoformat())
        if self.metrics is not None and self._started:
            self.metrics.call_ended(self.call.channel, outcome)
        if self.record_dir is not None:
            try:
                self.paths = await asyncio.to_thread(self._write)
            except OSError:  # a full disk must not break the end of the call
                logger.exception(f"[{self.call.call_sid}] recording not written")

    def _write(self) -> tuple[Path, Path]:
        assert self.record_dir is not None
        wav, events = recording_paths(self.record_dir, self.call.call_sid)
        write_wav(wav, self.timeline.stereo(), self.timeline.rate)
        header = {"t": 0.0, "kind": "recording", "wav": wav.name, "rate": self.timeline.rate,
                  "channels": ["caller", "agent"]}
        lines = [json.dumps(mask_data(e), default=str) for e in [header, *self.events]]
        events.write_text("\n".join(lines) + "\n")
        logger.info(f"[{self.call.call_sid}] recorded to {wav}")
        return wav, events


class TeeRecorder:
    """A :class:`~voice_agent.pipeline.call.CallRecorder` that also tells the observer."""

    def __init__(self, inner: CallRecorder | None, observer: CallObserver) -> None:
        self._inner = inner
        self._observer = observer

    async def start_call(self, call_sid: str, channel: str, caller: str | None) -> None:
        self._observer.on_start()
        if self._inner is not None:
            await self._inner.start_call(call_sid, channel, caller)

    async def add_turn(self, call_sid: str, speaker: str, text: str,
                       latency_ms: float | None = None, interrupted: bool = False) -> None:
        self._observer.on_turn(speaker, text)
        if self._inner is not None:
            await self._inner.add_turn(call_sid, speaker, text, latency_ms, interrupted)

    async def add_event(self, call_sid: str, kind: str, data: dict[str, Any]) -> None:
        self._observer.on_event(kind, data)
        if self._inner is not None:
            await self._inner.add_event(call_sid, kind, data)

    async def end_call(self, call_sid: str, outcome: str) -> None:
        if self._inner is not None:
            await self._inner.end_call(call_sid, outcome)
        await self._observer.on_end(outcome)


def observe_call(
    call: CallInfo, services: AgentServices
) -> tuple[CallObserver | None, AgentServices]:
    """The observer for ``call`` (None when neither recording nor metrics are on) and the
    services the dialog should use (its recorder wrapped so the observer sees the records).
    """
    settings = services.settings
    record = bool(getattr(settings, "record_calls", False)) and call.channel != "replay"
    metrics = getattr(services, "metrics", None)
    if not record and metrics is None:
        return None, services
    observer = CallObserver(
        call,
        record_dir=settings.data_dir if record else None,
        metrics=metrics,
        vad_stop_secs=settings.vad_stop_secs,
    )
    return observer, replace(services, recorder=TeeRecorder(services.recorder, observer))
