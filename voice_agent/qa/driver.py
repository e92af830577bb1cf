"""Run one caller track through a fresh call session and return what the agent did.

This is :func:`voice_agent.replay.replay_audio` with two QA needs added: turns are cut with a
noise-floor-aware threshold (a noisy line has no digital silence between turns), and the final
dialog state (intent, slots) is returned along with the turns.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from loguru import logger

from voice_agent.audio import ASR_RATE, float_to_pcm16, resample
from voice_agent.pipeline.call import AgentServices, CallInfo, CallSession
from voice_agent.replay import (
    FRAME_S,
    RESPONSE_TIMEOUT_S,
    TRAILING_SILENCE_S,
    ReplayControl,
    ReplayTransport,
    split_turns,
)

NOISE_MARGIN_DB = 12.0  # a frame this far above the line's noise floor counts as speech


def noise_floor_db(audio: np.ndarray, rate: int) -> float:
    """The level (dBFS) of the quietest 10 % of 20 ms frames: the line's noise floor."""
    hop = int(rate * FRAME_S)
    if len(audio) < hop:
        return -120.0
    frames = audio[: len(audio) // hop * hop].reshape(-1, hop)
    level = 20 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) + 1e-9)
    return float(np.percentile(level, 10))


def caller_turns(audio: np.ndarray, rate: int) -> list[tuple[int, int]]:
    """Caller turns as sample ranges, robust to a steady background noise."""
    floor = max(-45.0, noise_floor_db(audio, rate) + NOISE_MARGIN_DB)
    return split_turns(audio, rate, floor_db=floor)


@dataclass
class CaseRun:
    outcome: str | None
    turns: list[dict[str, Any]]
    state: dict[str, Any] | None
    transferred: dict[str, Any] | None
    caller_turns: int
    latencies_ms: list[float] = field(default_factory=list)


async def _wait_idle(session: CallSession, timeout: float) -> bool:
    dialog = session.dialog
    waits = [asyncio.ensure_future(dialog.idle.wait()), asyncio.ensure_future(dialog.ended.wait())]
    done, pending = await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    return bool(done)


async def run_track(
    audio: np.ndarray,
    rate: int,
    services: AgentServices,
    *,
    call_sid: str,
    today: date | None,
    turn_spans: list[tuple[float, float]] | None = None,
) -> CaseRun:
    """Feed each caller turn once the agent waits for the caller; stop when the call ends.

    ``turn_spans`` (seconds, e.g. from a recording's events) replace the silence-gap split.
    """
    pcm_audio = resample(audio, rate, ASR_RATE)
    if turn_spans is not None:
        turns = [(int(s * ASR_RATE), int(e * ASR_RATE)) for s, e in turn_spans]
    else:
        turns = caller_turns(pcm_audio, ASR_RATE)
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
        silence = float_to_pcm16(np.zeros(int(ASR_RATE * TRAILING_SILENCE_S), dtype=np.float32))
        if not await _wait_idle(session, RESPONSE_TIMEOUT_S):
            logger.warning(f"[{call_sid}] no greeting within {RESPONSE_TIMEOUT_S}s")
        for start, end in turns:
            if session.dialog.ended.is_set():
                break
            session.dialog.idle.clear()
            await transport.feed(float_to_pcm16(pcm_audio[start:end]) + silence)
            if not await _wait_idle(session, RESPONSE_TIMEOUT_S):
                logger.warning(f"[{call_sid}] agent did not answer within {RESPONSE_TIMEOUT_S}s")
        if not session.dialog.ended.is_set():
            await session.worker.end(reason="caller track ended")

    driver = asyncio.create_task(drive())
    try:
        dialog = await session.run()
    finally:
        driver.cancel()
    state = dialog.state.to_dict() if dialog.state is not None else None
    return CaseRun(
        outcome=dialog.outcome,
        turns=dialog.turns,
        state=state,
        transferred=control.transferred,
        caller_turns=len(turns),
        latencies_ms=list(dialog.turn_latencies_ms),
    )
