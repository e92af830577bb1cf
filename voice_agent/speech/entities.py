"""Digit strings out of ASR text: "four eight one, double five oh" -> "481550".

Callers read order numbers digit by digit, in pairs ("forty eight fifteen"), with "oh" for zero
and "double"/"triple" for repeats; Whisper writes them as words, numerals or a mix ("481-526",
"4, 8, 1"). :func:`digit_runs` turns a transcript into its runs of spoken digits and
:func:`order_number` picks the one that looks like an order number.
"""

from __future__ import annotations

import re

_UNITS = {
    "zero": 0, "oh": 0, "o": 0, "nought": 0, "naught": 0, "nil": 0,
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9,
}  # fmt: skip
_TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_REPEAT = {"double": 2, "triple": 3}
# "oh" is a zero only next to other digits ("oh, I see" is not a number).
_WEAK_ZERO = {"oh", "o"}
# Words that may sit between the digits of one number without ending it.
_FILLERS = {"and", "uh", "um", "er", "dash", "hyphen", "then"}


def _tokens(text: str) -> list[str]:
    text = text.lower().replace("-", " ").replace("'", "")
    return re.findall(r"[a-z]+|\d+|[^\sa-z\d]", text)


def digit_runs(text: str) -> list[str]:
    """Return the runs of spoken digits in ``text``, each as a string of 0-9.

    A run continues across digit words, numerals, "double"/"triple", pairs like "forty eight",
    "X hundred", commas, dashes and a few fillers ("uh", "and"); any other word ends it.
    """
    runs: list[str] = []
    current: list[str] = []
    repeat = 1
    tokens = _tokens(text)
    i = 0

    def end_run() -> None:
        nonlocal current
        if current:
            runs.append("".join(current))
        current = []

    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        piece: str | None = None
        if tok.isdigit():
            piece = tok
        elif tok in _UNITS and (tok not in _WEAK_ZERO or current or _digitish(nxt)):
            piece = str(_UNITS[tok])
            if nxt == "hundred":
                piece = str(_UNITS[tok]) + "00"
                i += 1
                # "four hundred eighty one" -> 481; "four hundred and six" -> 406
                rest_start = i + 1 + (tokens[i + 1 : i + 2] == ["and"])
                tail, used = _two_digit(tokens, rest_start)
                if used:
                    piece = str(_UNITS[tok]) + tail.zfill(2)
                    i = rest_start + used - 1
        elif tok in _TEENS:
            piece = str(_TEENS[tok])
        elif tok in _TENS:
            piece, used = _two_digit(tokens, i)
            i += used - 1
        elif tok in _REPEAT and (nxt.isdigit() or nxt in _UNITS):
            repeat = _REPEAT[tok]
            i += 1
            continue
        elif tok in _FILLERS or tok in {",", ".", "/"} and current:
            i += 1
            if tok == "." and not (nxt.isdigit() or nxt in _UNITS or nxt in _TENS):
                end_run()
            continue
        if piece is None:
            end_run()
        else:
            # "double 5" repeats only the first digit of what follows ("double 55" stays 55).
            current.append(piece[0] * repeat + piece[1:] if repeat > 1 else piece)
        repeat = 1
        i += 1
    end_run()
    return runs


def _digitish(tok: str) -> bool:
    return tok.isdigit() or tok in _UNITS or tok in _TEENS or tok in _TENS or tok in _REPEAT


def _two_digit(tokens: list[str], start: int) -> tuple[str, int]:
    """Parse "forty eight" / "forty" / "twelve" at ``start``; returns (digits, tokens used)."""
    if start >= len(tokens):
        return "", 0
    tok = tokens[start]
    if tok in _TEENS:
        return str(_TEENS[tok]), 1
    if tok in _TENS:
        nxt = tokens[start + 1] if start + 1 < len(tokens) else ""
        if nxt in _UNITS and _UNITS[nxt] != 0:
            return str(_TENS[tok] + _UNITS[nxt]), 2
        return str(_TENS[tok]), 1
    if tok in _UNITS and tok != "o":
        return str(_UNITS[tok]), 1
    return "", 0


def order_number(text: str, length: int = 6, *, strict: bool = False) -> str | None:
    """Return the order number in ``text``: a run of exactly ``length`` digits, else None.

    If no single run has the right length but all the digits in the text together do (the
    caller paused oddly, "four eight one ... five two six"), those are taken, unless
    ``strict``.
    """
    runs = digit_runs(text)
    exact = [r for r in runs if len(r) == length]
    if exact:
        return exact[-1]  # a correction comes last: "no wait, it's ..."
    joined = "".join(runs)
    return joined if len(joined) == length and not strict else None
