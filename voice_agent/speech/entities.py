"""The order number in a transcript, read as the dialog reads it.

The ASR's order-number check (:mod:`voice_agent.speech.window`, :func:`~voice_agent.speech.asr.
transcribe`) decides from this whether a decode holds a number, and whether two decodes read the
same one, so it takes exactly what the dialog would take (:func:`voice_agent.dialog.codes.
find_code`) and never counts a number the dialog then cannot use.
"""

from __future__ import annotations

from voice_agent.dialog.codes import find_code


def order_number(text: str, length: int = 6) -> str | None:
    """The run of exactly ``length`` spoken digits in ``text`` (the last, if several), else None.

    "Four eight one, double five oh" and "481-550" are "481550"; a run the caller broke with
    another word ("4 8 1 Nero 5 5 0") is not a number.
    """
    return find_code(text, rf"\d{{{length}}}")[0]
