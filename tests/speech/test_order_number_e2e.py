"""Piper speaks an order number, the phone line degrades it, Whisper and the normaliser read it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest

from voice_agent.speech.asr import (
    ORDER_NUMBER_PROMPT,
    AsrOptions,
    order_number_prompt,
    transcribe,
)
from voice_agent.speech.entities import SIX_DIGITS, order_number
from voice_agent.testing.dialogs import LETTER_PATTERN

pytestmark = pytest.mark.models


@pytest.mark.parametrize(
    ("said", "number"),
    [
        ("My order number is four eight one, five two six.", "481526"),
        ("Seven three five, nine oh two.", "735902"),
    ],
)
def test_spoken_order_number_is_captured(tiny_model, joe, said: str, number: str) -> None:
    text = transcribe(tiny_model, joe(said), AsrOptions(initial_prompt=ORDER_NUMBER_PROMPT))
    assert order_number(text) == number, text


def test_digits_only_pass_recovers_a_number_the_first_pass_split(tiny_model, joe) -> None:
    audio = joe("Oh two four, double six one.")
    options = AsrOptions(initial_prompt=ORDER_NUMBER_PROMPT, window_s=20.0)
    first = transcribe(tiny_model, audio, options)
    # Free decoding writes the "oh" as a letter glued to the digits ("L24, double six one.").
    assert order_number(first) is None, first
    text = transcribe(tiny_model, audio, replace(options, expect_code=SIX_DIGITS))
    assert order_number(text) == "024661", text


def test_digits_only_pass_leaves_words_that_hold_no_number(tiny_model, joe) -> None:
    options = AsrOptions(initial_prompt=ORDER_NUMBER_PROMPT, window_s=20.0, expect_code=SIX_DIGITS)
    text = transcribe(tiny_model, joe("Sorry, I don't have it with me right now."), options)
    assert "have it" in text.lower(), text


def test_digit_vocabulary(tiny_model) -> None:
    from faster_whisper.tokenizer import Tokenizer

    from voice_agent.speech.window import _non_digit_tokens

    tokenizer = Tokenizer(tiny_model.hf_tokenizer, False, task="transcribe", language=None)
    suppressed = set(_non_digit_tokens(tiny_model, tokenizer))
    for kept in (" four", " oh", " double", "4", " 48", ",", " Forty"):
        assert not suppressed & set(tokenizer.encode(kept)), kept
    for dropped in (" Breathe", " L", " hello", " I'm"):
        assert set(tokenizer.encode(dropped)) & suppressed, dropped
    assert tokenizer.eot not in suppressed
    # A code with letters keeps them, spelled on their own or in the NATO alphabet.
    with_letters = set(_non_digit_tokens(tiny_model, tokenizer, letters=True))
    for kept in (" four", " L", " B", "Z", " Romeo", " as", " in"):
        assert not with_letters & set(tokenizer.encode(kept)), kept
    for dropped in (" Breathe", " hello", " I'm"):
        assert set(tokenizer.encode(dropped)) & with_letters, dropped


@pytest.mark.parametrize(
    ("said", "code"),
    [
        ("R, T, four eight one, five two six.", "RT481526"),
        ("Romeo Tango, four eight one, five two six.", "RT481526"),
        ("C as in cat, K as in king, six four six six six oh.", "CK646660"),
    ],
)
def test_a_code_with_letters_is_read_with_them(
    tiny_model, base_model, joe, said: str, code: str
) -> None:
    prompt = order_number_prompt(LETTER_PATTERN)  # as the pipeline primes this turn
    options = AsrOptions(initial_prompt=prompt, expect_code=LETTER_PATTERN)
    check = AsrOptions(initial_prompt=prompt, window_s=10.0)
    text = transcribe(tiny_model, joe(said), options, (base_model, check))
    assert order_number(text, LETTER_PATTERN) == code, text


class _BrokenModel:
    """Stands in for a second model: notes every use, and fails it like a crashed decode."""

    def __init__(self) -> None:
        self.used: list[str] = []

    def __getattr__(self, name: str):
        self.used.append(name)
        raise RuntimeError("decode failed")


@pytest.mark.parametrize(
    ("said", "number"),
    [
        ("Eight double oh, oh four six.", "800046"),  # tiny.en hears "8"
        # Not "Nine oh oh, oh one two." any more: on an AMD EPYC box int8 CTranslate2 reads
        # it otherwise than on the box it was chosen on, and base does not save it there.
    ],
)
def test_second_model_reads_a_number_the_first_did_not_agree_on(
    tiny_model, base_model, joe, said: str, number: str
) -> None:
    from voice_agent.speech.asr import default_asr_options, hear

    options = AsrOptions(initial_prompt=ORDER_NUMBER_PROMPT, expect_code=SIX_DIGITS)
    audio = joe(said)
    alone = hear(tiny_model, audio, options)
    assert not alone.number_sure and order_number(alone.text) != number, alone
    second = (base_model, default_asr_options("base", initial_prompt=ORDER_NUMBER_PROMPT))
    text = transcribe(tiny_model, audio, options, second_opinion=second)
    assert order_number(text) == number, text


def test_an_agreed_number_is_not_checked_by_the_second_model(tiny_model, joe) -> None:
    options = AsrOptions(initial_prompt=ORDER_NUMBER_PROMPT, expect_code=SIX_DIGITS)
    broken = _BrokenModel()
    second = (broken, AsrOptions())
    # tiny.en is sure of this reading on both boxes it was tried on ("Five five five, oh oh
    # one.", used before, is read "5 5 5 5 0 0 1" on one of them).
    checks: list[None] = []
    audio = joe("Seven three five, nine oh two.")
    text = transcribe(tiny_model, audio, options, second, on_check=lambda: checks.append(None))  # type: ignore[arg-type]
    assert order_number(text) == "735902", text
    assert checks == []  # nothing to tell the caller: the answer is not late
    # Without expect_code there is no number to check: the second model is not asked either.
    free = replace(options, expect_code=None)
    assert transcribe(tiny_model, joe("I'd like to return a jacket."), free, second)  # type: ignore[arg-type]
    assert broken.used == []


@pytest.mark.parametrize(
    ("said", "word"),
    [("They arrived damaged.", "damaged"), ("Sorry, I don't have it with me right now.", "have")],
)
def test_an_answer_in_words_is_not_checked_by_the_second_model(
    tiny_model, joe, said: str, word: str
) -> None:
    from voice_agent.speech.asr import hear

    options = AsrOptions(initial_prompt=ORDER_NUMBER_PROMPT, expect_code=SIX_DIGITS)
    audio = joe(said)
    assert not hear(tiny_model, audio, options).number_sure  # so the check was asked before
    broken = _BrokenModel()
    text = transcribe(tiny_model, audio, options, (broken, AsrOptions()))  # type: ignore[arg-type]
    assert word in text.lower(), text
    assert broken.used == []


def test_a_failing_second_model_keeps_the_first_reading(tiny_model, joe) -> None:
    from voice_agent.speech.asr import hear

    options = AsrOptions(initial_prompt=ORDER_NUMBER_PROMPT, expect_code=SIX_DIGITS)
    audio = joe("Eight double oh, oh four six.")
    first = hear(tiny_model, audio, options)
    assert not first.number_sure, first
    broken = _BrokenModel()
    checks: list[bool] = []
    on_check = lambda: checks.append(bool(broken.used))  # noqa: E731
    second = (broken, AsrOptions())
    text = transcribe(tiny_model, audio, options, second, on_check=on_check)  # type: ignore[arg-type]
    assert text == first.text
    assert broken.used
    assert checks == [False]  # once, before the second model was asked


_READINGS = (
    "It's seven three five nine oh two.",
    "Eight double oh, oh four six.",
    "Nine oh oh, oh one two.",
    "Oh two four, double six one.",
    "Sorry, I don't have it with me right now.",
)


@contextmanager
def _generate_calls() -> Iterator[list[dict]]:
    """The keyword arguments of each ``generate`` call ``decode_windows`` makes meanwhile (a spy
    on ``window._start``)."""
    from voice_agent.speech import window

    calls: list[dict] = []
    real_start = window._start

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real_start(*args, **kwargs)

    window._start = spy
    try:
        yield calls
    finally:
        window._start = real_start


@pytest.fixture(scope="module")
def digits_calls(tiny_model, joe):
    """Each reading decoded with the digits-only decode beside and after the free one, with
    the ``generate`` calls each made."""
    from voice_agent.speech.window import decode_windows

    options = AsrOptions(initial_prompt=ORDER_NUMBER_PROMPT, expect_code=SIX_DIGITS)
    runs: dict[bool, list[tuple[object, list[dict]]]] = {True: [], False: []}
    with _generate_calls() as calls:
        for said in _READINGS:
            audio = joe(said)
            for alongside in (True, False):
                calls.clear()
                heard = decode_windows(tiny_model, [(audio, options)], alongside)[0]
                runs[alongside].append((heard, list(calls)))
    return runs


def test_the_digits_decode_beside_or_after_the_free_one_reads_the_same(digits_calls) -> None:
    beside = [heard for heard, _ in digits_calls[True]]
    after = [heard for heard, _ in digits_calls[False]]
    assert beside == after
    # Both kinds are in the sample: numbers sure from the free decode alone and unsure ones.
    skipped = [len(calls) == 1 for _, calls in digits_calls[False]]
    assert any(skipped) and not all(skipped), skipped


def test_a_sure_free_reading_needs_no_digits_decode(digits_calls) -> None:
    from voice_agent.speech.window import DIGITS_BEAM

    for (heard, calls), said in zip(digits_calls[False], _READINGS, strict=True):
        digits = [c for c in calls if c.get("beam_size") == DIGITS_BEAM]
        if not digits:
            assert heard.number_sure and order_number(heard.text), (said, heard)
        assert all(not c.get("asynchronous") for c in calls), said
    # Beside the free decode it always runs (it starts before the free decode is known).
    for heard, calls in digits_calls[True]:
        assert [c.get("beam_size") for c in calls] == [DIGITS_BEAM, None], heard
    first, calls = digits_calls[False][0]
    assert first.number_sure and len(calls) == 1 and order_number(first.text) == "735902"


def test_an_idle_model_runs_the_digits_decode_beside_the_free_one(tiny_model, joe) -> None:
    from voice_agent.speech.window import decode_windows

    options = AsrOptions(initial_prompt=ORDER_NUMBER_PROMPT, expect_code=SIX_DIGITS)
    audio = joe(_READINGS[0])
    # CTranslate2 counts a finished call for a moment after its result is back.
    deadline = time.monotonic() + 2.0
    while tiny_model.model.num_active_batches and time.monotonic() < deadline:
        time.sleep(0.01)
    assert tiny_model.model.num_active_batches == 0
    with _generate_calls() as calls:
        decode_windows(tiny_model, [(audio, options)])
    assert [bool(c.get("asynchronous")) for c in calls] == [True, False]


@pytest.mark.parametrize("alongside", [True, False])
def test_a_batch_with_one_number_turn_reads_as_each_alone(tiny_model, joe, alongside) -> None:
    from voice_agent.speech.window import decode_windows

    number = AsrOptions(initial_prompt=ORDER_NUMBER_PROMPT, expect_code=SIX_DIGITS)
    # Same window and prompt lengths, so both share one encoder call; only one expects digits.
    requests = [
        (joe(_READINGS[3]), number),
        (joe(_READINGS[4]), replace(number, expect_code=None)),
    ]
    alone = [decode_windows(tiny_model, [request], alongside)[0] for request in requests]
    assert decode_windows(tiny_model, requests, alongside) == alone
    assert order_number(alone[0].text) == "024661" and not alone[1].number_sure, alone


def test_a_discarded_speculation_does_not_ask_the_second_model(tiny_model, joe) -> None:
    options = AsrOptions(initial_prompt=ORDER_NUMBER_PROMPT, expect_code=SIX_DIGITS)
    audio = joe("Eight double oh, oh four six.")  # tiny.en is not sure of it (test above)
    broken = _BrokenModel()
    asked: list[bool] = []

    def spoken_over() -> bool:  # the caller speaks again while the first model decodes
        asked.append(True)
        return len(asked) > 1

    text = transcribe(tiny_model, audio, options, (broken, AsrOptions()), spoken_over)  # type: ignore[arg-type]
    assert text == "" and broken.used == [] and len(asked) == 2
    # Spoken over before it began: no model runs at all.
    assert transcribe(broken, audio, options, cancelled=lambda: True) == ""  # type: ignore[arg-type]
    assert broken.used == []
