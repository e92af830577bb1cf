"""A retailer whose order numbers hold letters: the dialog's own file with another pattern."""

from __future__ import annotations

from pathlib import Path

import pytest

from voice_agent.dialog.engine import DialogEngine
from voice_agent.dialog.spec import load_dialog
from voice_agent.dialog.types import CallStarted, LookupOrder, OrderLookedUp, Say, UserSaid

from .conftest import DIALOG, TODAY


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> DialogEngine:
    text = DIALOG.read_text()
    digits = "pattern: '^[0-9]{6}$', dtmf_digits: 6"
    assert digits in text
    path = Path(tmp_path_factory.mktemp("dialogs")) / "letters.yaml"
    path.write_text(text.replace(digits, "pattern: '^[A-Z]{2}[0-9]{6}$', dtmf_digits: 8"))
    return DialogEngine(load_dialog(path))


def lookups(actions: list) -> list[str]:
    return [a.order_id for a in actions if isinstance(a, LookupOrder)]


@pytest.mark.parametrize(
    "said",
    [
        "I want to return order R as in Robert, T as in Tom, 4 8 1 5 2 6.",
        "Return please, it's Romeo Tango 481526.",
        "I'd like a return, R T 4 8 1 5 2 6",
    ],
)
def test_the_order_number_is_read_with_its_letters(engine: DialogEngine, said: str) -> None:
    state, _ = engine.start(CallStarted("CA-letters", TODAY))
    state, actions = engine.step(state, UserSaid(said))
    assert state.slots["order_id"] == "RT481526"
    assert lookups(actions) == ["RT481526"]


@pytest.mark.parametrize("start", ["It's R T 4 8 1", "Romeo Tango, four eight one"])
def test_a_code_said_over_two_turns_is_joined_letters_and_all(
    engine: DialogEngine, start: str
) -> None:
    state, _ = engine.start(CallStarted("CA-letters", TODAY))
    state, _ = engine.step(state, UserSaid("I want to return something."))
    state, actions = engine.step(state, UserSaid(start))
    assert "order_id" not in state.slots and not lookups(actions)
    state, actions = engine.step(state, UserSaid("5 2 6"))
    assert state.slots["order_id"] == "RT481526" and lookups(actions) == ["RT481526"]


def test_six_digits_alone_are_not_an_order_number_here(engine: DialogEngine) -> None:
    state, _ = engine.start(CallStarted("CA-letters", TODAY))
    state, _ = engine.step(state, UserSaid("I want to return something."))
    state, actions = engine.step(state, UserSaid("4 8 1 5 2 6 7 9"))
    assert "order_id" not in state.slots and not lookups(actions)
    said = " ".join(a.text for a in actions if isinstance(a, Say))
    assert "4, 8, 1, 5, 2, 6, 7, 9" in said, said  # what was heard, read back


def says(actions: list) -> str:
    return " ".join(a.text for a in actions if isinstance(a, Say))


def test_an_order_not_found_is_read_back_with_a_word_for_each_letter(engine: DialogEngine) -> None:
    # "Z" said alone comes out "C" on the phone line: the caller must be able to tell which
    # letter the agent heard, and "C as in Charlie" is what they can correct.
    state, _ = engine.start(CallStarted("CA-letters", TODAY))
    state, actions = engine.step(state, UserSaid("I'd like a return, C B 2 3 5 4 1 0"))
    assert lookups(actions) == ["CB235410"]
    state, actions = engine.step(state, OrderLookedUp("CB235410", None))
    assert "C as in Charlie, B as in Bravo, 2, 3, 5, 4, 1, 0" in says(actions), says(actions)
    state, actions = engine.step(state, UserSaid("No, it's Z as in zebra, B as in boy, 235410"))
    assert lookups(actions) == ["ZB235410"]
