"""Running an ASR path over bench samples: the decoding variants, the run, its timings."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.common import corpus_wer
from bench.speech_samples import SR, Sample
from voice_agent.speech.asr import (
    DOMAIN_HOTWORDS,
    DOMAIN_PROMPT,
    ORDER_NUMBER_PROMPT,
    AsrOptions,
    transcribe,
)
from voice_agent.speech.entities import SIX_DIGITS

#: Decoding options per variant, over :class:`AsrOptions`' defaults (a 20 s encoder window).
BIASES: dict[str, dict[str, Any]] = {
    "plain": {"initial_prompt": None},
    "prompt": {"initial_prompt": DOMAIN_PROMPT},
    "hotwords": {"initial_prompt": None, "hotwords": DOMAIN_HOTWORDS},
    "prompt_30s": {"initial_prompt": DOMAIN_PROMPT, "window_s": 30.0},
    # What the pipeline does on the turn that answers "what is your order number?".
    "order_prompt": {"initial_prompt": ORDER_NUMBER_PROMPT, "expect_code": SIX_DIGITS},
    "order_1pass": {"initial_prompt": ORDER_NUMBER_PROMPT},
    "order_30s": {
        "initial_prompt": ORDER_NUMBER_PROMPT,
        "expect_code": SIX_DIGITS,
        "window_s": 30.0,
    },
}


@dataclass
class RunResult:
    wer: float
    n: int
    hyps: list[str]
    seconds: list[float]
    audio_s: list[float]


def run_asr(
    model: Any, samples: list[Sample], opts: AsrOptions, nr: bool, second: Any = None
) -> RunResult:
    hyps, secs, durs = [], [], []
    for s in samples:
        audio = s.asr_input(nr)
        t0 = time.perf_counter()
        hyps.append(transcribe(model, audio, opts, second))
        secs.append(time.perf_counter() - t0)
        durs.append(len(audio) / SR)
    pairs = [(s.reference, h) for s, h in zip(samples, hyps, strict=True)]
    return RunResult(corpus_wer(pairs), len(samples), hyps, secs, durs)


def latency_summary(runs: list[RunResult]) -> dict[str, float]:
    secs = [x for r in runs for x in r.seconds]
    durs = [x for r in runs for x in r.audio_s]
    return {
        "utterances": len(secs),
        "median_s": statistics.median(secs),
        "p95_s": float(np.percentile(secs, 95)),
        "mean_audio_s": statistics.mean(durs),
        "rtf": sum(secs) / sum(durs),
    }
