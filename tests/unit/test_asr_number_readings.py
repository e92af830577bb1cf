"""Which readings :func:`voice_agent.speech.asr.transcribe` asks for on an unsure order number.

The models are scripted (``hear`` is replaced): this is the control flow alone; the real models
on real readings are in ``tests/speech/test_order_number_e2e.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from voice_agent.speech import asr
from voice_agent.speech.asr import AsrOptions, Heard, transcribe
from voice_agent.speech.entities import SIX_DIGITS

FIRST, CHECK = object(), object()
TURN = np.full(16000, 0.1, dtype=np.float32)


def scripted(monkeypatch: pytest.MonkeyPatch, first: str, check: str, slowed: str) -> list[str]:
    """Make the first model read ``first`` (unsure) and ``slowed``, the check ``check``."""
    asked: list[str] = []

    def hear(model: object, audio: np.ndarray, opts: AsrOptions) -> Heard:
        if model is CHECK:
            asked.append("check")
            return Heard(check)
        if len(audio) > len(TURN):
            asked.append("slowed")
            return Heard(slowed)
        asked.append("first")
        return Heard(first)

    monkeypatch.setattr(asr, "hear", hear)
    return asked


OPTS = AsrOptions(expect_code=SIX_DIGITS)
SECOND = (CHECK, AsrOptions())


@pytest.mark.parametrize(
    ("first", "check", "slowed", "text", "readings"),
    [
        # The check reads the number the first model was unsure of: no third reading.
        ("7 3 5 9 oh", "735902", "7 3 5 9 0 8", "735902", ["first", "check"]),
        ("It's 7 3 5 9 0 2", "735902", "7 3 5 9 0 8", "It's 7 3 5 9 0 2", ["first", "check"]),
        # Two numbers: the slowed reading decides, for either side.
        ("7 3 5 9 0 8", "735902", "7 3 5 9 0 8", "7 3 5 9 0 8", ["first", "check", "slowed"]),
        ("7 3 5 9 0 8", "735902", "73 59 02", "735902", ["first", "check", "slowed"]),
        # Neither holds a number: the slowed reading may.
        ("Eight, double.", "8 double", "800046", "800046", ["first", "check", "slowed"]),
    ],
)
def test_the_slowed_reading_is_asked_only_on_a_split_vote(
    monkeypatch: pytest.MonkeyPatch,
    first: str,
    check: str,
    slowed: str,
    text: str,
    readings: list[str],
) -> None:
    asked = scripted(monkeypatch, first, check, slowed)
    assert transcribe(FIRST, TURN, OPTS, SECOND) == text  # type: ignore[arg-type]
    assert asked == readings


def test_a_turn_spoken_over_during_the_check_gets_no_slowed_reading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = scripted(monkeypatch, "7 3 5 9 0 8", "735902", "7 3 5 9 0 8")
    calls: list[None] = []

    def spoken_over() -> bool:  # the caller speaks again once the check has started
        calls.append(None)
        return len(calls) > 2

    assert transcribe(FIRST, TURN, OPTS, SECOND, spoken_over) == ""  # type: ignore[arg-type]
    assert asked == ["first", "check"]


def test_a_failing_slowed_reading_leaves_the_check_to_decide(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = scripted(monkeypatch, "7 3 5 9 0 8", "735902", "")
    monkeypatch.setattr(asr, "slow_down", lambda audio: 1 / 0)
    assert transcribe(FIRST, TURN, OPTS, SECOND) == "735902"  # type: ignore[arg-type]
    assert asked == ["first", "check"]
