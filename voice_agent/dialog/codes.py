"""Order numbers and other codes out of what a caller said, as ASR wrote it.

Callers read a code digit by digit, in pairs ("forty eight fifteen"), in hundreds ("four
hundred and fifty six"), with "oh" or "nought" for zero, "double"/"triple" for repeats and
letters as "A as in apple" or NATO words; Whisper writes them as words, numerals or a mix
("481-526", "4, 8, 1", "O2 46 61"). :func:`find_code` is the one reading of them: the dialog
takes the code it finds, and the ASR's order-number check (:mod:`voice_agent.speech.entities`)
asks it whether a transcript holds one.

Where the code's pattern admits letters (:func:`admits_letters`), letters are read in every form
ASR writes them: "S B 0 8 4", "CK 646660", "R.T.", letter names ("see", "tee"), NATO words and
their near spellings ("Charley"), and "Z as in zebra" by the word, whatever the letter before it
was heard as ("See as in Zebra", "I as an apple"): that is what the word is said for, even when
ASR writes it as letters ("M is in M, R"). A code of digits only reads them as before: a letter
there is a word that ends a run. The words themselves are in
:mod:`voice_agent.dialog.code_words`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from voice_agent.dialog.code_words import (
    EIGHT_AFTER_TEN,
    FILLERS,
    LETTER_NAMES,
    NATO,
    NATO_ALPHABET,
    REPEAT,
    TEENS,
    TENS,
    TWO_WORD_LETTERS,
    UNITS,
    WEAK,
    ZEROS,
    letter_said,
    spelled_letter,
    spelled_out,
    ten_numeral,
    two_digits,
)
from voice_agent.dialog.normalize import tokens


@dataclass(frozen=True)
class _Piece:
    text: str
    strong: bool  # a real numeral, not a homophone or filler-ish word
    # Another spelling, tried after ``text``: the letter an "oh" also is in a letter code, or
    # "06" for the "6" of "four hundred fifty six" (4, 5, 0, 6).
    alt: str = ""


def admits_letters(pattern: str) -> bool:
    r"""Whether a code ``pattern`` can hold letters: a letter range, ``\w``, ``.`` or a literal
    letter (``^WO-\d{4}$``). Escapes such as ``\d`` are not letters.
    """
    bare = re.sub(r"\\[dDsSbBAZ]", "", pattern)
    return bool(re.search(r"A-Z|a-z|\\w|(?<!\\)\.|[A-Za-z]", bare))


def _pieces(words: Sequence[str], letters: bool = False) -> list[_Piece | None]:
    """Map words to digit/letter pieces; ``None`` breaks a run. Consumes multi-word forms.

    With ``letters`` (a code that admits them) letters said on their own are pieces too.
    """
    out: list[_Piece | None] = []
    i = 0
    n = len(words)
    while i < n:
        w = words[i]
        nxt = words[i + 1] if i + 1 < n else ""
        if letters:
            spelled = spelled_letter(words, i)
            if spelled is not None:
                out.append(_Piece(spelled[0], True))
                i += spelled[1]
                if len(words[i - 1]) == 1:  # the word written as letters: each may be dropped
                    tail = spelled_out(words, i)
                    out += [_Piece("", False, w.upper()) for w in words[i : i + tail]]
                    i += tail
                continue
            if (w, nxt) in TWO_WORD_LETTERS:
                out.append(_Piece(TWO_WORD_LETTERS[w, nxt], False))
                i += 2
                continue
        if w in REPEAT and nxt:
            inner = _pieces([nxt], letters)
            if inner and inner[0] is not None:
                # Only the first digit repeats: Whisper writes "double oh one" as "double 01"
                # and "double two seven" as "double 27".
                text = inner[0].text
                out.append(_Piece(text[:1] * REPEAT[w] + text[1:], True))
                i += 2
                continue
        if nxt == EIGHT_AFTER_TEN and (ten := TENS.get(w) or ten_numeral(w)):
            out.append(_Piece(ten + "8", True))
            i += 2
            continue
        if w.isdigit():
            out.append(_Piece(w, True))
        elif re.fullmatch(r"[a-z]+\d[a-z0-9]*|\d+[a-z]+[a-z0-9]*", w):
            out.append(_Piece(w.upper(), True))
        elif (w in UNITS or w == "a") and nxt == "hundred":
            rest, used = two_digits(words[i + 2 : i + 5])  # "and fifty six" is three words
            group = UNITS.get(w, "1") + (rest or "00")
            if used and words[i + 1 + used] in UNITS:
                # Commas are lost: "four hundred fifty six" is 456, "four hundred fifty, one
                # two three" 450123 and "nine hundred, one two three" 900123. The pattern picks.
                out += [_Piece(group[:2], True), _Piece(group[2], True, "0" + group[2])]
            else:
                out.append(_Piece(group, True))
            i += 2 + used
            continue
        elif w in UNITS:
            out.append(_Piece(UNITS[w], True))
        elif w in TEENS:
            out.append(_Piece(TEENS[w], True))
        elif w in TENS:
            if nxt in UNITS and nxt not in ZEROS and nxt != "niner":
                out.append(_Piece(TENS[w] + UNITS[nxt], True))
                i += 2
                continue
            out.append(_Piece(TENS[w] + "0", True))
        elif w in WEAK:
            letter = w[0].upper() if letters and w[0] in "ol" else ""
            out.append(_Piece(WEAK[w], False, letter))
        elif w in NATO:  # in a letter code a letter, so kept when a code is split over turns
            out.append(_Piece(NATO[w], letters))
        elif w in FILLERS:
            out.append(_Piece("", False))
        elif letters and w == "and":  # "N" said alone ("en") is written "and": "And R 3 3 4 ..."
            out.append(_Piece("", False, "N"))
        elif letters and (spoken := letter_said(w)) is not None:
            # "a", "i" and the letter names ("see", "are") are words too
            out.append(_Piece(spoken, w not in LETTER_NAMES and w not in ("a", "i")))
        else:
            out.append(None)
        i += 1
    return out


def digit_runs(text: str, letters: bool = False) -> list[list[_Piece]]:
    """Find runs of consecutive digit-like pieces, each with at least one real numeral or
    three "oh"s ("oh oh oh" is a number; "to go for it" is not). With ``letters``, letters too.
    """
    runs: list[list[_Piece]] = []
    current: list[_Piece] = []
    words = tokens(_CAPITALS.sub(lambda m: " ".join(m[0]), text) if letters else text)
    for piece in [*_pieces(words, letters), None]:
        if piece is None:
            while current and not current[-1].text:
                current.pop()
            if any(p.strong for p in current) or sum(p.text == "0" for p in current) >= 3:
                runs.append(current)
            current = []
        else:
            current.append(piece)
    return runs


# Capitals ASR writes as one word are letters said one by one: "CK 646660", "GL".
_CAPITALS = re.compile(r"\b[A-Z]{2,4}\b")
# At most this many pieces of a run ("oh"s of a letter code) are tried in both their spellings
# (2**n spellings).
_MAX_AMBIGUOUS = 4


def _variants(run: list[_Piece]) -> list[str]:
    """Spell the run as a string, then with weak words trimmed at either edge ("for 4 8 1 ...").

    In a letter code each "oh" (and tiny.en's "L" for one) may be a letter: those spellings
    come after the all-digit one.
    """
    lo, hi = 0, len(run)
    spans = [(lo, hi)]
    while lo < hi and not run[lo].strong:
        lo += 1
        spans.append((lo, hi))
    while hi > lo and not run[hi - 1].strong:
        hi -= 1
        spans += [(lo, hi), (0, hi)]
    out = [text for a, b in spans for text in _spellings(run[a:b])]
    return [v for v in out if v]


def _spellings(pieces: list[_Piece]) -> list[str]:
    """The pieces as one string, then with other spellings of those that have one (letters for
    the digit words that are letters too).
    """
    both = [k for k, p in enumerate(pieces) if p.alt][:_MAX_AMBIGUOUS]
    out = []
    for mask in range(1 << len(both)):
        swap = {k for bit, k in enumerate(both) if mask >> bit & 1}
        out.append("".join(p.alt if k in swap else p.text for k, p in enumerate(pieces)))
    return out


def _twice(variants: list[str], regex: re.Pattern[str]) -> str | None:
    """A code said twice in one breath ("4 8 1 5 2 6 4 8 1 5 2 6": a caller repeating it, or
    Whisper echoing it): the code, once. The echo is the order-number prompt's doing: it shows
    a number in digits and then in words, and on a QA fixture's "Four eight one five two six."
    both models wrote the digits twice with it and once without it (a prompt of digits alone
    lost more numbers than it saved, ``bench/README.md``).
    """
    for v in variants:
        half = len(v) // 2
        if len(v) % 2 == 0 and v[:half] == v[half:] and regex.fullmatch(v[:half]):
            return v[:half]
    return None


class Reading(NamedTuple):
    """What :func:`read_code` found in a turn."""

    match: str | None  # the code, whole
    heard: str | None  # else the longest digit string spoken (see find_code)
    # "oh"s said just before ``heard``: zeros of the number or a word ("Oh, 4 8 1"). Said
    # with its rest in one breath, the pattern decides; a number split over turns reads the
    # same when they are put back in front (:meth:`SlotFiller.order_heard`).
    ohs: int = 0


def find_code(text: str, pattern: str) -> tuple[str | None, str | None]:
    """Find an order number (or similar code) in an utterance.

    Returns ``(match, heard)``: ``match`` is the last run that fully matches ``pattern`` (a
    correction comes last: "220417, no wait, 220471"); otherwise ``heard`` is the longest digit
    string spoken (for "I heard ..." and for numbers a caller splits across two turns), with
    its letters where the pattern admits them (:func:`_heard`).
    """
    match, heard, _ = read_code(text, pattern)
    return match, heard


def read_code(text: str, pattern: str) -> Reading:
    """:func:`find_code`'s reading, with the "oh"s said before the digits heard."""
    regex = re.compile(pattern)
    heard: str | None = None
    ohs = 0
    match: str | None = None
    for run in digit_runs(text, admits_letters(pattern)):
        variants = _variants(run)
        found = next((v for v in variants if regex.fullmatch(v)), None) or _twice(variants, regex)
        if found is not None:
            match = found
            continue
        said, lo = _heard(run)
        if heard is None or len(said) > len(heard):
            heard, ohs = said, _ohs_before(run, lo)
    return Reading(match, None, 0) if match is not None else Reading(None, heard, ohs)


def _heard(run: list[_Piece]) -> tuple[str, int]:
    """A run that is not a whole code, as said, and where it starts in the run: its words that
    are digits only next to digits are digits inside it ("4 8 oh 1" is 4801) and a zero at its
    end ("Eight oh oh." is 800: the first half of a number, whose rest the caller says next); at
    its start they are words ("Oh, 4 8 1", "for 4 8 1"). Letters that are words too ("a",
    "see") are left out, as before.
    """
    lo, hi = 0, len(run)
    while lo < hi and not run[lo].strong:
        lo += 1
    while hi > lo and not run[hi - 1].strong and run[hi - 1].text != "0":
        hi -= 1
    return "".join(p.text for p in run[lo:hi] if p.strong or p.text.isdigit()), lo


def _ohs_before(run: list[_Piece], lo: int) -> int:
    """The "oh"s right before ``run[lo]`` ("Oh, uh, 4 8 1": fillers between them don't count)."""
    ohs = 0
    for piece in reversed(run[:lo]):
        if piece.text == "0":
            ohs += 1
        elif piece.text:
            break
    return ohs


def spell(code: str) -> str:
    """Read a code character by character: "481526" -> "4, 8, 1, 5, 2, 6"."""
    return ", ".join(ch for ch in code.upper() if ch.isalnum())


def read_back(code: str) -> str:
    """A caller's code read back to them as :func:`spell` reads it, but each letter with its
    NATO word, which the phone line does not blur as it blurs "B" and "D", "S" and "F":
    "RT481526" -> "R as in Romeo, T as in Tango, 4, 8, 1, 5, 2, 6". A code of digits reads
    the same either way.
    """
    return ", ".join(
        f"{ch} as in {NATO_ALPHABET[ch]}" if ch.isalpha() else ch
        for ch in code.upper()
        if ch.isalnum()
    )
