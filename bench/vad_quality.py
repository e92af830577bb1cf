"""VAD quality for ``bench.asr_accuracy``: Silero (pipecat) against WebRTC on calls of real
utterances separated by pauses, on the phone line, clean and noisy, at 8 and 16 kHz: utterances
found, mid-utterance cuts, false segments, onset and end-of-speech delay; and false triggers on
noise alone."""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Callable
from typing import Any

import numpy as np
from loguru import logger

from bench.speech_samples import (
    NOISY,
    SEED,
    SR,
    Utt,
    active_power,
    noise_at,
    noise_clip,
    on_the_phone,
)
from voice_agent.audio import float_to_pcm16, resample
from voice_agent.settings import Settings


def speech_spans(audio: np.ndarray, min_pause_s: float) -> list[tuple[float, float]]:
    """Reference speech of a clean utterance: 10 ms frames within 25 dB of the loud frames
    (95th percentile), joined across pauses shorter than ``min_pause_s`` (a VAD with that
    hangover should not end the turn there). Seconds from the utterance start."""
    frames = audio[: len(audio) // 160 * 160].reshape(-1, 160)
    power = (frames**2).mean(axis=1) + 1e-12
    active = np.flatnonzero(power > np.percentile(power, 95) * 10 ** (-2.5))
    spans: list[tuple[float, float]] = []
    for idx in active:
        t = idx * 0.01
        if spans and t - spans[-1][1] < min_pause_s:
            spans[-1] = (spans[-1][0], t + 0.01)
        else:
            spans.append((t, t + 0.01))
    return spans


def build_call(
    utts: list[Utt], rng: np.random.Generator, min_pause_s: float
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Utterances separated by 0.8-2.5 s pauses; reference speech spans in seconds."""
    parts = [np.zeros(SR, np.float32)]
    spans = []
    t = 1.0
    for utt in utts:
        spans += [(t + a, t + b) for a, b in speech_spans(utt.audio, min_pause_s)]
        parts.append(utt.audio)
        t += len(utt.audio) / SR
        gap = float(rng.uniform(0.8, 2.5))
        parts.append(np.zeros(int(gap * SR), np.float32))
        t += len(parts[-1]) / SR
    return np.concatenate(parts), spans


def vad_segments(analyzer: Any, audio: np.ndarray, rate: int) -> list[tuple[float, float]]:
    """Drive a pipecat VAD analyzer with 20 ms chunks; (start, end) of each SPEAKING period."""
    from pipecat.audio.vad.vad_analyzer import VADState

    analyzer.set_sample_rate(rate)
    pcm = float_to_pcm16(audio)
    chunk = rate // 50 * 2
    segments: list[tuple[float, float]] = []
    start: float | None = None

    async def drive() -> None:
        nonlocal start
        for i in range(0, len(pcm) - chunk + 1, chunk):
            state = await analyzer.analyze_audio(pcm[i : i + chunk])
            t = (i + chunk) / 2 / rate
            if state == VADState.SPEAKING and start is None:
                start = t
            elif state == VADState.QUIET and start is not None:
                segments.append((start, t))
                start = None
        if start is not None:
            segments.append((start, len(pcm) / 2 / rate))

    asyncio.run(drive())
    return segments


def score_vad(
    found: list[tuple[float, float]], spans: list[tuple[float, float]], tol: float = 0.3
) -> dict[str, Any]:
    def overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
        return a[0] < b[1] + tol and b[0] < a[1] + tol

    detected = cuts = 0
    onset, offset = [], []
    for span in spans:
        hits = [f for f in found if overlaps(f, span)]
        if hits:
            detected += 1
            onset.append(hits[0][0] - span[0])
            offset.append(hits[-1][1] - span[1])
            cuts += len(hits) - 1
    false = sum(1 for f in found if not any(overlaps(f, s) for s in spans))
    return {
        "utterances": len(spans),
        "detected": detected,
        "cuts": cuts,
        "false_segments": false,
        "onset_delay_s_median": statistics.median(onset) if onset else None,
        "end_delay_s_median": statistics.median(offset) if offset else None,
    }


def vad_factories(
    stop_secs: float, start_secs: float, min_volume: float
) -> dict[str, Callable[[], Any]]:
    from pipecat.audio.vad.silero import SileroVADAnalyzer
    from pipecat.audio.vad.vad_analyzer import VADParams

    from voice_agent.speech.webrtc_vad import WebRTCVADAnalyzer

    def params() -> VADParams:
        return VADParams(stop_secs=stop_secs, start_secs=start_secs, min_volume=min_volume)

    return {
        "silero": lambda: SileroVADAnalyzer(params=params()),
        "webrtc_m2": lambda: WebRTCVADAnalyzer(params=params(), mode=2),
        "webrtc_m3": lambda: WebRTCVADAnalyzer(params=params(), mode=3),
    }


def bench_vad(utts: list[Utt], noises: list[np.ndarray], quick: bool) -> dict[str, Any]:
    logger.remove()
    settings = Settings()
    factories = vad_factories(
        settings.vad_stop_secs, settings.vad_start_secs, settings.vad_min_volume
    )
    rng = np.random.default_rng(SEED + 1)
    calls = [
        build_call([utts[i] for i in rng.permutation(len(utts))], rng, settings.vad_stop_secs)
        for _ in range(1 if quick else 2)
    ]
    speech_power = statistics.mean(active_power(u.audio) for u in utts)
    out: dict[str, Any] = {"speech": {}, "noise_only": {}}
    for cond in ("phone", *NOISY):
        mixed = []
        for audio, spans in calls:
            if cond in NOISY:
                noise = noises[int(rng.integers(len(noises)))]
                audio = audio + noise_at(noise, len(audio), speech_power, NOISY[cond], rng)
            mixed.append((on_the_phone(audio), spans))
        for rate in (8000, 16000):
            for name, make in factories.items():
                totals: dict[str, Any] = {}
                for audio, spans in mixed:
                    found = vad_segments(make(), resample(audio, SR, rate), rate)
                    for k, v in score_vad(found, spans).items():
                        totals.setdefault(k, []).append(v)
                out["speech"][f"{cond}/{rate}/{name}"] = _merge(totals)
    # Noise only, at the level the noise has in the 10 and 5 dB conditions: 20 s per file.
    for snr in NOISY.values():
        for rate in (8000, 16000):
            for name, make in factories.items():
                triggers = 0
                seconds = 0.0
                for noise in noises:
                    clip = noise_clip(noise, 20, speech_power, snr, rng)
                    triggers += len(vad_segments(make(), resample(clip, SR, rate), rate))
                    seconds += 20.0
                out["noise_only"][f"{int(snr)}db/{rate}/{name}"] = {
                    "triggers": triggers,
                    "minutes": seconds / 60,
                    "triggers_per_min": triggers / (seconds / 60),
                }
    return out


def _merge(totals: dict[str, list[Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for k, vs in totals.items():
        if k.endswith("_median"):
            vals = [v for v in vs if v is not None]
            merged[k] = statistics.median(vals) if vals else None
        else:
            merged[k] = sum(vs)
    return merged
