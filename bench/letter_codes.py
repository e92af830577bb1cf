"""Order numbers with letters over the phone line: how many are captured exactly (``python -m
bench.letter_codes``).

Many retailers' order numbers hold letters. The codes here are two letters and six digits
(``^[A-Z]{2}[0-9]{6}$``; no I or O, which such codes leave out beside 1 and 0). Callers say the
letters in three ways, each a third of the readings:

* on their own, "R, T, four eight one, five two six";
* with a word, "R as in Robert, T as in Tom, ...";
* in the NATO alphabet, "Romeo Tango, ...".

The digits follow in ``bench.asr_accuracy``'s reading styles ("oh", "double", pairs). The same
four voices (Piper's joe at three paces and espeak-ng) read them; the telephone band, clean
and with recorded noise at 10 dB. Each turn is read as the pipeline reads the answer to "what
is your order number?" when the dialog's pattern admits letters: tiny.en primed with letters
(``ORDER_CODE_PROMPT``; ``--digits-prompt`` for the digits-only one) and the
digits-and-letters decode and, when it is not sure, base's check; the code is what the
dialog's parser (:func:`voice_agent.dialog.codes.find_code`) finds in the text.

A code heard wrong can still reach the caller's order: when the OMS has no order under it, the
dialog looks up its sound-alikes on a phone line (:func:`voice_agent.dialog.lookup.sound_alikes`)
and offers the first the OMS has ("Did you mean Z as in Zulu, ...?"). The bench counts those
offers against an OMS of a million other orders of the same pattern (``--oms-orders``): the
caller's code offered, or another order's offered first (a "no" from the caller, then the
question again).

``on_file``: the same turns played through the dialog with the caller's orders on file (their
code and two more), as :mod:`bench.on_file` does for six-digit numbers: a code heard a
character or two from one of them is offered back before it is looked up.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from loguru import logger

from bench.common import report
from bench.on_file import on_file_reach
from bench.order_speech import STYLES, Voice, bench_voices, order_bench_inputs, speak
from bench.speech_samples import SEED, SR, Sample, Utt, make_sample
from voice_agent.dialog.codes import find_code
from voice_agent.dialog.engine import DialogEngine
from voice_agent.dialog.lookup import sound_alikes
from voice_agent.dialog.spec import load_dialog
from voice_agent.pipeline.call import asr_options
from voice_agent.speech.asr import ORDER_NUMBER_PROMPT, transcribe
from voice_agent.testing.dialogs import LETTER_PATTERN, letter_dialog

PATTERN = LETTER_PATTERN
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
LETTER_STYLES = ("alone", "as_in", "nato")
#: The words callers spell letters with ("B as in boy"): the common ones, not a standard.
_AS_IN_WORDS = (
    "apple boy cat dog edward frank george harry john king lucy mary nancy peter queen robert "
    "sam tom uncle victor william x-ray yellow zebra"
)
_NATO_WORDS = (
    "Alfa Bravo Charlie Delta Echo Foxtrot Golf Hotel Juliett Kilo Lima Mike November Papa "
    "Quebec Romeo Sierra Tango Uniform Victor Whiskey X-ray Yankee Zulu"
)
AS_IN = dict(zip(LETTERS, _AS_IN_WORDS.split(), strict=True))
NATO = dict(zip(LETTERS, _NATO_WORDS.split(), strict=True))


def letter_codes(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` codes of two letters and six digits."""
    return [
        "".join(rng.choice(list(LETTERS), 2)) + "".join(map(str, rng.integers(0, 10, 6)))
        for _ in range(n)
    ]


def say(code: str, letter_style: str, digit_style: str) -> str:
    """How a caller reads ``code`` aloud, as TTS input text."""
    letters, digits = code[:2], code[2:]
    if letter_style == "alone":
        head = ", ".join(letters)
    elif letter_style == "as_in":
        head = ", ".join(f"{c} as in {AS_IN[c]}" for c in letters)
    else:
        head = " ".join(NATO[c] for c in letters)
    tail = speak(digits, digit_style).removeprefix("Yes, my order number is ")
    return f"{head}, {tail[0].lower()}{tail[1:]}"


def oms_codes(n: int, seed: int) -> set[str]:
    """The order numbers of ``n`` other orders in the retailer's OMS."""
    rng = np.random.default_rng(seed)
    letters = np.array(list(LETTERS))[rng.integers(0, len(LETTERS), (n, 2))]
    digits = rng.integers(0, 10, (n, 6)).astype(str)
    return {"".join(row) for row in np.concatenate([letters, digits], axis=1)}


def oms_answer(heard: str | None, code: str, others: set[str]) -> str:
    """What the dialog does with the code ``heard`` for the caller's ``code``: ``found``, or
    ``offered`` (the caller's code, as a sound-alike), ``wrong`` (another order, found or
    offered), ``none``.
    """
    if heard is None:
        return "none"
    if heard == code:
        return "found"
    if heard in others:
        return "wrong"
    first = next((c for c in sound_alikes(heard, PATTERN) if c == code or c in others), None)
    return "none" if first is None else "offered" if first == code else "wrong"


def made_up_offered(others: set[str], n: int, seed: int) -> float:
    """The share of ``n`` random codes not in the OMS that get a sound-alike offered: how much
    likelier a made-up number lands on somebody's order."""
    made_up = [c for c in letter_codes(n, np.random.default_rng(seed)) if c not in others]
    offered = sum(any(a in others for a in sound_alikes(c, PATTERN)) for c in made_up)
    return round(offered / len(made_up), 4)


def samples(
    voices: list[Voice], noises: list[np.ndarray], per_voice: int, seed: int
) -> dict[str, list[Sample]]:
    """Every voice reads ``per_voice`` codes, in turn in each letter style; clean and 10 dB."""
    rng = np.random.default_rng(seed)
    codes = letter_codes(per_voice, rng)
    pad = np.zeros(int(0.2 * SR), np.float32)
    by_cond: dict[str, list[Sample]] = {"phone": [], "phone_10db": []}
    for v_index, (voice, synth) in enumerate(voices):
        for i, code in enumerate(codes):
            letter_style = LETTER_STYLES[(i + v_index) % len(LETTER_STYLES)]
            digit_style = STYLES[(i // len(LETTER_STYLES) + v_index) % len(STYLES)]
            text = say(code, letter_style, digit_style)
            utt = Utt(
                f"{voice}/{letter_style}/{code}", code, np.concatenate([pad, synth(text), pad])
            )
            for cond in by_cond:
                sample = make_sample(utt, cond, noises, rng, i + v_index)
                sample.extra = {"voice": voice, "style": letter_style, "text": text}
                by_cond[cond].append(sample)
    return by_cond


def score(found: list[Sample], heard: list[str], others: set[str]) -> dict[str, Any]:
    """Codes captured exactly, overall, by voice and by letter style; the misses, and what
    the dialog's sound-alike offers make of them with ``others`` in the OMS.
    """
    codes = [find_code(h, PATTERN)[0] for h in heard]
    exact = [c == s.reference for s, c in zip(found, codes, strict=True)]
    answers = [oms_answer(c, s.reference, others) for s, c in zip(found, codes, strict=True)]
    result: dict[str, Any] = {"n": len(found), "captured": sum(exact)}
    result["exact"] = round(sum(exact) / len(found), 4)
    result["offered"] = answers.count("offered")
    result["wrong_order"] = answers.count("wrong")
    result["reached"] = round((sum(exact) + answers.count("offered")) / len(found), 4)
    for key in ("voice", "style"):
        groups: dict[str, list[bool]] = {}
        for s, ok in zip(found, exact, strict=True):
            groups.setdefault(s.extra[key], []).append(ok)
        result[f"by_{key}"] = {k: f"{sum(v)}/{len(v)}" for k, v in groups.items()}
    result["misses"] = [
        {"said": s.extra["text"], "voice": s.extra["voice"], "heard": h, "oms": a}
        for s, h, ok, a in zip(found, heard, exact, answers, strict=True)
        if not ok
    ]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--per-voice", type=int, default=24, help="codes each voice reads")
    parser.add_argument("--seed", type=int, default=SEED + 3, help="draws the codes and noise")
    parser.add_argument("--threads", type=int, default=2, help="ASR CPU threads")
    parser.add_argument("--name", default="letter_codes", help="results file name")
    parser.add_argument("--oms-orders", type=int, default=1_000_000, help="other orders in the OMS")
    parser.add_argument(
        "--digits-prompt",
        action="store_true",
        help="prime Whisper with the digits-only prompt, not the letters one the pipeline uses",
    )
    args = parser.parse_args(argv)
    logger.remove()
    started = time.perf_counter()
    inputs = order_bench_inputs(args.threads)
    if inputs is None:
        return 1
    settings, noises, tiny, base = inputs
    _, first, check = asr_options(settings, PATTERN, {"asr_number_check": "base"})
    if args.digits_prompt:
        first = replace(first, initial_prompt=ORDER_NUMBER_PROMPT)
        check = replace(check, initial_prompt=ORDER_NUMBER_PROMPT)
    result: dict[str, Any] = {"pattern": PATTERN, "per_voice": args.per_voice, "seed": args.seed}
    result["prompt"] = first.initial_prompt
    result["oms_orders"] = args.oms_orders
    others = oms_codes(args.oms_orders, args.seed)
    result["made_up_code_is_an_order"] = round(len(others) / (len(LETTERS) ** 2 * 10**6), 4)
    result["made_up_code_offered"] = made_up_offered(others, 20_000, args.seed + 1)
    engine = DialogEngine(load_dialog(letter_dialog(Path(tempfile.mkdtemp()))))
    for cond, found in samples(bench_voices(False), noises, args.per_voice, args.seed).items():
        heard = [transcribe(tiny, s.asr_input(False), first, (base, check)) for s in found]
        result[cond] = score(found, heard, others | {s.reference for s in found})
        codes = [s.reference for s in found]
        result[cond]["on_file"] = on_file_reach(engine, codes, heard, args.seed, letter_codes)
    result["seconds"] = round(time.perf_counter() - started, 1)
    conds = ("phone", "phone_10db")
    rows = [
        [name, *(result[c][group][name] for c in conds)]
        for group in ("by_voice", "by_style")
        for name in result["phone"][group]
    ]
    rows.append(["all", *(f"{result[c]['captured']}/{result[c]['n']}" for c in conds)])
    rows.append(["+ sound-alikes offered", *(f"+{result[c]['offered']}" for c in conds)])
    rows.append(["  another order offered", *(str(result[c]["wrong_order"]) for c in conds)])
    on_file = [result[c]["on_file"] for c in conds]
    rows.append(["with their orders on file", *(f"+{f['offered']}" for f in on_file)])
    rows.append(["  another of theirs offered", *(str(f["wrong_offer"]) for f in on_file)])
    return report(args.name, result, ["voice / letters said", "clean", "10 dB"], rows)


if __name__ == "__main__":
    raise SystemExit(main())
