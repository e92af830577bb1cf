"""ASR-path benchmark: WER, order-number accuracy, VAD quality, ASR latency.

Run ``python -m bench.asr_accuracy`` (``--quick`` for a smoke run). Writes
``bench/results/asr_accuracy.json`` and prints short tables. Everything is seeded.

- WER on ``<speech_dir>/en`` (real recordings) in four conditions: wideband, telephone band
  (8 kHz mu-law round trip), and telephone band with the real noise files mixed in before the
  phone line at 10 and 5 dB SNR. Each noisy utterance gets 1.5 s of the same noise before it,
  as a live call would (the noise filter needs it to learn the floor), cut off before ASR.
- Variants: model (tiny.en, base) x biasing (plain / domain initial_prompt / domain hotwords)
  x noise reduction (off / mild stationary gate); the full set for the first model given,
  plain and prompt for the other, to keep a run near 10 minutes.
- Order numbers: six-digit strings read in several styles ("oh", "double", pairs, in a carrier
  sentence) by Piper (joe at several length/noise scales) and espeak-ng if installed, telephone
  band, clean and 10 dB noisy; exact capture rate after digit normalisation.
- VAD: Silero (pipecat) vs WebRTC over synthetic calls (utterances separated by pauses) in
  telephone band, clean/10/5 dB noise, at 8 and 16 kHz: utterances found, mid-utterance cuts,
  false segments, onset and end-of-speech delay; and false triggers on noise-only audio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any

import numpy as np
from loguru import logger

from bench.asr_runs import BIASES, latency_summary, run_asr
from bench.common import MODEL_CACHE, format_table, write_results
from bench.domain_speech import SENTENCES
from bench.order_speech import (
    HELDOUT_SETS,
    Voice,
    bench_number_check,
    bench_voices,
    entity_samples,
    score_entities,
)
from bench.speech_samples import (
    NOISY,
    SEED,
    SR,
    Sample,
    Utt,
    active_power,
    load_manifest,
    make_sample,
    noise_clip,
)
from bench.vad_quality import bench_vad
from voice_agent.settings import Settings
from voice_agent.speech.asr import (
    AsrOptions,
    transcribe,
)
from voice_agent.speech.models import load_whisper, whisper_model_path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

#: Table columns: variant name -> (bias, noise reduction).
VARIANTS: dict[str, tuple[str, bool]] = {
    "plain": ("plain", False),
    "prompt": ("prompt", False),
    "hotwords": ("hotwords", False),
    "prompt+nr": ("prompt", True),
    "prompt@30s": ("prompt_30s", False),
    "order_prompt": ("order_prompt", False),
    "order/1pass": ("order_1pass", False),
    "order@30s": ("order_30s", False),
}


# --- main -----------------------------------------------------------------------------------
def asr_variants(condition: str, entity: bool, full: bool) -> list[str]:
    """Variants (keys of :data:`VARIANTS`) run in ``condition``; kept small to fit ~10 min.

    ``full`` is for the candidate default model; the other gets plain and prompt only.
    Hotwords are measured on the speech set's phone condition only (they lost everywhere in
    earlier full runs), noise reduction only where there is noise or on the phone line.
    """
    names = ["plain", "prompt"]
    if not full or condition == "wideband":
        return names + (["order_prompt"] if entity else [])
    if condition == "phone" and not entity:
        names.append("hotwords")
    if condition != "phone" or not entity:
        names.append("prompt+nr")
    if entity:
        # The dialog knows when it asked for the order number: its prompt and digits-only pass.
        names += ["order_prompt", "order/1pass", "order@30s"]
    else:
        names.append("prompt@30s")
    return names


def domain_samples(
    voices: list[Voice], noises: list[np.ndarray], quick: bool
) -> dict[str, list[Sample]]:
    """:data:`bench.domain_speech.SENTENCES` in every voice, phone band, clean and noisy."""
    rng = np.random.default_rng(SEED + 3)
    sentences = SENTENCES[::4] if quick else SENTENCES
    pad = np.zeros(int(0.2 * SR), np.float32)
    by_cond: dict[str, list[Sample]] = {"phone": [], **{c: [] for c in NOISY}}
    for v_index, (voice, synth) in enumerate(voices):
        for i, text in enumerate(sentences):
            utt = Utt(f"{voice}/{i}", text, np.concatenate([pad, synth(text), pad]))
            for cond, out in by_cond.items():
                out.append(make_sample(utt, cond, noises, rng, i + v_index))
    return by_cond


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--models", default="tiny.en,base")
    parser.add_argument("--threads", type=int, default=2, help="ASR CPU threads")
    parser.add_argument("--skip-vad", action="store_true")
    args = parser.parse_args(argv)
    logger.remove()  # the ASR's per-turn debug lines would bury the tables
    logger.add(sys.stderr, level="INFO")

    speech_dir = Settings().speech_dir
    if not (speech_dir / "manifest.tsv").is_file():
        print(f"no speech data at {speech_dir}; nothing to do")
        return 1
    started = time.perf_counter()
    utts, noises = load_manifest(speech_dir)
    if args.quick:
        utts = utts[::3]
    conditions = ["wideband", "phone", *NOISY]
    rng = np.random.default_rng(SEED)
    samples = {
        c: [make_sample(u, c, noises, rng, i) for i, u in enumerate(utts)] for c in conditions
    }
    voices = bench_voices(args.quick)
    entities = entity_samples(voices, noises, args.quick)
    domain = domain_samples(voices, noises, args.quick)

    wer: dict[str, Any] = {}
    wer_domain: dict[str, Any] = {}
    ent: dict[str, Any] = {}
    latency: dict[str, Any] = {}
    hyps: dict[str, Any] = {}
    noise_asr: dict[str, Any] = {}
    # Noise-only turns (what a VAD false trigger hands to ASR): 2 s of each noise file at the
    # 10 dB and 5 dB levels, telephone band. Text from these is a hallucination.
    speech_power = statistics.mean(active_power(u.audio) for u in utts)
    noise_clips = []
    for snr in NOISY.values():
        noise_clips += [noise_clip(noise, 2, speech_power, snr, rng) for noise in noises]
    for model_name in args.models.split(","):
        t_load = time.perf_counter()
        model = load_whisper(whisper_model_path(model_name, MODEL_CACHE), cpu_threads=args.threads)  # type: ignore[arg-type]
        load_s = time.perf_counter() - t_load
        transcribe(model, samples["phone"][0].asr_input(False))  # warm-up
        full = model_name == args.models.split(",")[0]
        wer[model_name], ent[model_name], hyps[model_name] = {}, {}, {}
        for cond in conditions:
            wer[model_name][cond] = {}
            for variant in asr_variants(cond, entity=False, full=full):
                bias, nr = VARIANTS[variant]
                opts = AsrOptions(**BIASES[bias])  # type: ignore[arg-type]
                run = run_asr(model, samples[cond], opts, nr)
                wer[model_name][cond][variant] = {"wer": run.wer, "n": run.n}
                if variant == "prompt":
                    hyps[model_name][cond] = dict(
                        zip([s.name for s in samples[cond]], run.hyps, strict=True)
                    )
                if cond == "phone" and variant == "prompt":
                    phone_run = run
                if cond == "phone" and variant == "prompt@30s":
                    phone_run_30s = run
        wer_domain[model_name] = {}
        for cond, dom_samples in domain.items():
            wer_domain[model_name][cond] = {}
            for variant in ["prompt", "prompt@30s"] if full else ["prompt"]:
                opts = AsrOptions(**BIASES[VARIANTS[variant][0]])
                run = run_asr(model, dom_samples, opts, False)
                wer_domain[model_name][cond][variant] = {"wer": run.wer, "n": run.n}
        entity_runs = []
        for cond, ent_samples in entities.items():
            ent[model_name][cond] = {}
            for variant in asr_variants(cond, entity=True, full=full):
                bias, nr = VARIANTS[variant]
                run = run_asr(model, ent_samples, AsrOptions(**BIASES[bias]), nr)  # type: ignore[arg-type]
                ent[model_name][cond][variant] = score_entities(ent_samples, run)
                if variant == "order_prompt":
                    entity_runs.append(run)
        noise_asr[model_name] = {}
        for bias in ("plain", "prompt"):
            opts = AsrOptions(**BIASES[bias])  # type: ignore[arg-type]
            noise_texts = [transcribe(model, clip, opts) for clip in noise_clips]
            noise_asr[model_name][bias] = {
                "clips": len(noise_clips),
                "nonempty": sum(1 for t in noise_texts if t),
                "texts": [t for t in noise_texts if t],
            }
        latency[model_name] = {
            "load_s": load_s,
            "speech_set_phone": latency_summary([phone_run]),
            **({"speech_set_phone_30s": latency_summary([phone_run_30s])} if full else {}),
            "order_numbers": latency_summary(entity_runs),
        }
        del model
        print(f"[{model_name}] done at {time.perf_counter() - started:.0f} s", flush=True)

    names = args.models.split(",")
    if names[0] == "tiny.en" and "base" in names:
        ent["tiny.en+check"] = bench_number_check(
            voices, noises, entities, args.quick, args.threads
        )
        print(f"[number check] done at {time.perf_counter() - started:.0f} s", flush=True)
    vad = {} if args.skip_vad else bench_vad(utts, noises, args.quick)
    payload = {
        "config": {
            "quick": args.quick,
            "asr_threads": args.threads,
            "seed": SEED,
            "speech_utterances": len(utts),
            "order_number_utterances": len(entities["phone"]),
            "order_number_heldout_sets": HELDOUT_SETS,
            "domain_utterances": len(domain["phone"]),
            "tts_voices": [v for v, _ in voices],
            "asr_options": vars(AsrOptions()),
            "noise_reduction": "StationaryGate(prop_decrease=0.6) at 16 kHz",
            "vad_params": {
                "start_secs": Settings().vad_start_secs,
                "stop_secs": Settings().vad_stop_secs,
            },
            "load_average": os.getloadavg(),
        },
        # What the pipeline uses, decided from these numbers (see the issue-5 report).
        "defaults": {
            "asr_model": "tiny.en",
            "asr_options": "voice_agent.speech.asr.default_asr_options(model)",
            "encoder_window_s": 20.0,
            "number_check_window_s": Settings().number_check_window_s,
            "order_turn": "ORDER_NUMBER_PROMPT + digits-only second pass (expect_code=SIX_DIGITS); "
            "base asked when the two passes disagree on the number (asr_number_check_model), "
            "then tiny.en on the turn slowed to 0.9 if base and tiny.en read different "
            "numbers or neither reads one; the number most of the readings hold is kept",
            "domain_prompt": {"tiny.en": True, "base": False},
            "hotwords": False,
            "noise_reduction": False,
            "vad": "silero",
        },
        "wer": wer,
        "wer_domain_synthetic": wer_domain,
        "order_numbers": ent,
        "latency": latency,
        "noise_only_asr": noise_asr,
        "vad": vad,
        "hypotheses": hyps,
        "elapsed_s": time.perf_counter() - started,
    }
    path = write_results("asr_accuracy", payload)
    print_tables(payload)
    print(f"\nwrote {path} in {payload['elapsed_s']:.0f} s")
    return 0


def print_tables(p: dict[str, Any]) -> None:
    rows = []
    for model, conds in p["wer"].items():
        for cond, variants in conds.items():
            rows.append([model, cond, *(variants.get(v, {}).get("wer") for v in VARIANTS)])
    print("\nWER (corpus, normalised)")
    print(format_table(["model", "condition", *VARIANTS], rows))
    rows = [
        [model, cond, *(v.get(name, {}).get("wer") for name in ("prompt", "prompt@30s"))]
        for model, conds in p["wer_domain_synthetic"].items()
        for cond, v in conds.items()
    ]
    print("\nWER on synthesized hotline sentences (bench.domain_speech)")
    print(format_table(["model", "condition", "prompt", "prompt@30s"], rows))
    rows = []
    checks: list[list[Any]] = []
    names = ("order+check", "heldout order_prompt", "heldout order+check", "pooled order+check")
    for model, conds in p["order_numbers"].items():
        for cond, variants in conds.items():
            if model.endswith("+check"):
                checks.append([model, cond, *(variants[v]["exact"] for v in names)])
            else:
                rows.append([model, cond, *(variants.get(v, {}).get("exact") for v in VARIANTS)])
    print("\nOrder numbers captured exactly")
    print(format_table(["model", "condition", *VARIANTS], rows))
    if checks:
        print(format_table(["model", "condition", *names], checks))
        for cond, variants in p["order_numbers"].get("tiny.en+check", {}).items():
            pooled = variants["pooled order+check"]
            by_voice = ", ".join(f"{v} {x:.3f}" for v, x in pooled["by_voice"].items())
            print(f"pooled order+check, {cond}, n={pooled['n']}, by voice: {by_voice}")
            if "on_file" in pooled:
                f = pooled["on_file"]
                print(
                    f"  with the caller's orders on file: {f['found']} found + {f['offered']}"
                    f" offered = reached {f['reached']:.3f}; {f['wrong_offer']} wrong offers;"
                    f" a number not on file offered one {f['made_up_offered']:.2%} of the time"
                )
    rows = [
        [m, v["load_s"], v["order_numbers"]["median_s"], v["order_numbers"]["p95_s"],
         v["speech_set_phone"]["median_s"], v["speech_set_phone"]["rtf"]]
        for m, v in p["latency"].items()
    ]  # fmt: skip
    print("\nASR on noise-only turns (non-empty texts): " + ", ".join(
        f"{m}/{b} {v['nonempty']}/{v['clips']}"
        for m, by_bias in p["noise_only_asr"].items() for b, v in by_bias.items()
    ))  # fmt: skip
    print("\nASR latency (s)")
    print(format_table(["model", "load", "order# p50", "order# p95", "speech p50", "RTF"], rows))
    if p["vad"]:
        rows = []
        for key, r in p["vad"]["speech"].items():
            cond, rate, name = key.split("/")
            noise = (
                p["vad"]["noise_only"]
                .get(f"{cond.removeprefix('phone_')}/{rate}/{name}", {})
                .get("triggers_per_min")
            )
            rows.append([cond, rate, name, f"{r['detected']}/{r['utterances']}", r["cuts"],
                         r["false_segments"], r["onset_delay_s_median"],
                         r["end_delay_s_median"], noise])  # fmt: skip
        print("\nVAD (synthetic calls; noise-only false triggers per minute)")
        print(format_table(
            ["condition", "rate", "vad", "found", "cuts", "false", "onset", "end", "noise/min"],
            rows,
        ))  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
