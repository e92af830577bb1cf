"""Turn-taking decisions, kept pure so they can be tested without a pipeline.

* End of turn: the VAD ends a turn after a short silence, which is fast but cuts off a caller who
  pauses inside an order number ("four eight one ... five two six"). When the dialog is waiting for
  an order number and the turn holds only part of one, the turn is held open for the rest. The
  other way round, a turn whose early transcript reads as a whole answer ("Yes, that's right.")
  ends before the VAD's hangover has run out.
* Barge-in: caller speech over an interruptible prompt stops it, but only once it has lasted long
  enough to be speech rather than a cough or an "uh-huh".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from voice_agent.dialog.codes import find_code

# Only sounds that can't be an answer: "yeah" or "okay" said over "Shall I open the return?" is one.
# Said over a prompt, these acknowledge it; spelled with repeated letters squeezed ("Mmm." and
# "hmmm" are "m" and "hm"). Whisper hears a phone-line "uh-huh" as "Oh." too.
_SQUEEZE = re.compile(r"(.)\1+")
BACKCHANNELS = frozenset(
    ["uh-huh", "uh", "huh", "um", "m", "hm", "mhm", "m-hm", "m-huh", "oh", "ah"]
    # and now and then (the barge-in bench, the e2e test) as these, which answer nothing either
    # ("And mm-hmm.": Whisper going on from the "Mm-hmm. Uh-huh." of its prompt)
    + ["uh-oh", "so", "wow", "and"]
    # Thanks said over a prompt acknowledge it too ("Thank you." over "Your return number is:
    # ..." is no reason to stop reading it; the dialog takes these words for fillers). And
    # Whisper writes "Thank you." for noise or a prompt's own echo (CI's e2e test of a line
    # that echoes 700 ms late, 1.3 s into "What's your order number?").
    + ["thank", "thanks", "you"]
)


@dataclass(frozen=True)
class CodeSlot:
    """What a complete code (order number) looks like: the dialog's pattern and its length."""

    name: str
    pattern: str
    length: int


def partial_code(text: str, pending: str | None, slot: CodeSlot | None) -> bool:
    """True when the dialog asked for ``slot`` and ``text`` holds only the start of one."""
    if slot is None or pending != slot.name:
        return False
    match, heard = find_code(text, slot.pattern)
    return match is None and heard is not None and 0 < len(heard) < slot.length


# Words a sentence doesn't end on: a transcript ending with one was cut mid-thought, whatever
# punctuation Whisper put after it.
_DANGLING = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "so",
        "because",
        "if",
        "my",
        "our",
        "your",
        "his",
        "her",
        "their",
        "to",
        "of",
        "for",
        "from",
        "with",
        "at",
        "in",
        "on",
        "is",
        "are",
        "was",
        "it's",
        "its",
        "i",
        "i'm",
        "we",
        "uh",
        "um",
        "er",
        "like",
    ]
)
# Said alone to an open question ("How can I help you today?") these answer nothing: they
# begin the answer ("No, I need a refund.", "Hello? Are you a real person?"), and Whisper puts a
# full stop in the comma's pause (the barge-in bench: "No." answered, then "I need a refund.").
_OPENERS = frozenset(
    ["yes", "yeah", "yep", "no", "nope", "okay", "ok", "hi", "hello", "hey", "well", "right"]
)
_WORD = re.compile(r"[a-z']+|\d+")


def turn_is_complete(
    text: str,
    pending: str | None,
    slot: CodeSlot | None,
    open_question: bool = False,
    over_prompt: bool = False,
) -> bool:
    """Whether a transcript taken before the VAD ended the turn can be answered right away.

    Whisper ends a sentence it heard finish with '.', '?' or '!'; a caller's "My order number
    is ..." pause comes out without one, with "...", or ending on a word no sentence ends on.
    A partial order number is never complete (the dialog would hold it anyway), nor, when the
    dialog asked an ``open_question``, a bare "no" or "hello". A bare "uh-huh" is complete
    only when the turn began ``over_prompt``: it acknowledges the prompt, which then goes on
    without waiting for the VAD's hangover.
    """
    stripped = text.strip()
    if not stripped or stripped[-1] not in ".?!" or stripped.endswith(".."):
        return False  # no full stop, or Whisper's "..." for a voice trailing off
    words = _WORD.findall(stripped.lower())
    if not words or words[-1] in _DANGLING:
        return False
    if is_backchannel(stripped):
        return over_prompt
    if open_question and all(w in _OPENERS for w in words):
        return False
    return not partial_code(stripped, pending, slot)


def is_backchannel(text: str) -> bool:
    """An acknowledgement ("uh-huh", "mm-hmm") said over a prompt, not a turn of its own."""
    words = [_squeezed(t) for t in text.split()]
    return bool(words) and all(w in BACKCHANNELS for w in words)


# Said over a prompt that has asked nothing yet, these acknowledge what it says ("Okay." over
# "To confirm: you're returning ..."); over a question they answer it, and stay answers.
# Whisper also writes them for an "uh-huh" or a noise over the prompt's echo ("All right.").
_ACKNOWLEDGING = frozenset(["okay", "ok", "alright", "right", "all right", "got it", "i see"])


def is_acknowledgement(text: str) -> bool:
    """Words that only acknowledge ("Okay.", "All right, thanks."): each an acknowledging word
    or a backchannel, one of them at least acknowledging. They answer a question once the
    prompt has asked one (:meth:`PromptProgress.asked
    <voice_agent.pipeline.prompt_playback.PromptProgress.asked>`): the dialog's to weigh.
    """
    tokens = text.split()
    words = [t.strip(".,!?").lower() for t in tokens]
    k, acknowledged = 0, False
    while k < len(words):
        if " ".join(words[k : k + 2]) in _ACKNOWLEDGING:
            k, acknowledged = k + 2, True
        elif words[k] in _ACKNOWLEDGING:
            k, acknowledged = k + 1, True
        elif _squeezed(tokens[k]) in BACKCHANNELS:
            k += 1
        else:
            return False
    return acknowledged


def is_own_echo(text: str, prompt: str) -> bool:
    """Words heard over ``prompt`` (what of it has been played) that are only its own words,
    and backchannels: on a line that echoes, the prompt coming back, not the caller ("Mm-hmm.
    Thanks for calling." over "Hi, thanks for calling ...": an echo later than the canceller
    had yet found leaks into the caller's turn). A word may be the start of one of the
    prompt's ("Calling the returns and re-", "Calling the return."): the turn ends while the
    echo is still talking. A caller who answers with words of the prompt they have heard
    ("Refund." over "A refund or an exchange?") is taken for it too: the prompt goes on, and
    asks again.
    """
    said = _WORD.findall(prompt.lower())

    def of_the_prompt(word: str) -> bool:
        return any(w == word or len(word) > 1 and w.startswith(word) for w in said)

    def echoed(token: str) -> bool:
        words = _WORD.findall(token.lower())
        return _squeezed(token) in BACKCHANNELS or bool(words) and all(map(of_the_prompt, words))

    tokens = text.split()
    return bool(tokens) and all(echoed(t) for t in tokens)


def _squeezed(token: str) -> str:
    return _SQUEEZE.sub(r"\1", token.strip(".,!?").lower())


def code_slot_of(spec: Any) -> CodeSlot | None:
    """The dialog's order-number slot (type ``order_number`` with a pattern and a length)."""
    for name, slot in (getattr(spec, "slots", None) or {}).items():
        if getattr(slot, "type", None) == "order_number" and slot.pattern and slot.dtmf_digits:
            return CodeSlot(name=name, pattern=slot.pattern, length=slot.dtmf_digits)
    return None
