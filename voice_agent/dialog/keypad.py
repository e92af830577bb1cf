"""Keys typed for an order number that holds letters: the codes they may be.

A keypad key carries its digit and the letters printed on it (2 = ABC, ..., 7 = PQRS, 9 = WXYZ),
so a caller typing ZT735902 presses 9 8 7 3 5 9 0 2, and those keys are WT735902, ..., ZV735902
too. :func:`keypad_codes` lists the codes of the dialog's pattern the keys can be; the dialog looks
them up in the OMS one after the other and offers the one it finds (``dialog/lookup.py``).
"""

from __future__ import annotations

import itertools
import math
import re
import re._parser as sre  # the stdlib's regex parser; the pattern is data, read once per dialog
import string
from typing import Any

#: The letters on each key, as on every phone keypad (ITU E.161).
KEY_LETTERS = {
    "2": "ABC", "3": "DEF", "4": "GHI", "5": "JKL",
    "6": "MNO", "7": "PQRS", "8": "TUV", "9": "WXYZ",
}  # fmt: skip
# Each candidate is one OMS lookup after the other: two letters give at most 16.
MAX_CODES = 64

_ALPHABET = string.ascii_uppercase + string.digits
_CATEGORIES = {
    sre.CATEGORY_DIGIT: r"\d", sre.CATEGORY_NOT_DIGIT: r"\D", sre.CATEGORY_WORD: r"\w",
    sre.CATEGORY_NOT_WORD: r"\W", sre.CATEGORY_SPACE: r"\s", sre.CATEGORY_NOT_SPACE: r"\S",
}  # fmt: skip


def positions(pattern: str) -> list[str] | None:
    r"""The letters and digits ``pattern`` admits at each place of a code, when all its codes
    have one length and each place is chosen apart from the others (``^[A-Z]{2}\d{6}$``,
    ``^WO\d{4}$``); else None (``^(AB|CD)\d+$``).
    """
    try:
        parsed = sre.parse(pattern)
    except re.error:
        return None
    icase = bool(parsed.state.flags & re.IGNORECASE)
    return _sequence(list(parsed), icase)


def _sequence(items: list[tuple[Any, Any]], icase: bool) -> list[str] | None:
    out: list[str] = []
    for op, av in items:
        if op is sre.AT:
            continue  # ^ and $: a code is matched whole anyway
        if op is sre.SUBPATTERN:
            inner = _sequence(list(av[-1]), icase)
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and av[0] == av[1]:
            once = _sequence(list(av[2]), icase)
            inner = None if once is None else once * av[0]
        else:
            chars = _chars(op, av, icase)
            inner = None if chars is None else [chars]
        if inner is None:
            return None
        out += inner
    return out


def _chars(op: Any, av: Any, icase: bool) -> str | None:
    """The characters of :data:`_ALPHABET` one pattern item admits at its place."""
    if op is sre.ANY:
        return _ALPHABET
    if op is sre.LITERAL:
        items, negate = [(op, av)], False
    elif op is sre.IN:
        items = [(o, a) for o, a in av if o is not sre.NEGATE]
        negate = len(items) < len(av)
    else:
        return None  # alternatives, lengths that vary, look-arounds: not a code of fixed places

    def admits(c: str) -> bool:
        for o, a in items:
            for ch in {c, c.lower()} if icase else {c}:
                if o is sre.LITERAL and ord(ch) == a:
                    return True
                if o is sre.RANGE and a[0] <= ord(ch) <= a[1]:
                    return True
                if o is sre.CATEGORY and re.fullmatch(_CATEGORIES.get(a, "(?!)"), ch):
                    return True
        return False

    return "".join(c for c in _ALPHABET if admits(c) != negate)


def keypad_codes(keys: str, pattern: str) -> list[str]:
    """The codes matching ``pattern`` that a caller may have typed as ``keys``, in the keypad's
    letter order; none when the keys are such a code themselves, fit no code, or may be more
    than :data:`MAX_CODES` of them.
    """
    places = positions(pattern)
    if places is None or len(places) != len(keys) or re.fullmatch(pattern, keys):
        return []
    choices = [
        [c for c in key + KEY_LETTERS.get(key, "") if c in place]
        for key, place in zip(keys, places, strict=True)
    ]
    if math.prod(len(c) for c in choices) > MAX_CODES:
        return []
    codes = ("".join(chars) for chars in itertools.product(*choices))
    return [code for code in codes if re.fullmatch(pattern, code)]
