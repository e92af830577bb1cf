"""One-word answers the turn VAD hears, and turns noise alone starts (``python -m
bench.short_answers``).

A caller's turn starts once the VAD has heard ``vad_start_secs`` (0.2 s) of speech: Silero's
confidence at least 0.7 *and* the volume at least ``min_volume``. Pipecat's volume is the
loudness of the last 0.4 s, smoothed, so it builds up while a word is said; a one-word "Yes." can
be over before it reaches pipecat's 0.6, and then the agent hears nothing and asks "Are you
still there?". This bench drives the agent's turn VAD (:func:`make_vad_analyzer` on the shared
Silero session) with :data:`WORDS` in every bench voice, telephone band, at three levels (as
rendered, -6 and -12 dB) and six onsets 14 ms apart, and counts the answers that start a turn.
Then noise alone (the ``../shared/speech/noise`` files, 20 s each, at the level they have in
``bench.asr_accuracy``'s 10 and 5 dB conditions) and the turns it starts. Each for the values
of ``min_volume`` in :data:`MIN_VOLUMES`; the agent's is ``Settings.vad_min_volume``.
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

import numpy as np
from loguru import logger

from bench.common import report
from bench.order_speech import bench_voices
from bench.speech_samples import (
    NOISY,
    SEED,
    SR,
    active_power,
    load_manifest,
    noise_clip,
    on_the_phone,
)
from bench.vad_quality import vad_segments
from voice_agent.settings import Settings
from voice_agent.speech.silero import load_silero_session
from voice_agent.speech.vad import make_vad_analyzer

WORDS = ["Yes.", "No.", "Yep.", "Nope.", "Yeah.", "Okay.", "Sure.", "Right.", "Correct.", "Two."]
LEVELS_DB = (0.0, -6.0, -12.0)
ONSETS = 6
MIN_VOLUMES = (0.6, 0.5, 0.4, 0.3, 0.2, 0.0)


def on_the_line(audio: np.ndarray, lead_s: float, level_db: float) -> np.ndarray:
    """``audio`` after ``lead_s`` of silence and before 1 s of it, telephone band, at
    ``level_db`` from its rendering."""
    pad = np.zeros(int(SR), np.float32)
    x = on_the_phone(np.concatenate([pad[: int(lead_s * SR)], audio, pad]).astype(np.float32))
    return (x * 10 ** (level_db / 20)).astype(np.float32)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="two voices, two onsets")
    args = parser.parse_args()
    logger.remove()
    settings = Settings()
    session = load_silero_session()
    voices = bench_voices(args.quick)
    onsets = 2 if args.quick else ONSETS

    def starts(min_volume: float, audio: np.ndarray) -> int:
        vad = make_vad_analyzer(
            start_secs=settings.vad_start_secs,
            stop_secs=settings.vad_stop_secs,
            min_volume=min_volume,
            silero_session=session,
        )
        return len(vad_segments(vad, audio, SR))

    rendered = [(name, synth(word)) for name, synth in voices for word in WORDS]
    heard: dict[float, dict[str, list[int]]] = {v: {} for v in MIN_VOLUMES}
    for name, audio in rendered:
        for level in LEVELS_DB:
            for k in range(onsets):
                line = on_the_line(audio, 1.0 + 0.014 * k, level)
                for v in MIN_VOLUMES:
                    tally = heard[v].setdefault(f"{name} {level:+.0f} dB", [0, 0])
                    tally[0] += starts(v, line) > 0
                    tally[1] += 1
    speech_power = statistics.mean(active_power(audio) for _, audio in rendered)
    rng = np.random.default_rng(SEED + 7)
    noises = load_manifest(settings.speech_dir)[1]
    noise_turns: dict[float, dict[str, int]] = {v: {} for v in MIN_VOLUMES}
    for cond, snr in NOISY.items():
        clips = [noise_clip(noise, 20, speech_power, snr, rng) for noise in noises]
        for v in MIN_VOLUMES:
            noise_turns[v][cond] = sum(starts(v, clip) for clip in clips)
    minutes = 20 * len(noises) / 60
    result: dict[str, Any] = {
        "words": WORDS,
        "voices": [name for name, _ in voices],
        "levels_db": list(LEVELS_DB),
        "onsets": onsets,
        "setting": settings.vad_min_volume,
        "noise_minutes_per_condition": minutes,
        "min_volume": {
            str(v): {
                "heard": sum(h for h, _ in heard[v].values()),
                "of": sum(n for _, n in heard[v].values()),
                "by_voice_and_level": {k: f"{h} / {n}" for k, (h, n) in heard[v].items()},
                "noise_only_turns": noise_turns[v],
            }
            for v in MIN_VOLUMES
        },
    }
    rows = []
    for v in MIN_VOLUMES:
        r = result["min_volume"][str(v)]
        by_level = [
            sum(h for k, (h, _) in heard[v].items() if k.endswith(f"{level:+.0f} dB"))
            for level in LEVELS_DB
        ]
        mark = " (agent)" if v == settings.vad_min_volume else ""
        rows.append([f"{v}{mark}", f"{r['heard']} / {r['of']}", *by_level,
                     *noise_turns[v].values()])  # fmt: skip
    headers = ["min_volume", "answers heard", *(f"{lv:+.0f} dB" for lv in LEVELS_DB)]
    headers += [f"noise turns {c} ({minutes:.0f} min)" for c in NOISY]
    return report("short_answers", result, headers, rows)


if __name__ == "__main__":
    raise SystemExit(main())
