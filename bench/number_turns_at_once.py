"""Order-number turns that end at once, decoded as the pipeline decodes them (``python -m
bench.number_turns_at_once``).

Four callers read an order number tiny.en is not sure of, and their turns end together: each
goes through :func:`voice_agent.speech.asr.transcribe` with tiny.en (the pipeline's workers and
threads) and base as the number check, with a call's options (``call.asr_options``), without
the websocket, VAD and speculation whose timing makes the live bench (``bench.latency
--order-reading ...``) vary by seconds from round to round. Reports the makespan (all four
transcripts) and each turn's time for every check window asked for, the windows interleaved run
by run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import numpy as np
from loguru import logger
from piper import PiperVoice

from bench.common import MODEL_CACHE, format_table, write_results
from voice_agent.audio import pcm16_to_float, resample, ulaw_decode
from voice_agent.pipeline.call import asr_options
from voice_agent.registry import load_piper_voice
from voice_agent.settings import Settings
from voice_agent.speech.asr import transcribe, warm_up
from voice_agent.speech.entities import SIX_DIGITS
from voice_agent.speech.models import load_whisper, whisper_model_path
from voice_agent.testing.voices import caller_ulaw

#: Readings tiny.en is not sure of (the first is the latency bench's unsure one); one is read
#: surely on the first decode at times, as on a real line.
READINGS = [
    "Eight double oh, oh four six.",
    "Eight double oh, oh four six.",
    "Oh two four, double six one.",
    "Seven three, five nine, oh two.",
]


def phone_audio(voice: PiperVoice, text: str) -> np.ndarray:
    """A caller's reading of ``text`` over the phone line, as the ASR gets it (16 kHz float)."""
    pcm = ulaw_decode(caller_ulaw(voice, text))
    return resample(pcm16_to_float(pcm), 8000, 16000).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=6, help="runs per check window")
    parser.add_argument(
        "--windows", default="20,10", help="check windows in seconds, comma-separated"
    )
    parser.add_argument("--name", default="number_turns_at_once")
    args = parser.parse_args(argv)
    logger.remove()
    settings = Settings()
    tiny = load_whisper(
        whisper_model_path("tiny.en", MODEL_CACHE),
        cpu_threads=settings.asr_cpu_threads,
        num_workers=settings.asr_workers,
    )
    base = load_whisper(whisper_model_path("base", MODEL_CACHE), cpu_threads=0)  # as the registry
    warm_up(tiny)
    warm_up(base)
    voice = load_piper_voice()
    audios = [phone_audio(voice, text) for text in READINGS]
    _, opts, check_opts = asr_options(settings, SIX_DIGITS, {"asr_number_check": "base"})
    windows = [float(w) for w in args.windows.split(",")]
    runs: dict[float, list[dict[str, Any]]] = {w: [] for w in windows}
    for run in range(args.runs):
        for window in windows if run % 2 == 0 else windows[::-1]:
            check = (base, replace(check_opts, window_s=window))

            def one(audio: np.ndarray, check: Any = check) -> tuple[float, bool, str]:
                asked: list[bool] = []
                started = time.perf_counter()
                text = transcribe(tiny, audio, opts, check, on_check=lambda: asked.append(True))
                return time.perf_counter() - started, bool(asked), text

            started = time.perf_counter()
            with ThreadPoolExecutor(len(audios)) as pool:
                turns = list(pool.map(one, audios))
            runs[window].append(
                {
                    "makespan_s": time.perf_counter() - started,
                    "turn_s": [t for t, _, _ in turns],
                    "checked": sum(c for _, c, _ in turns),
                    "texts": [text for _, _, text in turns],
                }
            )
    summary = {
        f"{w:g}": {
            "makespan_median_s": statistics.median(r["makespan_s"] for r in rs),
            "makespan_range_s": [
                min(r["makespan_s"] for r in rs),
                max(r["makespan_s"] for r in rs),
            ],
            "turn_median_s": [
                statistics.median(r["turn_s"][i] for r in rs) for i in range(len(audios))
            ],
            "checked_per_run": [r["checked"] for r in rs],
            "runs": rs,
        }
        for w, rs in runs.items()
    }
    print(
        format_table(
            ["check window s", "makespan p50 s", "range s", "checked per run"],
            [
                [
                    k,
                    v["makespan_median_s"],
                    "{:.2f}-{:.2f}".format(*v["makespan_range_s"]),
                    v["checked_per_run"],
                ]
                for k, v in summary.items()
            ],
        )
    )
    path = write_results(args.name, {"readings": READINGS, "results": summary})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
