"""Masking of personal data (phone numbers, e-mail addresses, card numbers) in free text.

Pure functions plus two log hooks (a loguru patcher and a stdlib ``logging.Filter``).

The rules, chosen so a transcript stays useful to whoever reads it:

* A *digit run* is a sequence of digit groups or spoken digits ("five", "oh") joined by spaces,
  commas, dashes or parentheses, optionally starting with ``+``. Runs of **7 or more digits** are
  masked: phone numbers, card numbers, account numbers. Runs of **6 digits or fewer stay
  readable**: order numbers are six digits and are not personal data, nor are prices, quantities,
  work-order ids (``W10001``) or references (``R100001``, digits glued to a letter never count).
* A masked run keeps its separators and its last digits: the last 4 for card-length runs (13-19
  digits), the last 2 otherwise. ``+1 555 014 2211`` becomes ``+* *** *** **11``.
* ISO dates and timestamps (``2026-11-20``, ``2026-11-20 02:35:00``) and decimals (``0.1234567``)
  are left alone.
* E-mail addresses keep the first letter and the top-level domain: ``dana@example.com`` becomes
  ``d***@***.com``; spoken ones ("dana at example dot com") become ``d*** at *** dot com``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

_DIGIT_WORDS = "zero|oh|one|two|three|four|five|six|seven|eight|nine"
_TOKEN = rf"(?:\d+|(?:{_DIGIT_WORDS})\b)"
_ISO = r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
_RUN = rf"\+?\(?{_TOKEN}\)?(?:[ \-,]{{1,3}}\(?{_TOKEN}\)?)*"
_NUMBERS = re.compile(rf"(?<![\w.+])(?:(?P<iso>{_ISO})|(?P<run>{_RUN}))(?![\w])(?!\.\d)", re.I)
_TOKENS = re.compile(_TOKEN, re.I)

_ATEXT = r"[\w!#$%&'*+/=?^`{|}~.-]"  # what an address's local part may contain (RFC 5322)
_EMAIL = re.compile(rf"(?<!{_ATEXT})({_ATEXT}+)@((?:[\w-]+\.)+)([A-Za-z][\w-]{{1,62}})\b")
_SPOKEN_EMAIL = re.compile(
    r"\b([a-z][\w]*(?: dot [a-z]\w*)*) at ((?:[a-z]\w* dot )+)(com|net|org|edu|gov|io|co|uk|de)\b",
    re.I,
)

MIN_MASKED_DIGITS = 7
CARD_DIGITS = range(13, 20)


def _mask_run(text: str) -> str:
    tokens = list(_TOKENS.finditer(text))
    digits = sum(len(t.group()) if t.group()[0].isdigit() else 1 for t in tokens)
    if digits < MIN_MASKED_DIGITS:
        return text
    keep = 4 if digits in CARD_DIGITS else 2
    out: list[str] = []
    pos = 0
    remaining = digits
    for token in tokens:
        out.append(text[pos : token.start()])
        value = token.group()
        if value[0].isdigit():
            masked = "".join(ch if remaining - i <= keep else "*" for i, ch in enumerate(value))
            remaining -= len(value)
        else:
            masked = value if remaining <= keep else "*"
            remaining -= 1
        out.append(masked)
        pos = token.end()
    out.append(text[pos:])
    return "".join(out)


def _number(match: re.Match[str]) -> str:
    if match.group("iso"):
        return match.group()
    return _mask_run(match.group())


def mask_text(text: str) -> str:
    """Mask phone numbers, card-like digit runs and e-mail addresses in ``text``."""
    if not text:
        return text
    text = _EMAIL.sub(lambda m: f"{m.group(1)[0]}***@***.{m.group(3)}", text)
    text = _SPOKEN_EMAIL.sub(lambda m: f"{m.group(1)[0]}*** at *** dot {m.group(3)}", text)
    return _NUMBERS.sub(_number, text)


def mask_phone(number: str | None) -> str | None:
    """Mask a caller id (a phone number or SIP URI), keeping its last two digits."""
    if number is None:
        return None
    masked = mask_text(number)
    if masked == number and sum(ch.isdigit() for ch in number) > 2:
        # Short or odd caller ids ("anonymous", "+4412"): still hide all but the last 2 digits.
        total = sum(ch.isdigit() for ch in number)
        seen = 0
        chars = []
        for ch in number:
            if ch.isdigit():
                seen += 1
                chars.append(ch if total - seen < 2 else "*")
            else:
                chars.append(ch)
        masked = "".join(chars)
    return masked


def mask_data(value: Any) -> Any:
    """Mask every string inside nested dicts/lists/tuples (keys are kept as they are)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_data(v) for v in value]
    return value


# --- logging ------------------------------------------------------------------------------------
def loguru_patcher(record: Any) -> None:
    """Loguru patcher masking the formatted message and string ``extra`` values."""
    record["message"] = mask_text(record["message"])
    extra = record["extra"]
    for key, value in extra.items():
        if isinstance(value, str):
            extra[key] = mask_text(value)


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask a stdlib log record in place: its message and its string arguments.

    The arguments stay arguments (formatters such as uvicorn's access log read them).
    """
    if isinstance(record.msg, str):
        record.msg = mask_text(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(mask_text(a) if isinstance(a, str) else a for a in record.args)
    elif isinstance(record.args, dict):
        record.args = {k: mask_text(v) if isinstance(v, str) else v for k, v in record.args.items()}
    return record


class PiiLogFilter(logging.Filter):
    """Stdlib logging filter that masks each record passing through (see :func:`mask_record`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


def install_log_masking() -> None:
    """Mask PII in every loguru record and every stdlib log record created from now on.

    Sets loguru's global patcher (replacing any earlier one) and wraps the stdlib log record
    factory, so it works whatever handlers are configured later (uvicorn's included).
    Calling it again does nothing more.
    """
    from loguru import logger

    logger.configure(patcher=loguru_patcher)
    factory = logging.getLogRecordFactory()
    if getattr(factory, "_masks_pii", False):
        return

    def masking_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return mask_record(factory(*args, **kwargs))

    masking_factory._masks_pii = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(masking_factory)
