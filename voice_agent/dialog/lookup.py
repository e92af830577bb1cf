"""The OMS's answer to an order lookup, and the sound-alikes of a letter code it does not have.

A caller's "Z B 2 3 5 ..." reaches the dialog as "C B 2 3 5 ..." when the phone line blurs the
letter. When the OMS has no order under the code heard, and the dialog's order numbers hold
letters, the codes it may have been (:func:`sound_alikes`) are looked up one after the other,
likeliest first; the first the OMS has is offered to the caller as a yes/no question ("Did you
mean Z as in Zulu, ...?"). Keys typed for such a code are looked up and offered the same way: the
codes their letters can make (:func:`~voice_agent.dialog.keypad.keypad_codes`), one after the
other. Each lookup is an action and its answer an event, so a call record shows every code tried
and replay repeats them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Any

from voice_agent.dialog.codes import admits_letters, read_back
from voice_agent.dialog.flows import advance
from voice_agent.dialog.keypad import keypad_codes
from voice_agent.dialog.normalize import find_phrases
from voice_agent.dialog.spec import DialogSpec
from voice_agent.dialog.turn import ORDER_BOUND, Turn
from voice_agent.dialog.types import OrderLookedUp
from voice_agent.oms.models import Order

#: The dialog prompt that offers a sound-alike; a dialog without it does not look them up.
SOUND_ALIKE_PROMPT = "order_sound_alike"
#: Its optional follow-up, asking for the number again after the caller's no.
DECLINED_PROMPT = "order_sound_alike_no"
#: The prompt that offers the code found for keys typed; without it keys are read as digits.
KEYPAD_PROMPT = "order_keypad_match"
#: Asks for the order number again when the caller says the order found is not theirs; a dialog
#: without it goes on as before.
NOT_THEIRS_PROMPT = "order_not_theirs"
#: Asks for the keys when the number heard again is that of an order the caller said is not
#: theirs; a dialog without it looks that number up again.
HEARD_AGAIN_PROMPT = "order_heard_again"

Probes = Callable[[str], list[str]]


# The letters a caller may have said, for each letter as ASR heard it on a phone line, likeliest
# first. The band stops at 3.4 kHz, where "S" and "F" differ, and the E-set (B C D E G P T V Z)
# differs only in its first tens of ms; in bench/letter_codes.py's misses Z came out as C, D or
# T, G and P as T, B as V, S as F. Not listed letters (H, L, O, R, W) were not confused there.
_SOUND_ALIKE = {
    "B": "VPDEGTZC", "C": "ZTEGDPBV", "D": "ZTBGEPVC", "E": "BDGPTVZC", "G": "TDJZEBPV",
    "P": "TBEGDVZC", "T": "GDPZCBEV", "V": "BZDPEGTC", "Z": "CDTVGBEP",
    "F": "SX", "S": "FX", "X": "SF", "M": "N", "N": "M",
    "A": "JK", "J": "GAK", "K": "AJ", "I": "Y", "Y": "I", "Q": "U", "U": "Q",
}  # fmt: skip
# Two letters misheard at once ("T T" for "P P") are tried with each letter's likeliest few.
_SOUND_ALIKE_PAIRS = 3
# A teen and its ten differ only in how they end, which the line blurs too: "fourteen" came out
# "40" and "seventy" "17" in bench/letter_codes.py. Any two digits of the code may be one.
_TEEN_OR_TEN = re.compile(r"(?=(1[3-9]|[3-9]0))")


def sound_alikes(code: str, pattern: str) -> list[str]:
    """Codes a caller may have said where ASR heard ``code``, likeliest first: one letter
    swapped for one that sounds like it on a phone line (each letter's likeliest before any
    letter's second), then a teen for its ten or a ten for its teen ("40" for "14", "17" for
    "70"), then two letters at once. Only codes that match ``pattern``.

    For an order number the OMS does not have: the one of these it has is likely the caller's.
    """
    regex = re.compile(pattern)
    upper = code.upper()
    letters = [i for i, ch in enumerate(upper) if ch in _SOUND_ALIKE]
    singles = [(rank, {i: alt}) for i in letters for rank, alt in enumerate(_SOUND_ALIKE[upper[i]])]
    pairs = [
        (ra + rb, {i: a, j: b})
        for n, i in enumerate(letters)
        for j in letters[n + 1 :]
        for ra, a in enumerate(_SOUND_ALIKE[upper[i]][:_SOUND_ALIKE_PAIRS])
        for rb, b in enumerate(_SOUND_ALIKE[upper[j]][:_SOUND_ALIKE_PAIRS])
    ]
    swaps = [swap for _, swap in sorted(singles, key=lambda s: s[0])]
    for m in _TEEN_OR_TEN.finditer(upper):
        other = m[1][1] + "0" if m[1][0] == "1" else "1" + m[1][0]  # "17" <-> "70"
        swaps.append({m.start(): other[0], m.start() + 1: other[1]})
    swaps += [swap for _, swap in sorted(pairs, key=lambda s: s[0])]
    out: list[str] = []
    for swap in swaps:
        variant = "".join(swap.get(i, ch) for i, ch in enumerate(upper))
        if variant not in out and regex.fullmatch(variant):
            out.append(variant)
    return out


def sound_alike_probes(spec: DialogSpec, pattern: str) -> Probes:
    """The codes to look up after an order number ``pattern`` the OMS does not have: its
    sound-alikes (:func:`_offered`).
    """
    return _offered(spec, pattern, SOUND_ALIKE_PROMPT, sound_alikes)


def keypad_probes(spec: DialogSpec, pattern: str) -> Probes:
    """The codes to look up for keys typed for an order number ``pattern``: the codes their
    letters make (:func:`_offered`).
    """
    return _offered(spec, pattern, KEYPAD_PROMPT, keypad_codes)


def _offered(
    spec: DialogSpec, pattern: str, prompt: str, codes: Callable[..., list[str]]
) -> Probes:
    """``codes`` of ``pattern`` where the pattern holds letters and the dialog has the
    ``prompt`` that offers the one found, else none.
    """
    if admits_letters(pattern) and prompt in spec.prompts:
        return partial(codes, pattern=pattern)
    return lambda _code: []


def look_up_keys(t: Turn, keys: str, codes: list[str]) -> None:
    """Look up the ``codes`` that the ``keys`` typed may be, one after the other."""
    if "order_id" in t.s.slots:  # a different order: its item choices no longer apply
        t.drop_slots("order_id", *ORDER_BOUND)
    t.set(order=None, partial="", keys=keys, probes=tuple(codes))
    t.lookup(codes[0])


def on_order_looked_up(t: Turn, event: OrderLookedUp, probes_for: Probes) -> Order | None:
    """Act on the OMS's answer; the order when it is the one the caller gave, else None."""
    s = t.s
    waited_for = s.probes[0] if s.probes else s.slots.get("order_id")
    if s.phase != "lookup" or event.order_id != waited_for:
        return None  # a stale answer for a number the caller has since corrected
    if event.error is not None:
        t.set(probes=(), keys="")
        t.drop_slots("order_id")
        t.propose("oms_down", {"kind": "transfer", "reason": "order system unavailable"})
        return None
    if event.order is not None and not s.probes:
        return event.order
    heard = s.keys or str(s.slots["order_id"])
    turned_down = (*s.rejected, *s.declined)  # not offered again: the next probe instead
    if event.order is not None and event.order_id not in turned_down:
        t.set(probes=(), keys="")
        t.drop_slots("order_id", *ORDER_BOUND)
        proposal = {"kind": "order", "order_id": event.order_id}
        alike = read_back(event.order_id)
        if s.keys:
            t.propose(KEYPAD_PROMPT, proposal, alike=alike)
        else:
            t.propose(SOUND_ALIKE_PROMPT, proposal, heard=read_back(heard), alike=alike)
        return None
    probes = s.probes[1:] if s.probes else tuple(probes_for(heard))
    t.set(probes=probes)
    if probes:
        t.lookup(probes[0])
        return None
    t.set(keys="")
    t.drop_slots("order_id", *ORDER_BOUND)
    _ask_again(t, heard)
    return None


def answer_offer(t: Turn, proposal: dict[str, Any], yes: bool, pattern: str) -> None:
    """The caller's yes or no to "Did you mean ...?": a yes looks the offered code up. A no to
    a sound-alike or a keypad code asks again, and that code is not offered again; a no to an
    order on file
    (:mod:`~voice_agent.dialog.on_file`) goes on with the number heard.
    """
    code, heard = str(proposal["order_id"]), proposal.get("heard")
    t.set(proposal=None)
    if yes:
        t.set_slot("order_id", code)
        advance(t)
    elif heard is None:
        t.set(declined=(*t.s.declined, code))
        _ask_again(t, None)
    else:
        t.set(on_file=tuple(o for o in t.s.on_file if o != code))  # not offered again
        if re.fullmatch(pattern, str(heard)):
            t.set_slot("order_id", str(heard))
            advance(t)
        else:
            t.drop_slots("order_id")
            t.tell("order_invalid", heard=read_back(str(heard)))
            if t.bump("order_id") >= t.spec.limits.max_attempts:
                t.transfer("no answer understood for order_id", "transfer_stuck")
            else:
                advance(t)


def _ask_again(t: Turn, not_found: str | None) -> None:
    """Ask for the order number again: after saying which one was not found, or after a no to
    a sound-alike with the dialog's ``order_sound_alike_no`` prompt if it has one ("Please say
    it again, with a word for each letter"). A person takes over after the dialog's attempts.
    """
    if t.bump("order_id") >= t.spec.limits.max_attempts:
        t.transfer("order number not found", "transfer_stuck")
        return
    if not_found is not None:
        t.tell("order_not_found", heard=read_back(not_found))
    elif DECLINED_PROMPT in t.spec.prompts:
        t.ask(DECLINED_PROMPT, "order_id", t.attempt("order_id") - 1)
        return
    advance(t)


def says_not_theirs(spec: DialogSpec, words: list[str]) -> bool:
    """Whether a caller's turn says the order in hand is not theirs (the dialog's
    ``not_my_order_phrases``), in a dialog with the prompt that asks for the number again.
    """
    if NOT_THEIRS_PROMPT not in spec.prompts:
        return False
    return bool(find_phrases(words, spec.not_my_order_phrases, negation=False))


def not_their_order(t: Turn) -> None:
    """The caller says the order found is not theirs ("That's not my order", "None of those"):
    its number was misheard, and another order has that number. It is forgotten, remembered as
    not theirs, and not offered again from the caller's orders on file; a try is counted and the
    number asked for again. A person takes over after the dialog's attempts.
    """
    wrong = str(t.s.slots.get("order_id", ""))
    t.set(
        order=None,
        proposal=None,
        partial="",
        on_file=tuple(o for o in t.s.on_file if o != wrong),
        rejected=(*t.s.rejected, wrong) if wrong else t.s.rejected,
    )
    t.drop_slots("order_id", *ORDER_BOUND)
    _try_again(t, NOT_THEIRS_PROMPT, t.attempt("order_id"))


def heard_again(t: Turn, code: str) -> None:
    """The number heard is again that of an order the caller said is not theirs: the same voice
    misheard the same way. It is not looked up again; a try is counted and the keys asked for
    (the dialog's ``order_heard_again``).
    """
    t.set(partial="")
    _try_again(t, HEARD_AGAIN_PROMPT, heard=read_back(code))


def _try_again(t: Turn, key: str, attempt: int = 0, **extra: Any) -> None:
    """Count a try at the order number and ask for it with ``key``; a person takes over after
    the dialog's attempts.
    """
    if t.bump("order_id") >= t.spec.limits.max_attempts:
        t.transfer("the orders found were not the caller's", "transfer_stuck")
        return
    t.ask(key, "order_id", attempt, **extra)
