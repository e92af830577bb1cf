"""What a caller wants in place of the item they exchange: another size, a colour, or both."""

from __future__ import annotations

import re
from collections.abc import Iterable

from voice_agent.dialog.code_words import words_to_numbers

_SIZE = re.compile(
    r"\b(?:size|a|an|in)\s+((?:extra\s+)?(?:small|medium|large)|xs|xl|xxl|s|m|l|"
    r"\d+(?:\s+and\s+a\s+half)?)\b"
)
_RELATIVE = re.compile(r"\b(smaller|bigger|larger|longer|shorter)\s+(?:size|one|pair)\b")


def exchange_wish(text: str, colours: Iterable[str], own_colour: str | None) -> str | None:
    """The size and colour ``text`` asks for ("a bigger size", "size 9 in blue"), or None.

    ``colours`` are the dialog's colour words; the item's ``own_colour`` is not a wish.
    """
    cleaned = words_to_numbers(text)
    found = []
    relative = _RELATIVE.search(cleaned)
    if relative:
        found.append(f"a {relative.group(1)} size")
    size = _SIZE.search(cleaned)
    if size and not relative:
        found.append(f"size {size.group(1)}")
    named = [c for c in colours if c != own_colour and re.search(rf"\b{re.escape(c)}\b", cleaned)]
    if named:
        found.append(f"in {named[-1]}")
    return " ".join(found) or None
