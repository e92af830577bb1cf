"""The order number in a transcript, read as the dialog reads it.

The ASR's order-number check (:mod:`voice_agent.speech.window`, :func:`~voice_agent.speech.asr.
transcribe`) decides from this whether a decode holds a number, and whether two decodes read the
same one, so it takes exactly what the dialog would take (:func:`voice_agent.dialog.codes.
find_code`) and never counts a number the dialog then cannot use.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from voice_agent.dialog.codes import admits_letters, find_code

#: The code an order-number turn expects unless the dialog says otherwise: six digits.
SIX_DIGITS = r"\d{6}"


def order_number(text: str, pattern: str = SIX_DIGITS) -> str | None:
    """The code matching ``pattern`` in ``text`` (the last, if several), else None.

    "Four eight one, double five oh" and "481-550" are "481550"; a run the caller broke with
    another word ("4 8 1 Nero 5 5 0") is not a number.
    """
    return find_code(text, pattern)[0]


def words_alone(text: str, pattern: str = SIX_DIGITS) -> bool:
    """Whether ``text`` has words but not one digit (or, in a code with letters, one letter)
    the dialog would read in it.

    On the order-number turn that is an answer in words ("They arrived damaged.", "Hold on."),
    not a number misheard, so no second model is asked to read a number into it: that cost
    ~1 s a turn. Of ``bench.asr_accuracy``'s 480 order-number readings (bench and held-out
    sets, clean and 10 dB), 3 were read as words alone, espeak-ng's, and the second model and
    the slowed reading did not get those right either.
    """
    said = find_code(text, r"[A-Z0-9]+" if admits_letters(pattern) else r"\d+")[0]
    return any(ch.isalnum() for ch in text) and said is None


def _digits_said(text: str) -> str | None:
    """The digits the dialog reads in ``text`` (its last run of any length), if any."""
    return find_code(text, r"\d+")[0]


def check_overrides(first: str, check: str, pattern: str = SIX_DIGITS) -> bool:
    """Whether the number check's reading ``check`` replaces the first model's ``first``.

    Only with a whole code (base's "2 2 11 6 Nero 2" is not one), and not when that code is
    the first reading's digits said over again: base loops on a short group ("9 0 2." of a
    number the caller split over two turns came back "902 902").
    """
    return _number_beside(first, check, pattern) is not None


def _number_beside(first: str, text: str, pattern: str) -> str | None:
    """The number another reading ``text`` holds, unless it only loops ``first``'s digits."""
    number = order_number(text, pattern)
    return None if number is None or _repeats(first, number) else number


def _repeats(first: str, number: str) -> bool:
    """Whether ``number`` is only the short digit group of ``first`` said over again."""
    said = _digits_said(first) or ""
    return 0 < len(said) < len(number) and number == said * (len(number) // len(said))


def readings_split(first: str, check: str, pattern: str = SIX_DIGITS) -> bool:
    """Whether a further reading can change :func:`pick_reading`'s choice between ``first`` and
    ``check``: they hold two different numbers, or neither holds one (a loop of ``first``'s
    digits holds none). When only one of them holds a number, a third reading either agrees
    with it or ties, and a tie keeps that one too.
    """
    mine = order_number(first, pattern)
    theirs = _number_beside(first, check, pattern)
    if mine is None or theirs is None:
        return mine is None and theirs is None
    return mine != theirs


def pick_reading(
    first: str, check: str, more: Sequence[str] = (), pattern: str = SIX_DIGITS
) -> str:
    """Which reading of an order-number turn the first model was not sure of to keep.

    ``first`` is the first model's, ``check`` the number check's and ``more`` further readings
    (the first model on the turn slowed down). The number most of them hold wins, and the first
    reading that holds it is kept; on a tie, ``check`` if :func:`check_overrides` says so, else
    ``first``. A reading that only loops the first reading's digits holds no number here.
    """
    numbers = [
        order_number(first, pattern),
        *(_number_beside(first, text, pattern) for text in (check, *more)),
    ]
    ranked = Counter(number for number in numbers if number).most_common(2)
    if ranked and (len(ranked) == 1 or ranked[0][1] > ranked[1][1]):
        readings = [first, check, *more]
        return next(text for text, n in zip(readings, numbers, strict=True) if n == ranked[0][0])
    return check if numbers[1] is not None else first  # as check_overrides decides
