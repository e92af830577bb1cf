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
there is a word that ends a run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product
from typing import NamedTuple

from rapidfuzz import fuzz, process

from voice_agent.dialog.normalize import tokens

_UNITS = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "niner": "9", "nought": "0", "naught": "0",
}  # fmt: skip
# Words that are digits only next to other digits: "oh", and what ASR writes for a digit it
# misheard as a word ("won", "to", "for", "ate").
# "owe" is how ASR writes a spoken "oh" between digits. "or" is mostly "four" with its "f" lost:
# the phone band stops at 4 kHz, below most of that sound ("Or 9 2, or eight 0" for "four nine
# two, four eight zero"; 6 numbers of the bench's readings in 3 voices, against 1 "oh").
# tiny.en on the phone band writes a spoken "oh" as "L" too ("L 6 0 1 16" for "oh six, oh one,
# sixteen"); no code of digits holds a letter, and one with letters is read as before.
_WEAK = {"oh": "0", "o": "0", "or": "4", "owe": "0", "l": "0", "won": "1", "to": "2",
         "too": "2", "for": "4", "fore": "4", "ate": "8", "tree": "3", "free": "3"}  # fmt: skip
# "eight" after a ten runs into it: Whisper writes "eighty eight" as "80 day" or "eighty day".
_EIGHT_AFTER_TEN = "day"
# A zero after a ten stays a digit of its own: "twenty zero" is 200, where "twenty five" is 25.
_ZEROS = {"zero", "nought", "naught"}
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
#: Each letter's NATO word, as the agent says it and as Whisper writes it: "X-ray", "Juliet".
NATO_ALPHABET = {
    letter: "X-ray" if word == "xray" else word.capitalize()
    for word, letter in _NATO.items()
    if word not in ("alfa", "juliett", "whisky")
}
# How ASR writes a letter said on its own (letter codes only); "a" and "i" are words too.
_LETTER_NAMES = {
    "ay": "A", "bee": "B", "be": "B", "see": "C", "sea": "C", "cee": "C", "dee": "D",
    "eff": "F", "ef": "F", "gee": "G", "aitch": "H", "eye": "I", "jay": "J", "kay": "K",
    "el": "L", "em": "M", "en": "N", "pee": "P", "pea": "P", "cue": "Q", "queue": "Q",
    "are": "R", "ar": "R", "ess": "S", "tee": "T", "tea": "T", "you": "U", "vee": "V",
    "ex": "X", "why": "Y", "zee": "Z", "zed": "Z",
}  # fmt: skip
# "double you" is W before it is a double U; "X-ray" comes out of clean() as two words.
_TWO_WORD_LETTERS = {("double", "you"): "W", ("double", "u"): "W", ("x", "ray"): "X"}
# "B as in boy", and how ASR writes "as in": the word after it gives the letter. After a
# letter only: "as", "for" (also a 4), "like", and the "as in"s made of common words ("is in",
# "is an", and "isn't", which clean() makes "is not"; "U as in" as "use an", "V as in" as
# "me and"; "am in", "M in" and "and in" from a voice that shortens the "as": "T am in Tom",
# "L. M in Lucy", "I'm in John" for "J as in John", "K and in King").
_AS_IN = ("as in", "as an", "was in")
# Tried in order: "and in" before "and".
_SPELLED_WITH = ("is in", "is an", "is not", "am in", "m in", "and in",
                 "as", "for", "like", "an", "and")  # fmt: skip
# Words no letter is spelled with: small words, and number words ("R and double two eight ..."
# is R, N, 2, 2, 8, ...).
_NOT_KEYWORDS = {
    *("the", "a", "an", "my", "your", "it", "this", "that", "there", "here", "and"),
    *_UNITS, *_TEENS, *_TENS, *_REPEAT, *(w for w in _WEAK if len(w) > 1),
}  # fmt: skip
# Short words that start a sentence with "is in"/"is not" rather than misheard letters.
_NOT_LEADS = {"it", "this", "that", "what", "who", "she", "they", "we", "mine", "one"}
# A NATO word as ASR spells it: same first letter and this close (rapidfuzz ratio): "charley",
# "gulf", "indian"; "keelo" (66) and "lena" (50) are not taken.
_NATO_NEAR = 75.0
_NATO_WORDS = tuple(_NATO)


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


def _letter(word: str) -> str | None:
    """The letter a word is, said on its own (letter codes only)."""
    if len(word) == 1 and word.isalpha():
        return word.upper()
    if word in _LETTER_NAMES:
        return _LETTER_NAMES[word]
    if word in _NATO:
        return _NATO[word]
    if len(word) >= 4:
        near = process.extractOne(word, _NATO_WORDS, scorer=fuzz.ratio, score_cutoff=_NATO_NEAR)
        if near is not None and near[0][0] == word[0]:
            return _NATO[near[0]]
    return None


def _spelled_letter(words: Sequence[str], i: int) -> tuple[str, int] | None:
    """The letter of "B as in boy" at ``words[i]``, and how many words that took.

    The letter said before the link may be misheard as a short word ("See as in zebra" is Z,
    "Tay is in King" K, "am as in Mary" M) and before "as in" missing; the other links need
    one ("B for boy"). When the word after a whole "as in" is lost ("B as in, oh one ..."),
    the letter said before it stands.
    """
    w = words[i]
    said = _letter(w) is not None or (w.isalpha() and len(w) <= 4 and w not in _NOT_LEADS)
    for lead, link in product((1, 0) if said else (0,), (*_AS_IN, *_SPELLED_WITH)):
        size = len(link.split())
        end = i + lead + size
        if end > len(words) or " ".join(words[i + lead : end]) != link:
            continue
        if not lead and link not in _AS_IN:
            continue
        keyword = words[end] if end < len(words) else ""
        if keyword == "x" and words[end + 1 : end + 2] == ["ray"]:
            return "X", end + 2 - i  # "X as in x-ray"
        # A letter for the word only after a whole "as in" ("R and T" is two letters).
        if keyword.isalpha() and keyword not in _NOT_KEYWORDS and (size > 1 or len(keyword) > 1):
            return keyword[0].upper(), end + 1 - i
        if lead and link in _AS_IN and (letter := _letter(w)) is not None:
            return letter, end - i
    return None


def _spelled_out(words: Sequence[str], i: int) -> int:
    """How many letters at ``words[i]`` may spell the rest of an "as in" word ASR wrote as
    letters ("M as in Mary" as "M is in M, R", "L as in Lucy" as "L is in L.C."): single
    letters, up to the next letter spelled with a word of its own.
    """
    j = i
    while j < min(len(words), i + 4) and len(words[j]) == 1 and words[j].isalpha():
        if _spelled_letter(words, j) is not None:
            break
        j += 1
    return j - i


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
            spelled = _spelled_letter(words, i)
            if spelled is not None:
                out.append(_Piece(spelled[0], True))
                i += spelled[1]
                if len(words[i - 1]) == 1:  # the word written as letters: each may be dropped
                    tail = _spelled_out(words, i)
                    out += [_Piece("", False, w.upper()) for w in words[i : i + tail]]
                    i += tail
                continue
            if (w, nxt) in _TWO_WORD_LETTERS:
                out.append(_Piece(_TWO_WORD_LETTERS[w, nxt], False))
                i += 2
                continue
        if w in _REPEAT and nxt:
            inner = _pieces([nxt], letters)
            if inner and inner[0] is not None:
                # Only the first digit repeats: Whisper writes "double oh one" as "double 01"
                # and "double two seven" as "double 27".
                text = inner[0].text
                out.append(_Piece(text[:1] * _REPEAT[w] + text[1:], True))
                i += 2
                continue
        if nxt == _EIGHT_AFTER_TEN and (ten := _TENS.get(w) or _ten_numeral(w)):
            out.append(_Piece(ten + "8", True))
            i += 2
            continue
        if w.isdigit():
            out.append(_Piece(w, True))
        elif re.fullmatch(r"[a-z]+\d[a-z0-9]*|\d+[a-z]+[a-z0-9]*", w):
            out.append(_Piece(w.upper(), True))
        elif (w in _UNITS or w == "a") and nxt == "hundred":
            rest, used = _two_digits(words[i + 2 : i + 5])  # "and fifty six" is three words
            group = _UNITS.get(w, "1") + (rest or "00")
            if used and words[i + 1 + used] in _UNITS:
                # Commas are lost: "four hundred fifty six" is 456, "four hundred fifty, one
                # two three" 450123 and "nine hundred, one two three" 900123. The pattern picks.
                out += [_Piece(group[:2], True), _Piece(group[2], True, "0" + group[2])]
            else:
                out.append(_Piece(group, True))
            i += 2 + used
            continue
        elif w in _UNITS:
            out.append(_Piece(_UNITS[w], True))
        elif w in _TEENS:
            out.append(_Piece(_TEENS[w], True))
        elif w in _TENS:
            if nxt in _UNITS and nxt not in _ZEROS and nxt != "niner":
                out.append(_Piece(_TENS[w] + _UNITS[nxt], True))
                i += 2
                continue
            out.append(_Piece(_TENS[w] + "0", True))
        elif w in _WEAK:
            letter = w[0].upper() if letters and w[0] in "ol" else ""
            out.append(_Piece(_WEAK[w], False, letter))
        elif w in _NATO:  # in a letter code a letter, so kept when a code is split over turns
            out.append(_Piece(_NATO[w], letters))
        elif w in _FILLERS:
            out.append(_Piece("", False))
        elif letters and w == "and":  # "N" said alone ("en") is written "and": "And R 3 3 4 ..."
            out.append(_Piece("", False, "N"))
        elif letters and (spoken := _letter(w)) is not None:
            # "a", "i" and the letter names ("see", "are") are words too
            out.append(_Piece(spoken, w not in _LETTER_NAMES and w not in ("a", "i")))
        else:
            out.append(None)
        i += 1
    return out


def _ten_numeral(word: str) -> str | None:
    """The tens digit of a ten written as a numeral ("80" -> "8"), else None."""
    return word[0] if len(word) == 2 and word[0] in "23456789" and word[1] == "0" else None


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
        if w in _TENS and nxt in _UNITS and nxt not in _ZEROS:
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
