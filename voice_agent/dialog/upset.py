"""A scored upset detector over the last few caller turns (not a single keyword).

Each turn scores the weights of the lexicon phrases in it (profanity weighs more than
"ridiculous"), plus a bump for a run of negatives ("no no no"). The caller's level is the
decayed sum over the last ``window`` turns, so one sharp word is absorbed with an apology,
while sustained anger or abuse crosses the threshold and goes to a person.
"""

from __future__ import annotations

from collections.abc import Sequence

from voice_agent.dialog.normalize import tokens
from voice_agent.dialog.spec import UpsetSpec

_NEGATIVES = {"no", "not", "never", "nope", "nothing", "wrong"}


def _has_negative(text: str) -> bool:
    return any(w in _NEGATIVES for w in tokens(text))


def turn_score(text: str, spec: UpsetSpec, earlier: Sequence[str] = ()) -> float:
    """How upset one turn sounds (0 = calm).

    ``earlier`` are the caller's previous turns, oldest first: the ``negative_run``-th negative
    turn in a row ("no." "no!" "NO.") adds ``negative_weight`` too.
    """
    words = tokens(text)
    score = 0.0
    for phrase, weight in spec.lexicon.items():
        # exact words only: fuzzy matching would turn "shirt" into a swear word
        pw = phrase.split()
        for start in range(len(words) - len(pw) + 1):
            if words[start : start + len(pw)] == pw:
                score += weight
    negatives = sum(1 for w in words if w in _NEGATIVES)
    if negatives >= spec.negative_run:
        score += spec.negative_weight * (negatives - spec.negative_run + 1)
    run = [*list(earlier)[-(spec.negative_run - 1) :], text]
    if len(run) == spec.negative_run and all(_has_negative(t) for t in run):
        score += spec.negative_weight
    return score


def level(scores: Sequence[float], spec: UpsetSpec) -> float:
    """Decayed sum of the last ``window`` turn scores, newest weighted 1."""
    recent = list(scores)[-spec.window :]
    return sum(s * spec.decay**age for age, s in enumerate(reversed(recent)))
