"""Keys typed for an order number that holds letters: each letter on the key that carries it."""

from __future__ import annotations

from pathlib import Path

import pytest

from voice_agent.dialog.engine import DialogEngine
from voice_agent.dialog.keypad import MAX_CODES, keypad_codes, positions
from voice_agent.dialog.script import Transcript, run_script
from voice_agent.dialog.spec import load_dialog
from voice_agent.dialog.types import (
    CallStarted,
    DtmfKey,
    Event,
    OrderLookedUp,
    Transfer,
    UserSaid,
)
from voice_agent.oms.models import Order
from voice_agent.testing.dialogs import LETTER_PATTERN

from .conftest import DIALOG, TODAY
from .test_letter_codes import letters_dialog, lookups, order_as, says

ZT = "ZT735902"
ZT_KEYS = "98735902"  # Z on 9 (WXYZ), T on 8 (TUV)


# --- the codes keys can be ---------------------------------------------------------------------
def test_keys_are_every_code_their_letters_make_in_the_keypads_order() -> None:
    codes = keypad_codes(ZT_KEYS, LETTER_PATTERN)
    assert len(codes) == 4 * 3 and codes[0] == "WT735902" and codes[-1] == "ZV735902"
    assert codes.index(ZT) == 9 and all(c.endswith("735902") for c in codes)
    assert keypad_codes("72123456", LETTER_PATTERN)[:4] == [
        "PA123456", "PB123456", "PC123456", "QA123456",
    ]  # fmt: skip
    # A pattern without I and O leaves them out; its own letters are the keys' only choice.
    assert keypad_codes("46123456", r"^[A-HJ-NP-Z]{2}\d{6}$") == [
        f"{a}{b}123456" for a in "GH" for b in "MN"
    ]
    assert keypad_codes("961234", r"^WO\d{4}$") == ["WO1234"]


@pytest.mark.parametrize(
    ("keys", "pattern"),
    [
        ("18735902", LETTER_PATTERN),  # 1 carries no letter
        ("9873590", LETTER_PATTERN),  # a key short
        ("481526", r"^[0-9]{6}$"),  # the keys are a code themselves
        ("98735902", r"^(AB|ZT)\d{6}$"),  # alternatives: no fixed letter per place
        ("9999", r"^[A-Z0-9]{4}$"),  # every place a letter or a digit: the keys are a code
        ("99999", r"^[A-Z]{5}$"),  # 4 ** 5 codes, more than anyone would wait for
    ],
)
def test_keys_make_no_codes(keys: str, pattern: str) -> None:
    assert keypad_codes(keys, pattern) == []


def test_a_code_of_many_letters_is_limited() -> None:
    assert len(keypad_codes("2222", r"^[A-Z]{3}\d$")) == 27 <= MAX_CODES
    assert MAX_CODES < 4**4 and keypad_codes("77772", r"^[A-Z]{4}\d$") == []


def test_the_places_of_a_pattern() -> None:
    assert positions(r"(?i)^[a-z]\d$") == [
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789",
    ]  # fmt: skip
    assert positions(r"^(?:[A-C]\d){2}$") == ["ABC", "0123456789"] * 2
    assert positions(r"^[^0-9]\.$") == ["ABCDEFGHIJKLMNOPQRSTUVWXYZ", ""]  # no key types "."
    assert positions(r"^\d+$") is None and positions("[") is None


# --- the dialog ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> DialogEngine:
    return letters_dialog(Path(tmp_path_factory.mktemp("dialogs")))


def typed(keys: str) -> list[Event]:
    return [DtmfKey(k) for k in keys]


def run(engine: DialogEngine, orders: list[Order], *turns: str | list[Event]) -> Transcript:
    events: list[Event] = []
    for turn in turns:
        events += [UserSaid(turn)] if isinstance(turn, str) else turn
    transcript, _ = run_script(engine, orders, events, TODAY)
    return transcript


def test_the_code_the_keys_make_is_found_offered_and_taken(
    engine: DialogEngine, orders: list[Order]
) -> None:
    tr = run(engine, [order_as(orders, ZT)], "I'd like to return something.", typed(ZT_KEYS))
    codes = keypad_codes(ZT_KEYS, LETTER_PATTERN)
    assert lookups(tr.actions) == codes[: codes.index(ZT) + 1]  # looked up in turn until found
    assert says(tr.steps[-1][1]) == (
        "From the keys you typed, I found order Z as in Zulu, T as in Tango, "
        "7, 3, 5, 9, 0, 2. Is that yours?"
    )
    assert tr.state.proposal == {"kind": "order", "order_id": ZT} and tr.state.keys == ""
    assert ("caller", "[keypad] 9 8 7 3 5 9 0 2") in tr.state.turns
    tr = run(engine, [order_as(orders, ZT)], "I'd like a return.", typed(ZT_KEYS), "Yes.")
    assert (
        lookups(tr.actions)[-1] == ZT
        and tr.state.order is not None
        and tr.state.order.order_id == ZT
    )
    assert tr.state.slots["order_id"] == ZT and tr.state.pending == "reason"


def test_keys_ended_by_pound_or_typed_before_the_question_are_looked_up_too(
    engine: DialogEngine, orders: list[Order]
) -> None:
    tr = run(engine, [order_as(orders, "WO1234")], "Return, please.", typed("961234#"))
    assert lookups(tr.actions) == []  # six keys: no code of two letters and six digits
    assert "9, 6, 1, 2, 3, 4" in says(tr.steps[-1][1])
    tr = run(engine, [order_as(orders, ZT)], typed(ZT_KEYS), "Yes.")  # at the greeting
    assert tr.state.slots["order_id"] == ZT
    assert tr.state.question == engine.spec.prompt("ask_intent_order").format(
        order_id="Z as in Zulu, T as in Tango, 7, 3, 5, 9, 0, 2"
    )


def test_keys_no_code_of_is_in_the_oms_are_read_back_and_asked_for_again(
    engine: DialogEngine, orders: list[Order]
) -> None:
    tr = run(engine, orders, "I'd like a return.", typed(ZT_KEYS))
    assert lookups(tr.actions) == keypad_codes(ZT_KEYS, LETTER_PATTERN)
    assert says(tr.steps[-1][1]).startswith("I couldn't find order 9, 8, 7, 3, 5, 9, 0, 2.")
    assert tr.state.pending == "order_id" and tr.state.attempts["order_id"] == 1
    assert tr.state.keys == "" and tr.state.probes == ()


def test_a_no_asks_for_the_number_said_with_a_word_for_each_letter(
    engine: DialogEngine, orders: list[Order]
) -> None:
    tr = run(engine, [order_as(orders, ZT)], "Return please.", typed(ZT_KEYS), "No.")
    assert "order_id" not in tr.state.slots and tr.state.pending == "order_id"
    assert says(tr.steps[-1][1]) == engine.spec.prompt("order_sound_alike_no", 0)
    keys_again = [typed(ZT_KEYS), "No."] * 2
    tr = run(engine, [order_as(orders, ZT)], "Return please.", typed(ZT_KEYS), "No.", *keys_again)
    assert any(isinstance(a, Transfer) for a in tr.actions) and tr.state.ended


def test_an_oms_down_while_the_keys_codes_are_looked_up_offers_a_person(
    engine: DialogEngine,
) -> None:
    state, _ = engine.start(CallStarted("CA-keys", TODAY))
    for key in ZT_KEYS:
        state, actions = engine.step(state, DtmfKey(key))
    assert lookups(actions) == ["WT735902"]
    state, actions = engine.step(state, OrderLookedUp("WT735902", None, error="timeout"))
    assert "can't reach our order system" in says(actions)
    assert state.keys == "" and state.probes == ()


def test_without_the_prompt_or_for_codes_of_digits_keys_are_read_as_digits(
    tmp_path: Path, orders: list[Order]
) -> None:
    plain = letters_dialog(tmp_path, "order_keypad_match")
    tr = run(plain, [order_as(orders, ZT)], "I'd like a return.", typed(ZT_KEYS))
    assert lookups(tr.actions) == [] and "9, 8, 7, 3, 5, 9, 0, 2" in says(tr.steps[-1][1])
    digits = DialogEngine(load_dialog(DIALOG))  # has the prompt; its numbers hold no letters
    tr = run(digits, orders, "I'd like a return.", typed("735902"))
    assert lookups(tr.actions) == ["735902"]
