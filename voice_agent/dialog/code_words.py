"""The words callers say a code with, as ASR writes them: number words and the words that are
digits only next to digits ("oh", "won", "for"), letter names, NATO words and "B as in boy".

:mod:`voice_agent.dialog.codes` reads codes out of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product

from rapidfuzz import fuzz, process

from voice_agent.dialog.normalize import tokens

UNITS = {
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
WEAK = {"oh": "0", "o": "0", "or": "4", "owe": "0", "l": "0", "won": "1", "to": "2",
        "too": "2", "for": "4", "fore": "4", "ate": "8", "tree": "3", "free": "3"}  # fmt: skip
# "eight" after a ten runs into it: Whisper writes "eighty eight" as "80 day" or "eighty day".
EIGHT_AFTER_TEN = "day"
# A zero after a ten stays a digit of its own: "twenty zero" is 200, where "twenty five" is 25.
ZEROS = {"zero", "nought", "naught"}
TEENS = {
    "ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14",
    "fifteen": "15", "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19",
}  # fmt: skip
TENS = {"twenty": "2", "thirty": "3", "forty": "4", "fourty": "4", "fifty": "5", "sixty": "6",
        "seventy": "7", "eighty": "8", "ninety": "9"}  # fmt: skip
REPEAT = {"double": 2, "triple": 3}
FILLERS = {"uh", "um", "er", "erm", "dash", "hyphen"}
NATO = {
    "alpha": "A", "alfa": "A", "bravo": "B", "charlie": "C", "delta": "D", "echo": "E",
    "foxtrot": "F", "golf": "G", "hotel": "H", "india": "I", "juliet": "J", "juliett": "J",
    "kilo": "K", "lima": "L", "mike": "M", "november": "N", "oscar": "O", "papa": "P",
    "quebec": "Q", "romeo": "R", "sierra": "S", "tango": "T", "uniform": "U", "victor": "V",
    "whiskey": "W", "whisky": "W", "xray": "X", "yankee": "Y", "zulu": "Z",
}  # fmt: skip
#: Each letter's NATO word, as the agent says it and as Whisper writes it: "X-ray", "Juliet".
NATO_ALPHABET = {
    letter: "X-ray" if word == "xray" else word.capitalize()
    for word, letter in NATO.items()
    if word not in ("alfa", "juliett", "whisky")
}
# How ASR writes a letter said on its own (letter codes only); "a" and "i" are words too.
LETTER_NAMES = {
    "ay": "A", "bee": "B", "be": "B", "see": "C", "sea": "C", "cee": "C", "dee": "D",
    "eff": "F", "ef": "F", "gee": "G", "aitch": "H", "eye": "I", "jay": "J", "kay": "K",
    "el": "L", "em": "M", "en": "N", "pee": "P", "pea": "P", "cue": "Q", "queue": "Q",
    "are": "R", "ar": "R", "ess": "S", "tee": "T", "tea": "T", "you": "U", "vee": "V",
    "ex": "X", "why": "Y", "zee": "Z", "zed": "Z",
}  # fmt: skip
# "double you" is W before it is a double U; "X-ray" comes out of clean() as two words.
TWO_WORD_LETTERS = {("double", "you"): "W", ("double", "u"): "W", ("x", "ray"): "X"}
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
    *UNITS, *TEENS, *TENS, *REPEAT, *(w for w in WEAK if len(w) > 1),
}  # fmt: skip
# Short words that start a sentence with "is in"/"is not" rather than misheard letters.
_NOT_LEADS = {"it", "this", "that", "what", "who", "she", "they", "we", "mine", "one"}
# A NATO word as ASR spells it: same first letter and this close (rapidfuzz ratio): "charley",
# "gulf", "indian"; "keelo" (66) and "lena" (50) are not taken.
_NATO_NEAR = 75.0
_NATO_WORDS = tuple(NATO)


def letter_said(word: str) -> str | None:
    """The letter a word is, said on its own (letter codes only)."""
    if len(word) == 1 and word.isalpha():
        return word.upper()
    if word in LETTER_NAMES:
        return LETTER_NAMES[word]
    if word in NATO:
        return NATO[word]
    if len(word) >= 4:
        near = process.extractOne(word, _NATO_WORDS, scorer=fuzz.ratio, score_cutoff=_NATO_NEAR)
        if near is not None and near[0][0] == word[0]:
            return NATO[near[0]]
    return None


def spelled_letter(words: Sequence[str], i: int) -> tuple[str, int] | None:
    """The letter of "B as in boy" at ``words[i]``, and how many words that took.

    The letter said before the link may be misheard as a short word ("See as in zebra" is Z,
    "Tay is in King" K, "am as in Mary" M) and before "as in" missing; the other links need
    one ("B for boy"). When the word after a whole "as in" is lost ("B as in, oh one ..."),
    the letter said before it stands.
    """
    w = words[i]
    said = letter_said(w) is not None or (w.isalpha() and len(w) <= 4 and w not in _NOT_LEADS)
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
        if lead and link in _AS_IN and (letter := letter_said(w)) is not None:
            return letter, end - i
    return None


def spelled_out(words: Sequence[str], i: int) -> int:
    """How many letters at ``words[i]`` may spell the rest of an "as in" word ASR wrote as
    letters ("M as in Mary" as "M is in M, R", "L as in Lucy" as "L is in L.C."): single
    letters, up to the next letter spelled with a word of its own.
    """
    j = i
    while j < min(len(words), i + 4) and len(words[j]) == 1 and words[j].isalpha():
        if spelled_letter(words, j) is not None:
            break
        j += 1
    return j - i


def ten_numeral(word: str) -> str | None:
    """The tens digit of a ten written as a numeral ("80" -> "8"), else None."""
    return word[0] if len(word) == 2 and word[0] in "23456789" and word[1] == "0" else None


def two_digits(words: Sequence[str]) -> tuple[str | None, int]:
    """Read the two digits after "hundred": "eighty one" -> "81", "five" -> "05"."""
    if words and words[0] == "and":
        inner, used = two_digits(words[1:])
        return inner, used + 1 if inner else 0
    if not words:
        return None, 0
    w = words[0]
    if w in TEENS:
        return TEENS[w], 1
    if w in TENS:
        if len(words) > 1 and words[1] in UNITS:
            return TENS[w] + UNITS[words[1]], 2
        return TENS[w] + "0", 1
    if w in UNITS:
        return "0" + UNITS[w], 1
    return None, 0


def words_to_numbers(text: str) -> str:
    """Cleaned text with number words as digits: "size forty three" -> "size 43"."""
    words = tokens(text)
    out: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if w in TENS and nxt in UNITS and nxt not in ZEROS:
            out.append(TENS[w] + UNITS[nxt])
            i += 2
            continue
        if w in TENS:
            out.append(TENS[w] + "0")
        elif w in TEENS:
            out.append(TEENS[w])
        elif w in UNITS and w != "one":  # "the blue one" stays a word
            out.append(UNITS[w])
        else:
            out.append(w)
        i += 1
    return " ".join(out)
