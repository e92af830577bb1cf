"""Spoken dates ("last Monday", "the 16th of November", "three days ago") as past dates."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, timedelta

from voice_agent.dialog.normalize import tokens

_MONTHS = {m: i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"], 1)}  # fmt: skip
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())} | {"sept": 9})
_WEEKDAYS = {d: i for i, d in enumerate(
    ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"])}  # fmt: skip
_ORDINAL_WORDS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
}  # fmt: skip
_SMALL = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
          "seven": 7, "eight": 8, "nine": 9, "ten": 10, "couple": 2, "few": 3}  # fmt: skip


def _day_number(words: Sequence[str], i: int) -> tuple[int | None, int]:
    """Read a day of the month at ``words[i]``: "16", "16th", "sixteenth", "twenty first"."""
    if i >= len(words):
        return None, 0
    w = words[i]
    m = re.fullmatch(r"(\d{1,2})(st|nd|rd|th)?", w)
    if m:
        return int(m.group(1)), 1
    if w in ("twenty", "thirty") and i + 1 < len(words) and words[i + 1] in _ORDINAL_WORDS:
        return (20 if w == "twenty" else 30) + _ORDINAL_WORDS[words[i + 1]], 2
    if w in _ORDINAL_WORDS:
        return _ORDINAL_WORDS[w], 1
    return None, 0


def _month_day(month: int, day: int, today: date) -> date | None:
    for year in (today.year, today.year - 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            return None
        if candidate <= today:
            return candidate
    return None


def parse_date(text: str, today: date) -> date | None:
    """Find a past date the caller mentions, or None.

    Understands "yesterday", "last Monday", "three days ago", "November 16th",
    "the 16th of November" and "on the 16th" (the latest such day not after ``today``).
    """
    words = tokens(text)
    joined = " ".join(words)
    if "day before yesterday" in joined:
        return today - timedelta(days=2)
    if "yesterday" in words:
        return today - timedelta(days=1)
    if "today" in words or "this morning" in joined:
        return today
    for i, w in enumerate(words):
        if w == "ago" and i >= 2 and words[i - 1] in ("day", "days", "week", "weeks"):
            n = words[i - 2]
            count = int(n) if n.isdigit() else _SMALL.get(n)
            if count is not None:
                unit = 7 if words[i - 1].startswith("week") else 1
                return today - timedelta(days=count * unit)
        if w == "last" and i + 1 < len(words) and words[i + 1] == "week":
            return today - timedelta(days=7)
        if w in _WEEKDAYS:
            back = (today.weekday() - _WEEKDAYS[w]) % 7 or 7
            return today - timedelta(days=back)
        if w in _MONTHS and (w != "may" or (i + 1 < len(words) and _day_number(words, i + 1)[0])):
            day, _ = _day_number(words, i + 1)
            if day is None and i >= 2 and words[i - 1] == "of":
                day, _ = _day_number(words, i - 2)
            if day is not None:
                return _month_day(_MONTHS[w], day, today)
        if w == "the" and i + 1 < len(words):
            day, used = _day_number(words, i + 1)
            nxt = words[i + 1 + used] if i + 1 + used < len(words) else ""
            if (
                day is not None
                and nxt != "of"
                and 1 <= day <= 31
                and words[i + 1] not in ("first", "second", "third", "last")
            ):
                month = today.month if day <= today.day else (today.month - 2) % 12 + 1
                return _month_day(month, day, today)
    return None
