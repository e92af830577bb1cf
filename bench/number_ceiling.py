"""How far a better pick among the ASR's readings could take order-number capture (``python -m
bench.number_ceiling``).

The order-number turn is read by tiny.en and, when it is not sure, by base and by tiny.en on
the turn slowed down; :func:`voice_agent.speech.entities.pick_reading` keeps one. This bench
reads ``bench.asr_accuracy``'s clean order-number turns (the bench set and its held-out sets,
240 readings) as the pipeline does, and for every turn tiny.en is not sure of also writes down
each reading those two models can make of it: each model on the turn and on the turn slowed,
decoded freely and digits-only with several hypotheses. ``ceiling`` is the capture a pick that
always found the right number among them would reach: the sure turns as read, plus the unsure
ones whose number is in some reading. A pick rule, a vote or a look-up in the OMS cannot do
better with these models; only a better reading can.

``ceiling_with_grammar`` adds, for the same unsure turns, both models' readings held to six
digits (:mod:`bench.digit_grammar`, not a pipeline decode): numbers a decode free to stop at any
length does not write. ``grammar_first_right`` counts the unsure turns whose first such reading
is right, beside ``unsure_pipeline_right``, the pipeline's own.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from dataclasses import replace
from typing import Any

import numpy as np
from loguru import logger

from bench.asr_runs import BIASES
from bench.common import report
from bench.digit_grammar import grammar_readings, turn_input
from bench.order_speech import HELDOUT_SETS, bench_voices, entity_samples, order_bench_inputs
from bench.speech_samples import SEED, Sample
from voice_agent.pipeline.call import asr_options
from voice_agent.speech import window
from voice_agent.speech.asr import AsrOptions, hear, slow_down, transcribe
from voice_agent.speech.entities import SIX_DIGITS, order_number

#: Hypotheses kept from each digits-only decode (the pipeline keeps the first of
#: ``window.DIGITS_BEAM``).
HYPOTHESES = 3


def readings(model: Any, audio: np.ndarray, opts: AsrOptions) -> list[str]:
    """Every text ``model`` reads in ``audio``: the free decode and the digits-only hypotheses.

    Built from :mod:`voice_agent.speech.window`'s own steps, so the free decode is the
    pipeline's and the digits-only one differs only in keeping ``HYPOTHESES`` hypotheses.
    """
    item, tokenizer, encoded = turn_input(model, audio, opts)
    free = window._texts(
        tokenizer,
        [item],
        window._start(model, encoded, [item], window.get_suppressed_tokens(tokenizer, [-1])),
    )[0][0]
    digits = window._start(
        model,
        encoded,
        [item],
        window._non_digit_tokens(model, tokenizer),
        beam_size=max(window.DIGITS_BEAM, HYPOTHESES),
        hypotheses=HYPOTHESES,
    )[0]
    return [
        free,
        *(tokenizer.decode(ids[: item.new_tokens]).strip() for ids in digits.sequences_ids),
    ]


def score(
    samples: list[Sample], tiny: Any, base: Any, first: AsrOptions, check: AsrOptions
) -> dict[str, Any]:
    """The pipeline's capture, and the ceiling of a pick among every reading (module doc)."""
    captured: Counter[str] = Counter()
    ceiling: Counter[str] = Counter()
    with_grammar: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    first_right: Counter[str] = Counter()
    unsure = in_reading = unsure_right = 0
    unreachable: list[dict[str, str]] = []
    grammar_only: list[dict[str, Any]] = []
    for sample in samples:
        voice = sample.extra["voice"]
        audio = sample.asr_input(False)
        text = transcribe(tiny, audio, first, (base, check))
        ok = order_number(text) == sample.reference
        totals[voice] += 1
        captured[voice] += ok
        if hear(tiny, audio, first).number_sure:
            ceiling[voice] += ok
            with_grammar[voice] += ok
            continue
        unsure += 1
        unsure_right += ok
        slowed = slow_down(audio)
        texts = [
            *readings(tiny, audio, first),
            *readings(base, audio, check),
            *readings(tiny, slowed, first),
            *readings(base, slowed, check),
        ]
        found = sample.reference in {order_number(t) for t in texts}
        in_reading += found
        ceiling[voice] += found
        held = {
            "tiny": grammar_readings(tiny, audio, first),
            "base": grammar_readings(base, audio, check),
        }
        numbers = {name: [order_number(t) for t in said] for name, said in held.items()}
        for name, read in numbers.items():
            first_right[name] += bool(read) and read[0] == sample.reference
        reached = found or any(sample.reference in read for read in numbers.values())
        with_grammar[voice] += reached
        if reached and not found:
            grammar_only.append({"voice": voice, "said": sample.extra["text"], "grammar": held})
        if not found:
            unreachable.append({"voice": voice, "said": sample.extra["text"], "heard": text})
    n = sum(totals.values())
    return {
        "n": n,
        "captured": sum(captured.values()) / n,
        "ceiling": sum(ceiling.values()) / n,
        "ceiling_with_grammar": sum(with_grammar.values()) / n,
        "unsure": unsure,
        "unsure_number_in_some_reading": in_reading,
        "unsure_pipeline_right": unsure_right,
        "grammar_first_right": dict(first_right),
        "by_voice": {
            v: {
                "n": totals[v],
                "captured": captured[v],
                "ceiling": ceiling[v],
                "ceiling_with_grammar": with_grammar[v],
            }
            for v in totals
        },
        "grammar_only": grammar_only,
        "unreachable": unreachable,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="the bench set only (48 readings)")
    parser.add_argument("--threads", type=int, default=2, help="ASR CPU threads")
    parser.add_argument("--name", default="number_ceiling", help="results file name")
    parser.add_argument(
        "--order-prompt",
        help="prime both models with this text instead of the dialog's ORDER_NUMBER_PROMPT",
    )
    args = parser.parse_args(argv)
    logger.remove()
    started = time.perf_counter()
    inputs = order_bench_inputs(args.threads)
    if inputs is None:
        return 1
    settings, noises, tiny, base = inputs
    voices = bench_voices(False)
    seeds = [SEED + 2, *(() if args.quick else (SEED + 1002 + k for k in range(HELDOUT_SETS)))]
    samples = [s for seed in seeds for s in entity_samples(voices, noises, False, seed)["phone"]]
    first = AsrOptions(**BIASES["order_prompt"])
    check = replace(
        asr_options(settings, SIX_DIGITS, {"asr_number_check": "base"})[2], expect_code=SIX_DIGITS
    )
    if args.order_prompt:
        first = replace(first, initial_prompt=args.order_prompt)
        check = replace(check, initial_prompt=args.order_prompt)
    result = score(samples, tiny, base, first, check)
    result["prompt"] = first.initial_prompt
    result["seconds"] = round(time.perf_counter() - started, 1)
    keys = ("captured", "ceiling", "ceiling_with_grammar")
    rows = [
        [voice, *(f"{v[key]}/{v['n']}" for key in keys)] for voice, v in result["by_voice"].items()
    ]
    n = result["n"]
    rows.append(["all", *(f"{round(result[key] * n)}/{n}" for key in keys)])
    return report(args.name, result, ["voice", "captured", "ceiling", "with grammar"], rows)


if __name__ == "__main__":
    raise SystemExit(main())
