"""A retailer whose order numbers hold letters: the dialog's own file with another pattern."""

from __future__ import annotations

from pathlib import Path

import pytest

from voice_agent.dialog.engine import DialogEngine
from voice_agent.dialog.spec import load_dialog
from voice_agent.dialog.types import CallStarted, LookupOrder, Say, UserSaid

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


def test_a_code_said_over_two_turns_is_joined_letters_and_all(engine: DialogEngine) -> None:
    state, _ = engine.start(CallStarted("CA-letters", TODAY))
    state, _ = engine.step(state, UserSaid("I want to return something."))
    state, actions = engine.step(state, UserSaid("It's R T 4 8 1"))
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
