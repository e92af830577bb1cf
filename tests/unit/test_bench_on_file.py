"""bench.on_file: number turns played through the dialog with the caller's orders on file."""

from __future__ import annotations

import numpy as np

from bench.letter_codes import letter_codes
from bench.on_file import made_up_offered, on_file_answer, on_file_reach
from voice_agent.dialog.engine import DialogEngine
from voice_agent.dialog.spec import load_dialog
from voice_agent.settings import PROJECT_ROOT
from voice_agent.testing.dialogs import letter_dialog

ENGINE = DialogEngine(load_dialog(PROJECT_ROOT / "dialogs" / "returns.yaml"))


def test_what_the_dialog_makes_of_a_number_heard_with_the_callers_orders() -> None:
    others = ["100200", "733001"]
    assert on_file_answer(ENGINE, "It's 4 8 1 5 2 6.", "481526", others) == "found"
    assert on_file_answer(ENGINE, "4 8 1 5 2 7", "481526", others) == "offered"
    assert on_file_answer(ENGINE, "8 0 0 4 6", "800046", others) == "offered"  # a digit lost
    assert on_file_answer(ENGINE, "1 0 0 2 0 9", "481526", others) == "wrong_offer"
    assert on_file_answer(ENGINE, "9 9 9 9 9 9", "481526", others) == "none"
    assert on_file_answer(ENGINE, "Oh, I'm the one.", "481526", others) == "none"


def test_reach_counts_each_turn_once() -> None:
    heard = ["4 8 1 5 2 6", "4 8 1 5 2 7", "nothing"]
    result = on_file_reach(ENGINE, ["481526"] * 3, heard, seed=1)
    assert (result["found"], result["offered"], result["none"]) == (1, 1, 1)
    assert result["reached"] == round(2 / 3, 4)


def test_a_number_not_on_file_is_seldom_a_digit_or_two_from_one_that_is() -> None:
    assert 0.0 < made_up_offered(np.random.default_rng(2), 20_000) < 0.02


def test_codes_with_letters_are_offered_back_too(tmp_path) -> None:
    engine = DialogEngine(load_dialog(letter_dialog(tmp_path)))
    others = letter_codes(2, np.random.default_rng(4))
    # "Z" said alone comes out "C" on a phone line: one edit from the caller's code on file.
    assert on_file_answer(engine, "C B 2 3 5 4 1 0", "ZB235410", others) == "offered"
    assert on_file_answer(engine, "Z B 2 3 5 4 1 0", "ZB235410", others) == "found"
    assert 0.0 <= made_up_offered(np.random.default_rng(2), 5_000, letter_codes) < 0.01
