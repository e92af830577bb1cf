"""Turn what a caller said (as ASR wrote it) into values the dialog can match.

Everything here is pure text processing: yes/no in its many forms, phrase spotting with
negation, and fuzzy matching of item names. Order numbers and other codes are in
:mod:`voice_agent.dialog.codes`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

# Token similarity (rapidfuzz ``ratio``, 0-100) at which two words count as the same word.
# 85 accepts plurals and one-letter ASR slips ("shoe"/"shoes" 89, "return"/"returned" 86,
# "jaket"/"jacket" 91) and rejects different words ("shoes"/"shows" 80, "small"/"smell" 80,
# "return"/"refund" 67). tests/dialog/test_normalize.py pins these cases.
TOKEN_MATCH = 85.0
_MIN_FUZZY_LEN = 4  # shorter words must match exactly: "too"/"two", "fit"/"fat"

_CONTRACTIONS = [
    (r"\bwon't\b", "will not"),
    (r"\bcan't\b", "can not"),
    (r"\bcannot\b", "can not"),
    (r"\bain't\b", "is not"),
    (r"n't\b", " not"),
    (r"'re\b", " are"),
    (r"'m\b", " am"),
    (r"'ll\b", " will"),
    (r"'ve\b", " have"),
    (r"'d\b", " would"),
    (r"\b(it|that|what|where|there|he|she|who|how|here|this)'s\b", r"\1 is"),
    (r"'s\b", ""),
]


# ASR (and people typing in chat) often drop the apostrophe. "wont"/"cant" stay out: they are
# also words, and "won" is a digit homophone.
_BARE = {
    "dont": "do not", "doesnt": "does not", "didnt": "did not", "isnt": "is not",
    "wasnt": "was not", "arent": "are not", "werent": "were not", "havent": "have not",
    "hasnt": "has not", "hadnt": "had not", "couldnt": "could not", "wouldnt": "would not",
    "shouldnt": "should not", "im": "i am", "ive": "i have", "theyre": "they are",
    "youre": "you are", "thats": "that is", "whats": "what is", "wheres": "where is",
    "hows": "how is", "itll": "it will", "ill": "i will",
}  # fmt: skip


def clean(text: str) -> str:
    """Lower-case, expand contractions, and keep only letters, digits and single spaces."""
    out = text.lower().replace("\u2019", "'").replace("`", "'")
    for pattern, repl in _CONTRACTIONS:
        out = re.sub(pattern, repl, out)
    # Whisper writes a spoken "oh" before digits as a glued letter: "O2 46 61" is 0 2 4 6 6 1.
    out = re.sub(r"\bo(?=\d)", "o ", re.sub(r"[^a-z0-9]+", " ", out))
    return " ".join(_BARE.get(w, w) for w in out.split())


def tokens(text: str) -> list[str]:
    """Words of :func:`clean` text."""
    cleaned = clean(text)
    return cleaned.split() if cleaned else []


# --- yes / no -----------------------------------------------------------------------------------
_UNSURE = ["not sure", "do not know", "no idea", "maybe", "i guess not sure"]
_NO = [
    "no", "nope", "nah", "negative", "not really", "not right", "not correct", "that is wrong",
    "wrong", "incorrect", "do not", "not quite", "no thanks", "no thank you", "nothing else",
    "not yet", "never", "not at all", "i did not", "it did not", "did not",
]  # fmt: skip
_YES = [
    "yes", "yeah", "yea", "yep", "yup", "ya", "sure", "correct", "right", "that is right",
    "ok", "okay", "alright", "all right", "please do", "go ahead", "absolutely", "of course",
    "affirmative", "uh huh", "mhm", "sounds good", "do it", "exactly", "definitely", "that is it",
    "perfect", "i did", "it did", "i have", "got it", "yes please", "please", "indeed",
]  # fmt: skip


def yes_no(text: str) -> bool | None:
    """Classify a turn: True for yes, False for no, None when the turn is neither (or unsure)."""
    words = tokens(text)
    if not words or find_phrases(words, _UNSURE, fuzzy=False):
        return None
    # exact words: fuzzily, "correct" would be "incorrect"
    no = find_phrases(words, _NO, negation=False, fuzzy=False)
    yes = find_phrases(words, _YES, negation=False, fuzzy=False)
    if no and yes:
        # "yes, no problem" vs "no, that's not right": the first word of the turn decides.
        return min(yes, key=lambda h: h.start).start < min(no, key=lambda h: h.start).start
    if no:
        return False
    if yes:
        return True
    return None


# --- phrases ------------------------------------------------------------------------------------
_NEGATORS = {"not", "never", "instead"}
_NEGATION_WINDOW = 3


def word_match(said: str, expected: str) -> bool:
    """Whether a spoken word is the expected word, allowing small ASR slips on longer words."""
    if said == expected:
        return True
    if len(said) < _MIN_FUZZY_LEN or len(expected) < _MIN_FUZZY_LEN:
        return False
    # A slip changes a letter or two, or adds an ending ("refunded"); it does not add a prefix:
    # "change" is not "exchange" (ratio 86).
    inflected = said.startswith(expected) or expected.startswith(said)
    if abs(len(said) - len(expected)) > 1 and not inflected:
        return False
    return fuzz.ratio(said, expected) >= TOKEN_MATCH


@dataclass(frozen=True)
class Hit:
    phrase: str
    start: int
    length: int  # words of the phrase
    negated: bool
    span: int = 0  # words of the turn it covers (more than ``length`` when gapped)

    @property
    def gapped(self) -> bool:
        return self.span > self.length


def _match_at(
    words: Sequence[str], pw: Sequence[str], start: int, fuzzy: bool, max_gap: int
) -> int | None:
    """End index of ``pw`` matched from ``words[start]`` with at most ``max_gap`` extra words
    in between (all gaps together), or None.
    """
    same = word_match if fuzzy else str.__eq__
    if not same(words[start], pw[0]):
        return None
    pos, gaps = start + 1, 0
    for expected in pw[1:]:
        while pos < len(words) and not same(words[pos], expected):
            pos, gaps = pos + 1, gaps + 1
            if gaps > max_gap:
                return None
        if pos >= len(words):
            return None
        pos += 1
    return pos


def find_phrases(
    words: Sequence[str],
    phrases: Iterable[str],
    negation: bool = True,
    fuzzy: bool = True,
    max_gap: int = 0,
) -> list[Hit]:
    """Every occurrence of each phrase (a word sequence, fuzzy per word) in ``words``.

    With ``negation``, a hit preceded within three words by "not"/"never"/"instead" is marked
    ``negated`` ("I do not want a refund", "not the shoes, the jacket"). ``max_gap`` lets other
    words sit inside a phrase ("the price of the watch dropped" for "price dropped").
    """
    hits: list[Hit] = []
    for phrase in phrases:
        pw = phrase.split()
        if not pw:
            continue
        for start in range(len(words)):
            end = _match_at(words, pw, start, fuzzy, max_gap)
            if end is not None:
                before = words[max(0, start - _NEGATION_WINDOW) : start]
                neg = negation and any(w in _NEGATORS for w in before)
                hits.append(Hit(phrase, start, len(pw), neg, end - start))
    return hits


def best_phrase_key(
    words: Sequence[str],
    table: Mapping[str, Sequence[str]],
    last: bool = False,
    max_gap: int = 0,
) -> str | None:
    """Pick the key whose phrases give the longest non-negated hit.

    Exact (gap-free) hits beat gapped ones; ties go to the later hit, then to the earlier key.
    With ``last`` the hit that ends last wins (callers correct themselves: "too small, no
    wait, it's defective").
    """
    best: tuple[int, int, int, int] | None = None
    best_key: str | None = None
    for rank, (key, phrases) in enumerate(table.items()):
        for hit in find_phrases(words, phrases, max_gap=max_gap):
            if hit.negated:
                continue
            end = hit.start + hit.span
            exact = 0 if hit.gapped else 1
            score = (
                (end, exact, hit.length, -rank) if last else (exact, hit.length, hit.start, -rank)
            )
            if best is None or score > best:
                best, best_key = score, key
    return best_key


# --- items --------------------------------------------------------------------------------------
_ITEM_STOP = {"the", "a", "an", "of", "set", "and", "with", "my", "one", "pair"}
_ORDINALS = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "last": -1}


def match_item(text: str, names: Sequence[str]) -> int | None:
    """Index of the item the caller means, or None when nothing (or more than one) fits.

    Each item scores the share of its name's words the caller said (fuzzy per word, with
    adjacent spoken words also tried joined: "head phones"). Words after "not" don't count.
    "the first one" / "the second one" pick by position.
    """
    words = tokens(text)
    for i, w in enumerate(words):
        if w in _ORDINALS and (i + 1 < len(words) and words[i + 1] in ("one", "item", "thing")):
            idx = _ORDINALS[w]
            return idx % len(names) if names and idx < len(names) else None
    joined = [a + b for a, b in zip(words, words[1:], strict=False)]
    negated = {
        i for i in range(len(words))
        if any(w in _NEGATORS for w in words[max(0, i - _NEGATION_WINDOW + 1) : i])
    }  # fmt: skip
    scores: list[float] = []
    for name in names:
        name_words = [w for w in tokens(name) if w not in _ITEM_STOP]
        if not name_words:
            scores.append(0.0)
            continue
        hit = 0
        for nw in name_words:
            positive = any(word_match(w, nw) for i, w in enumerate(words) if i not in negated)
            if positive or any(word_match(j, nw) for j in joined):
                hit += 1
        scores.append(hit / len(name_words))
    top = max(scores, default=0.0)
    if top <= 0.0 or scores.count(top) > 1:
        return None
    return scores.index(top)


_ALL = ["both", "all of them", "all items", "all the items", "everything", "whole order",
        "entire order", "all of it"]  # fmt: skip


def means_all_items(text: str) -> bool:
    """Whether the caller means every item ("both of them", "the whole order")."""
    return bool(find_phrases(tokens(text), _ALL, negation=False, fuzzy=False))
