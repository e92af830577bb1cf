"""Order numbers and other codes out of what a caller said, as ASR wrote it.

Callers read a code digit by digit, in pairs ("forty eight fifteen"), with "oh" for zero,
"double"/"triple" for repeats and letters as "A as in apple" or NATO words; Whisper writes them
as words, numerals or a mix ("481-526", "4, 8, 1", "O2 46 61"). :func:`find_code` is the one
reading of them: the dialog takes the code it finds, and the ASR's order-number check
(:mod:`voice_agent.speech.entities`) asks it whether a transcript holds one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from voice_agent.dialog.normalize import tokens

_UNITS = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "niner": "9",
}  # fmt: skip
# Words that are digits only next to other digits: "oh", and what ASR writes for a digit it
# misheard as a word ("won", "to", "for", "ate").
# "or"/"owe" are how ASR often writes a spoken "oh" between digits.
# tiny.en on the phone band writes a spoken "oh" as "L" too ("L 6 0 1 16" for "oh six, oh one,
# sixteen"); no code of digits holds a letter, and one with letters is read as before.
_WEAK = {"oh": "0", "o": "0", "or": "0", "owe": "0", "l": "0", "won": "1", "to": "2",
         "too": "2", "for": "4", "fore": "4", "ate": "8", "tree": "3"}  # fmt: skip
_TEENS = {
    "ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14",
    "fifteen": "15", "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19",
}  # fmt: skip
_TENS = {"twenty": "2", "thirty": "3", "forty": "4", "fourty": "4", "fifty": "5", "sixty": "6",
         "seventy": "7", "eighty": "8", "ninety": "9"}  # fmt: skip
_REPEAT = {"double": 2, "triple": 3}
_FILLERS = {"uh", "um", "er", "erm", "dash", "hyphen"}
_NATO = {
    "alpha": "A", "alfa": "A", "bravo": "B", "charlie": "C", "delta": "D", "echo": "E",
    "foxtrot": "F", "golf": "G", "hotel": "H", "india": "I", "juliet": "J", "juliett": "J",
    "kilo": "K", "lima": "L", "mike": "M", "november": "N", "oscar": "O", "papa": "P",
    "quebec": "Q", "romeo": "R", "sierra": "S", "tango": "T", "uniform": "U", "victor": "V",
    "whiskey": "W", "whisky": "W", "xray": "X", "yankee": "Y", "zulu": "Z",
}  # fmt: skip


@dataclass(frozen=True)
class _Piece:
    text: str
    strong: bool  # a real numeral, not a homophone or filler-ish word


def _pieces(words: Sequence[str]) -> list[_Piece | None]:
    """Map words to digit/letter pieces; ``None`` breaks a run. Consumes multi-word forms."""
    out: list[_Piece | None] = []
    i = 0
    n = len(words)
    while i < n:
        w = words[i]
        nxt = words[i + 1] if i + 1 < n else ""
        # "a as in apple", "b for boy", "c like charlie"
        if len(w) == 1 and w.isalpha():
            for k in (2, 3):
                link = " ".join(words[i + 1 : i + k])
                if link in ("as", "for", "like", "as in") and i + k < n:
                    target = words[i + k]
                    if target.startswith(w) and len(target) > 1:
                        out.append(_Piece(w.upper(), True))
                        i += k + 1
                        break
            else:
                target = ""
            if target:
                continue
        if w in _REPEAT and nxt:
            inner = _pieces([nxt])
            if inner and inner[0] is not None:
                # Only the first digit repeats: Whisper writes "double oh one" as "double 01"
                # and "double two seven" as "double 27".
                text = inner[0].text
                out.append(_Piece(text[:1] * _REPEAT[w] + text[1:], True))
                i += 2
                continue
        if w.isdigit():
            out.append(_Piece(w, True))
        elif re.fullmatch(r"[a-z]+\d[a-z0-9]*|\d+[a-z]+[a-z0-9]*", w):
            out.append(_Piece(w.upper(), True))
        elif w in _UNITS:
            if nxt == "hundred":
                rest, used = _two_digits(words[i + 2 : i + 4])
                out.append(_Piece(_UNITS[w] + (rest or "00"), True))
                i += 2 + used
                continue
            out.append(_Piece(_UNITS[w], True))
        elif w in _TEENS:
            out.append(_Piece(_TEENS[w], True))
        elif w in _TENS:
            if nxt in _UNITS and nxt not in ("zero", "niner"):
                out.append(_Piece(_TENS[w] + _UNITS[nxt], True))
                i += 2
                continue
            out.append(_Piece(_TENS[w] + "0", True))
        elif w in _NATO:
            out.append(_Piece(_NATO[w], False))
        elif w in _WEAK:
            out.append(_Piece(_WEAK[w], False))
        elif w in _FILLERS:
            out.append(_Piece("", False))
        else:
            out.append(None)
        i += 1
    return out


def _two_digits(words: Sequence[str]) -> tuple[str | None, int]:
    """Read the two digits after "hundred": "eighty one" -> "81", "five" -> "05"."""
    if words and words[0] == "and":
        inner, used = _two_digits(words[1:])
        return inner, used + 1 if inner else 0
    if not words:
        return None, 0
    w = words[0]
    if w in _TEENS:
        return _TEENS[w], 1
    if w in _TENS:
        if len(words) > 1 and words[1] in _UNITS:
            return _TENS[w] + _UNITS[words[1]], 2
        return _TENS[w] + "0", 1
    if w in _UNITS:
        return "0" + _UNITS[w], 1
    return None, 0


def words_to_numbers(text: str) -> str:
    """Cleaned text with number words as digits: "size forty three" -> "size 43"."""
    words = tokens(text)
    out: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if w in _TENS and nxt in _UNITS and nxt != "zero":
            out.append(_TENS[w] + _UNITS[nxt])
            i += 2
            continue
        if w in _TENS:
            out.append(_TENS[w] + "0")
        elif w in _TEENS:
            out.append(_TEENS[w])
        elif w in _UNITS and w != "one":  # "the blue one" stays a word
            out.append(_UNITS[w])
        else:
            out.append(w)
        i += 1
    return " ".join(out)


def digit_runs(text: str) -> list[list[_Piece]]:
    """Find runs of consecutive digit-like pieces, each with at least one real numeral or
    three "oh"s ("oh oh oh" is a number; "to go for it" is not).
    """
    runs: list[list[_Piece]] = []
    current: list[_Piece] = []
    for piece in [*_pieces(tokens(text)), None]:
        if piece is None:
            while current and not current[-1].text:
                current.pop()
            if any(p.strong for p in current) or sum(p.text == "0" for p in current) >= 3:
                runs.append(current)
            current = []
        else:
            current.append(piece)
    return runs


def _variants(run: list[_Piece]) -> list[str]:
    """Spell the run as a string, then with weak words trimmed at either edge ("for 4 8 1 ...")."""
    lo, hi = 0, len(run)
    out = ["".join(p.text for p in run)]
    while lo < hi and not run[lo].strong:
        lo += 1
        out.append("".join(p.text for p in run[lo:hi]))
    while hi > lo and not run[hi - 1].strong:
        hi -= 1
        out.append("".join(p.text for p in run[lo:hi]))
        out.append("".join(p.text for p in run[0:hi]))
    return [v for v in out if v]


def find_code(text: str, pattern: str) -> tuple[str | None, str | None]:
    """Find an order number (or similar code) in an utterance.

    Returns ``(match, heard)``: ``match`` is the last run that fully matches ``pattern`` (a
    correction comes last: "220417, no wait, 220471"); otherwise ``heard`` is the longest digit
    string spoken (for "I heard ..." and for numbers a caller splits across two turns).
    """
    regex = re.compile(pattern)
    heard: str | None = None
    match: str | None = None
    for run in digit_runs(text):
        found = next((v for v in _variants(run) if regex.fullmatch(v)), None)
        if found is not None:
            match = found
            continue
        strong = "".join(p.text for p in run if p.strong)
        if heard is None or len(strong) > len(heard):
            heard = strong
    return (match, None) if match is not None else (None, heard)


def spell(code: str) -> str:
    """Read a code character by character: "481526" -> "4, 8, 1, 5, 2, 6"."""
    return ", ".join(ch for ch in code.upper() if ch.isalnum())
