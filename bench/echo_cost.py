"""What the echo canceller costs a call (``python -m bench.echo_cost``): CPU per 20 ms frame.

A line of real speech (``<speech_dir>/en``): the agent talks for 3 s and is quiet for 4 s while
the caller answers for 2 s, five times over, its echo 15 dB down and 120 ms late. The line is
digitally silent where neither talks, as the bench callers' lines are. Three ways through it,
each on a new canceller:

- ``canceller``: :class:`voice_agent.speech.echo.CallerEchoCanceller`, as the pipeline runs it.
- ``aec3 as is``: AEC3 alone, handed the line and the agent's audio as they are.
- ``aec3 floored``: AEC3 alone as the canceller runs it (``echo.Aec3``): exact silence handed
  as +-1 LSB of noise.

Per-frame wall time on one thread, by what the line holds then (the agent talking, or not).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pywebrtc_audio import EchoCanceller

from bench.common import report
from voice_agent.audio import read_audio, resample
from voice_agent.settings import Settings
from voice_agent.speech import echo

FRAME = echo.RATE // 50
AGENT_S, QUIET_S, CALLER_S, ROUNDS = 3.0, 4.0, 2.0, 5


def speech(path: Path, seconds: float) -> np.ndarray:
    audio = resample(*read_audio(path), echo.RATE)
    audio = np.resize(audio, int(seconds * echo.RATE))
    return (audio / max(1e-6, float(np.abs(audio).max())) * 12000).astype(np.int16)


def line() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the agent's audio, the line's audio, whether the agent talks) per sample."""
    folder = Settings().speech_dir / "en"
    agent_turn = speech(folder / "librivox-0870.wav", AGENT_S)
    caller_turn = speech(folder / "librivox-0880.wav", CALLER_S)
    rate, n = echo.RATE, int((AGENT_S + QUIET_S) * echo.RATE)
    agent, caller, talks = np.zeros(n, np.int16), np.zeros(n, np.int16), np.zeros(n, bool)
    agent[: len(agent_turn)] = agent_turn
    talks[: len(agent_turn)] = True
    start = int((AGENT_S + 0.5) * rate)
    caller[start : start + len(caller_turn)] = caller_turn
    agent, caller, talks = (np.tile(x, ROUNDS) for x in (agent, caller, talks))
    delay = int(0.12 * rate)
    heard = caller.astype(np.float64)
    heard[delay:] += agent[:-delay] * 10 ** (-15 / 20)
    return agent, np.clip(heard, -32768, 32767).astype(np.int16), talks


def per_frame(
    step: Callable[[np.ndarray, np.ndarray], object], agent: np.ndarray, heard: np.ndarray
) -> list[float]:
    times = []
    for i in range(0, len(heard) - FRAME + 1, FRAME):
        start = time.perf_counter()
        step(heard[i : i + FRAME], agent[i : i + FRAME])
        times.append(time.perf_counter() - start)
    return times


def canceller_step() -> Callable[[np.ndarray, np.ndarray], object]:
    reference = echo.EchoReference()
    canceller = echo.CallerEchoCanceller(reference)
    canceller.warm_up()

    def step(near: np.ndarray, far: np.ndarray) -> object:
        reference.played(far.tobytes(), echo.RATE)
        return canceller.process(near.tobytes())

    return step


def aec3_step(floored: bool) -> Callable[[np.ndarray, np.ndarray], object]:
    return echo.Aec3().process if floored else EchoCanceller(sample_rate=echo.RATE).process


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", default="echo_cost", help="results file name")
    args = parser.parse_args()
    agent, heard, talks = line()
    talking = talks[::FRAME][: len(heard) // FRAME]
    ways = {
        "canceller": canceller_step,
        "aec3 as is": lambda: aec3_step(False),
        "aec3 floored": lambda: aec3_step(True),
    }
    results = {}
    for way, make in ways.items():
        us = np.array(per_frame(make(), agent, heard)) * 1e6
        results[way] = {
            "agent_talking_median_us": statistics.median(us[talking]),
            "agent_quiet_median_us": statistics.median(us[~talking]),
            "mean_us": float(us.mean()),
            "cpu_ms_per_call_second": float(us.mean()) * 50 / 1000,
        }
    rows = [
        [
            way,
            r["agent_talking_median_us"],
            r["agent_quiet_median_us"],
            r["mean_us"],
            r["cpu_ms_per_call_second"],
        ]
        for way, r in results.items()
    ]
    headers = ["way", "talking p50 us", "quiet p50 us", "mean us", "ms per call-second"]
    return report(args.name, {"frames": len(talking), "results": results}, headers, rows)


if __name__ == "__main__":
    raise SystemExit(main())
