"""Shared bench helpers: text normalisation and WER, result JSON, a plain-text table and the
callers' line echo option.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from voice_agent.testing.twilio_caller import Echo

RESULTS_DIR = Path(__file__).resolve().parent / "results"
#: Where the benches assemble the base model: a scratch folder, not the user's model cache.
MODEL_CACHE = Path(tempfile.gettempdir()) / "voice_agent_models"

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint", "vs": "versus"}


def number_words(n: int) -> str:
    """Cardinal English words for 0 <= n < 10**12 ("one hundred twenty three")."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + number_words(rest))
    for size, word in ((10**9, "billion"), (10**6, "million"), (1000, "thousand")):
        if n >= size:
            rest = n % size
            head = number_words(n // size) + " " + word
            return head + ("" if rest == 0 else " " + number_words(rest))
    raise ValueError(n)


def normalize_text(text: str) -> list[str]:
    """Words for WER scoring: lowercase, no punctuation, digits spelled out, common
    abbreviations expanded, hyphenated words split."""
    text = text.lower().replace("%", " percent").replace("&", " and ")
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 1,000 -> 1000
    text = re.sub(r"\b(mr|mrs|dr|st|vs)\.", lambda m: _ABBREVIATIONS[m.group(1)], text)
    text = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text)
    text = re.sub(r"[-/]", " ", text)
    text = re.sub(r"[^\w\s']", " ", text).replace("'", "")
    words: list[str] = []
    for token in text.split():
        if token.isdigit():
            # Digit strings with a leading zero are read digit by digit ("007").
            if len(token) > 1 and token.startswith("0") or len(token) > 12:
                words.extend(_ONES[int(d)] for d in token)
            else:
                words.extend(number_words(int(token)).split())
        else:
            words.extend(_ABBREVIATIONS.get(token, token).split())
    return words


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Word-level Levenshtein distance."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, start=1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of one utterance after :func:`normalize_text`."""
    ref = normalize_text(reference)
    return edit_distance(ref, normalize_text(hypothesis)) / max(len(ref), 1)


def corpus_wer(pairs: Sequence[tuple[str, str]]) -> float:
    """Total edits over total reference words, for (reference, hypothesis) pairs."""
    edits = words = 0
    for ref, hyp in pairs:
        r = normalize_text(ref)
        edits += edit_distance(r, normalize_text(hyp))
        words += len(r)
    return edits / max(words, 1)


def cpu_model() -> str | None:
    """The CPU's model name ("AMD EPYC"): figures from two boxes differ by ~2x, so every
    result says which box it came from (``platform.processor()`` is empty on Linux).
    """
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def write_results(name: str, payload: dict[str, Any]) -> Path:
    """Write ``bench/results/<name>.json`` with a small environment header."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    doc = {
        "benchmark": name,
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "python": platform.python_version(),
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
        },
        **payload,
    }
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")
    return path


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A left-aligned plain-text table; floats are shown with 3 significant decimals."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3f}"
        return "-" if v is None else str(v)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def report(
    name: str, result: dict[str, Any], headers: Sequence[str], rows: Sequence[Sequence[Any]]
) -> int:
    """Print a bench's table, write its results as ``name`` (:func:`write_results`); 0, the
    bench's exit status."""
    print(format_table(headers, rows))
    print(f"wrote {write_results(name, result)}")
    return 0


def add_echo_arguments(parser: argparse.ArgumentParser) -> None:
    """``--echo-db``, ``--echo-delay-ms`` and ``--echo-overdrive-db``: the callers' lines send
    the agent's audio back.
    """
    parser.add_argument(
        "--echo-db",
        type=float,
        help="the callers' lines return the agent's audio this many dB down (no echo if unset)",
    )
    parser.add_argument("--echo-delay-ms", type=float, default=200.0)
    parser.add_argument(
        "--echo-overdrive-db",
        type=float,
        default=0.0,
        help="the callers' loudspeakers saturate this far past full scale (a nonlinear echo)",
    )


def echo_of(args: argparse.Namespace) -> Echo | None:
    """The echo :func:`add_echo_arguments` asked for."""
    if args.echo_db is None:
        return None
    return Echo(
        delay_s=args.echo_delay_ms / 1000,
        return_loss_db=args.echo_db,
        overdrive_db=args.echo_overdrive_db,
    )
