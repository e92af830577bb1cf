"""``voice-agent replay``: run a recorded caller track through the live pipeline, offline.

The caller track is cut into turns at silences; each turn is fed to the same pipecat pipeline a
phone call uses (VAD, ASR, dialog, TTS), as fast as the models allow, and the next turn is fed
only once the agent is waiting for the caller again. The OMS is the embedded one in a scratch
database, so a replay never touches real orders.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from loguru import logger
from pipecat.frames.frames import (
    InputAudioRawFrame,
    OutputAudioRawFrame,
    StartFrame,
)
from pipecat.transports.base_input import BaseInputTransport
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.base_transport import BaseTransport, TransportParams

from voice_agent.audio import ASR_RATE, float_to_pcm16, read_audio, resample
from voice_agent.pipeline.call import AgentServices, CallInfo, CallSession

FRAME_S = 0.02
TURN_GAP_S = 0.8  # a silence at least this long ends a caller turn
TRAILING_SILENCE_S = 1.0  # fed after each turn so the VAD sees its end
TURN_MARGIN = int(0.2 * ASR_RATE)  # samples of context fed before and after a turn
RESPONSE_TIMEOUT_S = 60.0


NOISE_MARGIN_DB = 12.0  # a frame this far above the line's noise floor counts as speech


def frame_levels_db(audio: np.ndarray, rate: int) -> np.ndarray:
    """RMS level (dBFS) of each 20 ms frame."""
    hop = int(rate * FRAME_S)
    frames = audio[: len(audio) // hop * hop].reshape(-1, hop)
    return np.asarray(20 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) + 1e-9))


def split_turns(
    audio: np.ndarray, rate: int, *, min_gap_s: float = TURN_GAP_S, floor_db: float = -45.0
) -> list[tuple[int, int]]:
    """Sample ranges of the caller's turns: voiced 20 ms frames joined across short gaps.

    A frame is voiced when it is at least ``NOISE_MARGIN_DB`` above the line's noise floor (its
    quietest 10 % of frames: a noisy line has no digital silence between turns), within 35 dB of
    the loudest frames, and above ``floor_db`` dBFS.
    """
    hop = int(rate * FRAME_S)
    if len(audio) < hop:
        return []
    level = frame_levels_db(audio, rate)
    noise_floor = float(np.percentile(level, 10)) + NOISE_MARGIN_DB
    threshold = max(floor_db, noise_floor, float(np.percentile(level, 95)) - 35.0)
    voiced = np.flatnonzero(level > threshold)
    if voiced.size == 0:
        return []
    max_gap = int(min_gap_s / FRAME_S)
    turns: list[tuple[int, int]] = []
    start = prev = int(voiced[0])
    for idx in voiced[1:]:
        if idx - prev > max_gap:
            turns.append((start, prev + 1))
            start = int(idx)
        prev = int(idx)
    turns.append((start, prev + 1))
    # Drop clicks: a "turn" shorter than 100 ms is not speech.
    return [(s * hop, e * hop) for s, e in turns if (e - s) * FRAME_S >= 0.1]


class _ReplayInput(BaseInputTransport):
    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self.set_transport_ready(frame)


class _ReplayOutput(BaseOutputTransport):
    def __init__(self, params: TransportParams) -> None:
        super().__init__(params)
        self.audio = bytearray()

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self.set_transport_ready(frame)

    async def write_audio_frame(self, frame: OutputAudioRawFrame) -> bool:
        self.audio += frame.audio
        return True


class ReplayTransport(BaseTransport):
    """An in-process transport: audio pushed in by a driver, agent audio collected, no pacing."""

    def __init__(self, out_rate: int = ASR_RATE) -> None:
        super().__init__()
        params = TransportParams(
            audio_in_enabled=True,
            audio_out_enabled=True,
            audio_in_sample_rate=ASR_RATE,
            audio_out_sample_rate=out_rate,
            audio_out_end_silence_secs=0,
        )
        self._input = _ReplayInput(params)
        self._output = _ReplayOutput(params)
        self._register_event_handler("on_client_disconnected")

    def input(self) -> _ReplayInput:
        return self._input

    def output(self) -> _ReplayOutput:
        return self._output

    async def feed(self, pcm16: bytes) -> None:
        step = int(ASR_RATE * FRAME_S) * 2
        for i in range(0, len(pcm16), step):
            chunk = pcm16[i : i + step].ljust(step, b"\0")
            await self._input.push_audio_frame(
                InputAudioRawFrame(audio=chunk, sample_rate=ASR_RATE, num_channels=1)
            )
            await asyncio.sleep(0)  # let the VAD keep up without wall-clock pacing


class ReplayControl:
    def __init__(self) -> None:
        self.transferred: dict[str, Any] | None = None
        self.hung_up = False

    async def transfer(self, target: str | None, summary: dict[str, Any]) -> bool:
        self.transferred = {"target": target, "summary": summary}
        return True

    async def hang_up(self) -> None:
        self.hung_up = True


@dataclass
class ReplayResult:
    call_sid: str
    outcome: str | None
    turns: list[dict[str, Any]] = field(default_factory=list)
    transferred: dict[str, Any] | None = None
    caller_turns: int = 0
    state: dict[str, Any] | None = None  # the dialog's final state (intent, slots, ...)
    latencies_ms: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "call_sid": self.call_sid,
            "outcome": self.outcome,
            "caller_turns": self.caller_turns,
            "turns": self.turns,
            "transferred": self.transferred,
            "state": self.state,
            "latencies_ms": [round(x) for x in self.latencies_ms],
        }


async def _wait_idle(session: CallSession, timeout: float) -> None:
    """Wait until the agent waits for the caller, or has ended the call."""
    dialog = session.dialog
    waits = [asyncio.ensure_future(dialog.idle.wait()), asyncio.ensure_future(dialog.ended.wait())]
    done, pending = await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    if not done:
        logger.warning(f"[{session.call.call_sid}] agent did not go idle within {timeout}s")


async def replay_audio(
    audio: np.ndarray,
    rate: int,
    services: AgentServices,
    *,
    call_sid: str,
    today: date | None,
    turn_spans: list[tuple[float, float]] | None = None,
) -> ReplayResult:
    """Replay one caller track (float mono at ``rate``) through a fresh call session.

    ``turn_spans`` (seconds, e.g. from a recording's events file) replace the silence-gap split,
    so each answer is fed exactly where the agent heard it on the recorded call.
    """
    pcm_audio = resample(audio, rate, ASR_RATE)
    if turn_spans is not None:
        turns = [(int(s * ASR_RATE), int(e * ASR_RATE)) for s, e in turn_spans]
    else:
        turns = split_turns(pcm_audio, ASR_RATE)
    transport = ReplayTransport()
    control = ReplayControl()
    session = CallSession(
        transport,
        CallInfo(call_sid=call_sid, channel="replay", today=today),
        control,
        services,
        audio_out_sample_rate=ASR_RATE,
    )

    async def drive() -> None:
        await _wait_idle(session, RESPONSE_TIMEOUT_S)
        silence = float_to_pcm16(np.zeros(int(ASR_RATE * TRAILING_SILENCE_S), dtype=np.float32))
        for start, end in turns:
            if session.dialog.ended.is_set():
                break
            session.dialog.idle.clear()
            # A little of the audio around the turn, as a live call has: cut exactly at the first
            # voiced frame, a short word ("Yes.") gives the VAD too little onset to start on.
            lo, hi = max(0, start - TURN_MARGIN), min(len(pcm_audio), end + TURN_MARGIN)
            await transport.feed(float_to_pcm16(pcm_audio[lo:hi]) + silence)
            await _wait_idle(session, RESPONSE_TIMEOUT_S)
        if not session.dialog.ended.is_set():
            await session.worker.end(reason="caller track ended")

    driver = asyncio.create_task(drive())
    try:
        dialog = await session.run()
    finally:
        driver.cancel()
    return ReplayResult(
        call_sid=call_sid,
        outcome=dialog.outcome,
        turns=dialog.turns,
        transferred=control.transferred,
        caller_turns=len(turns),
        state=dialog.state.to_dict() if dialog.state is not None else None,
        latencies_ms=list(dialog.turn_latencies_ms),
    )


def recorded_turns(wav: Path) -> list[tuple[float, float]] | None:
    """Turn spans from ``<name>.events.jsonl`` beside a recorded call's WAV, if there is one."""
    from voice_agent.pipeline.recording import turns_from_events

    events = wav.with_suffix(".events.jsonl")
    if not events.is_file():
        return None
    lines = events.read_text().splitlines()
    return turns_from_events([json.loads(line) for line in lines if line.strip()])


def _print_turns(result: ReplayResult) -> None:
    for i, turn in enumerate(result.turns):
        event = turn["input"]
        heard = event.get("text") or event.get("key") or f"({event['type']})"
        print(f"[{i}] caller: {heard}")
        for text in turn["said"]:
            print(f"    agent:  {text}")
        for action in turn["actions"]:
            print(f"    action: {json.dumps(action, default=str)}")
    print(f"outcome: {result.outcome}")


def main(args: argparse.Namespace) -> int:
    from voice_agent.registry import ModelRegistry
    from voice_agent.services import build_backends, build_services
    from voice_agent.settings import Settings

    audio, rate = read_audio(args.wav, channel=args.channel)
    spans = recorded_turns(args.wav)
    call_sid = args.call_sid or "RP" + hashlib.sha1(args.wav.read_bytes()).hexdigest()[:16]
    today = date.fromisoformat(args.today) if args.today else None

    async def run() -> ReplayResult:
        with tempfile.TemporaryDirectory(prefix="voice-agent-replay-") as scratch:
            settings = Settings(data_dir=Path(scratch), sip_enabled=False)
            backends = build_backends(settings, today=today)
            try:
                models = ModelRegistry.load(settings)
                services = build_services(settings, models, backends, warm_all_prompts=False)
                return await replay_audio(
                    audio, rate, services, call_sid=call_sid, today=today, turn_spans=spans
                )
            finally:
                await backends.aclose()

    result = asyncio.run(run())
    if args.json:
        print(json.dumps(result.to_json(), indent=2, default=str))
    else:
        _print_turns(result)
    return 0
