"""A decode that ran out of tokens: Whisper looping on a phrase, and the loop cut off.

Whisper sometimes repeats a phrase until its token budget runs out
(``AsrOptions.max_tokens_per_second``): tiny.en read a caller's "Eight oh oh." on the
order-number turn as "Eight oh, whoa. Eight oh, two eight oh, two eight oh, two eight oh, two",
in which the dialog read 802802, an order number the caller never said. Whisper's own guard,
the gzip compression ratio (``AsrOptions.compression_ratio_threshold``), misses loops that
short. A decode that used its whole budget has looped, so its text keeps the phrase once
(in :mod:`voice_agent.speech.window`, the decoder of every turn shorter than 29 s).
"""

from __future__ import annotations

import re

#: A loop is a phrase said at least this many times in a row at the end of the text.
MIN_REPEATS = 3


def cut_loop(text: str) -> str:
    """``text`` up to the end of the first time of the phrase it then repeats to its end
    (:data:`MIN_REPEATS` times at least, the last perhaps cut short); ``text`` if it ends in
    no such loop. Words compare without case and punctuation ("two eight" and "two. Eight").
    """
    words = text.split()
    keys = [re.sub(r"[^\w']", "", w).lower() for w in words]
    best: tuple[int, int] | None = None  # (start of the loop, its phrase's length)
    for period in range(1, len(keys) // MIN_REPEATS + 1):
        k = len(keys) - 1
        while k >= period and keys[k] == keys[k - period]:
            k -= 1
        start = k - period + 1 if k >= period else 0
        if len(keys) - start >= MIN_REPEATS * period and (best is None or start < best[0]):
            best = (start, period)
    if best is None:
        return text
    start, period = best
    return " ".join(words[: start + period])
