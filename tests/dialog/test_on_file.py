"""The caller's own orders: a number heard a digit or two from one of them is offered back.

The calls run against the real embedded OMS (``GET /orders?phone=`` over HTTP, its own SQLite
file) from the seed's phone numbers: +15550142211 has order 481526 on file.
"""

from __future__ import annotations

import pytest

from voice_agent.dialog.engine import DialogEngine
from voice_agent.dialog.on_file import ON_FILE_PROMPT, on_file_match
from voice_agent.dialog.spec import DialogSpec
from voice_agent.dialog.types import CallStarted, FindCallerOrders, Say

from .conftest import TODAY, Run, lookups, said

DANA = "+15550142211"  # order 481526: the blue running shoes and the rain jacket
OFFER = "Did you mean your order 4, 8, 1, 5, 2, 6?"
RETURN = "I want to return something"


@pytest.mark.parametrize(
    ("heard", "on_file", "expected"),
    [
        ("481527", ("481526",), "481526"),  # a digit changed
        ("888716", ("858716", "100200"), "858716"),
        ("48152", ("481526",), "481526"),  # a digit lost
        ("4815266", ("481526",), "481526"),  # a digit said twice
        ("418526", ("481526",), "481526"),  # two swapped: two edits
        ("481526", ("481526",), None),  # on file already: looked up as heard
        ("4815", ("481526",), None),  # half a number: the rest is asked for
        ("400026", ("481526",), None),  # three edits away
        ("481520", ("481526", "481529"), None),  # two as close: no guess
        ("481520", ("481526", "481599"), "481526"),  # the closer one
        ("481527", (), None),
        ("zt735903", ("ZT735902",), "ZT735902"),  # codes with letters, any case
    ],
)
def test_on_file_match(heard: str, on_file: tuple[str, ...], expected: str | None) -> None:
    assert on_file_match(heard, on_file) == expected


def test_the_orders_on_file_are_asked_for_only_with_a_caller_number(
    engine: DialogEngine, spec: DialogSpec
) -> None:
    _, with_number = engine.start(CallStarted("CA-1", TODAY, caller_known=True))
    _, without = engine.start(CallStarted("CA-2", TODAY))
    prompts = {k: v for k, v in spec.prompts.items() if k != ON_FILE_PROMPT}
    no_prompt = DialogEngine(spec.model_copy(update={"prompts": prompts}))
    _, dialog_without = no_prompt.start(CallStarted("CA-3", TODAY, caller_known=True))
    assert isinstance(with_number[0], Say) and FindCallerOrders() in with_number
    assert FindCallerOrders() not in without
    assert FindCallerOrders() not in dialog_without


def test_a_number_misheard_is_offered_as_the_callers_order_and_a_yes_takes_it(run: Run) -> None:
    transcript, _ = run(RETURN, "4 8 1 5 2 7", "yes", caller=DANA)
    lines = said(transcript)
    assert lines[-2] == f"I heard 4, 8, 1, 5, 2, 7. {OFFER}"
    assert lookups(transcript) == ["481526"]  # the number misheard is never looked up
    assert transcript.state.slots["order_id"] == "481526"
    assert "blue running shoes" in lines[-1]  # on to the item question


def test_a_number_heard_a_digit_short_is_offered_too(run: Run) -> None:
    transcript, _ = run(RETURN, "4 8 1 5 2", "yes", caller="5550142211")  # national form
    assert f"I heard 4, 8, 1, 5, 2. {OFFER}" in said(transcript)
    assert transcript.state.order is not None and transcript.state.order.order_id == "481526"


def test_a_no_looks_up_the_number_heard(run: Run) -> None:
    transcript, _ = run(RETURN, "4 8 1 5 2 7", "no", caller=DANA)
    assert lookups(transcript) == ["481527"]
    assert said(transcript)[-1].startswith("I couldn't find order 4, 8, 1, 5, 2, 7.")
    assert transcript.state.on_file == ()  # not offered again


def test_a_no_to_a_short_number_says_it_is_short_and_asks_again(run: Run) -> None:
    transcript, _ = run(RETURN, "4 8 1 5 2", "no", caller=DANA)
    assert lookups(transcript) == []
    assert said(transcript)[-1].startswith("I heard 4, 8, 1, 5, 2, but order numbers have six")
    assert transcript.state.pending == "order_id"


def test_the_number_said_again_after_the_offer_is_taken_instead(run: Run) -> None:
    transcript, _ = run(RETURN, "4 8 1 5 2 7", "no, it's 7 3 5 9 0 2", caller=DANA)
    assert lookups(transcript) == ["735902"]
    assert transcript.state.order is not None and transcript.state.order.order_id == "735902"


@pytest.mark.parametrize(
    ("number", "looked_up"),
    [
        ("4 8 1 5 2 6", "481526"),  # the caller's own, as heard
        ("7 3 5 9 0 2", "735902"),  # another phone's order (a gift, a partner's): as heard
    ],
)
def test_a_number_not_close_to_another_on_file_is_looked_up_as_heard(
    run: Run, number: str, looked_up: str
) -> None:
    transcript, _ = run(RETURN, number, caller=DANA)
    assert OFFER not in " ".join(said(transcript))
    assert lookups(transcript) == [looked_up]


@pytest.mark.parametrize("kwargs", [{}, {"caller": "+15550100999"}, {"caller": DANA, "down": True}])
def test_without_orders_on_file_a_misheard_number_is_not_found_as_before(
    run: Run, kwargs: dict
) -> None:
    """No caller number, a number with no orders, the OMS down for that question."""
    transcript, _ = run(RETURN, "4 8 1 5 2 7", **kwargs)
    assert OFFER not in " ".join(said(transcript))
    assert lookups(transcript) == ["481527"]
    expected = "Sorry, I can't reach" if kwargs.get("down") else "I couldn't find order 4, 8, 1"
    assert said(transcript)[-1].startswith(expected)


def test_half_a_number_is_asked_for_the_rest_not_guessed(run: Run) -> None:
    transcript, _ = run(RETURN, "4 8 1", caller=DANA)
    assert said(transcript)[-1] == "I have 4, 8, 1 so far. What are the other digits?"
