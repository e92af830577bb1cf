"""A retailer whose order numbers hold letters: the dialog's own file with another pattern."""

from __future__ import annotations

from pathlib import Path

import pytest

from voice_agent.dialog.engine import DialogEngine
from voice_agent.dialog.lookup import sound_alikes
from voice_agent.dialog.script import Transcript, run_script
from voice_agent.dialog.spec import load_dialog
from voice_agent.dialog.types import (
    CallStarted,
    LookupOrder,
    OrderLookedUp,
    Say,
    Transfer,
    UserSaid,
)
from voice_agent.oms.models import Order
from voice_agent.testing.dialogs import LETTER_PATTERN, letter_dialog

from .conftest import DIALOG, TODAY


def letters_dialog(directory: Path, *without: str) -> DialogEngine:
    """The returns dialog with order numbers of two letters and six digits, ``without`` the
    prompts named."""
    return DialogEngine(load_dialog(letter_dialog(directory, *without)))


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> DialogEngine:
    return letters_dialog(Path(tmp_path_factory.mktemp("dialogs")))


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
    for code in ["CB235410", *sound_alikes("CB235410", LETTER_PATTERN)]:  # the OMS has none of them
        assert lookups(actions) == [code] and not says(actions)
        state, actions = engine.step(state, OrderLookedUp(code, None))
    assert "C as in Charlie, B as in Bravo, 2, 3, 5, 4, 1, 0" in says(actions), says(actions)
    state, actions = engine.step(state, UserSaid("No, it's Z as in zebra, B as in boy, 235410"))
    assert lookups(actions) == ["ZB235410"]


# --- sound-alikes: the OMS has no order under the code heard -----------------------------------
def test_sound_alikes_swap_the_letters_a_phone_line_blurs_likeliest_first() -> None:
    heard = sound_alikes("CB235410", LETTER_PATTERN)
    assert heard[0] == "ZB235410"  # "Z" said alone is heard as "C"
    assert heard.index("CV235410") < heard.index("ZV235410")  # one letter before two
    assert len(heard) == len(set(heard)) and "CB235410" not in heard
    assert all(code.endswith("235410") for code in heard)  # no teen or ten in the digits
    assert sound_alikes("VU803520", LETTER_PATTERN)[0] == "BU803520"
    assert sound_alikes("XF325384", LETTER_PATTERN)[:2] == ["SF325384", "XS325384"]
    assert sound_alikes("RH125212", LETTER_PATTERN) == []  # R and H have no sound-alikes
    assert sound_alikes("WO1234", r"^WO[0-9]{4}$") == []  # the pattern's own letters stay


def test_a_teen_heard_as_its_ten_and_a_ten_as_its_teen_come_after_single_letters() -> None:
    heard = sound_alikes("VC631740", LETTER_PATTERN)  # "sixty three, seventeen, fourteen"
    singles = [c for c in heard if c.endswith("631740") and (c[0] == "V") != (c[1] == "C")]
    assert heard.index("VC631714") > max(heard.index(c) for c in singles)  # "40" was "14"
    assert heard.index("VC637040") < heard.index("BZ631740")  # "17" was "70", before two letters
    assert sound_alikes("RH125617", LETTER_PATTERN) == ["RH125670"]
    assert sound_alikes("RH125612", LETTER_PATTERN) == []  # twelve and twenty are unalike


def order_as(orders: list[Order], order_id: str, like: str = "735902") -> Order:
    return next(o for o in orders if o.order_id == like).model_copy(update={"order_id": order_id})


def run_letters(engine: DialogEngine, orders: list[Order], *said: str) -> Transcript:
    transcript, _ = run_script(engine, orders, [UserSaid(s) for s in said], TODAY)
    return transcript


def offers(tr: Transcript) -> list[str]:
    return [says(actions) for _, actions in tr.steps if "Did you mean" in says(actions)]


def test_the_sound_alike_the_oms_has_is_offered_and_a_yes_takes_it(
    engine: DialogEngine, orders: list[Order]
) -> None:
    zb = order_as(orders, "ZB235410")
    tr = run_letters(engine, [zb], "I'd like to return something, C B 2 3 5 4 1 0", "Yes.")
    assert lookups(tr.actions) == ["CB235410", "ZB235410", "ZB235410"]
    assert offers(tr) == [
        "I couldn't find order C as in Charlie, B as in Bravo, 2, 3, 5, 4, 1, 0. "
        "Did you mean Z as in Zulu, B as in Bravo, 2, 3, 5, 4, 1, 0?"
    ]
    assert tr.state.slots["order_id"] == "ZB235410"
    assert tr.state.order is not None and tr.state.order.order_id == "ZB235410"
    assert tr.state.pending == "reason"  # one item: on to why it goes back


def test_the_first_sound_alike_found_is_offered_after_those_not_found(
    engine: DialogEngine, orders: list[Order]
) -> None:
    probes = sound_alikes("TT951997", LETTER_PATTERN)
    wanted = "PP951997"  # two letters misheard at once: "P P" as "T T"
    tr = run_letters(engine, [order_as(orders, wanted)], "I want to return T T 9 5 1 9 9 7")
    assert lookups(tr.actions) == ["TT951997", *probes[: probes.index(wanted) + 1]]
    assert tr.state.phase == "confirm"
    assert tr.state.proposal == {"kind": "order", "order_id": wanted}
    assert len(offers(tr)) == 1


def test_a_no_asks_for_the_number_again_and_counts_as_a_try(
    engine: DialogEngine, orders: list[Order]
) -> None:
    zb = order_as(orders, "ZB235410")
    tr = run_letters(engine, [zb], "Return please, C B 2 3 5 4 1 0", "No.")
    assert "order_id" not in tr.state.slots and tr.state.pending == "order_id"
    assert tr.state.attempts["order_id"] == 1
    assert says(tr.steps[-1][1]) == engine.spec.prompt("order_sound_alike_no", 0)
    assert "a word for each letter" in tr.state.question


def test_a_sound_alike_turned_down_is_not_offered_again(
    engine: DialogEngine, orders: list[Order]
) -> None:
    zb = order_as(orders, "ZB235410")
    heard = "C B 2 3 5 4 1 0"
    tr = run_letters(engine, [zb], f"Return please, {heard}", "No.", heard)
    assert len(offers(tr)) == 1 and tr.state.declined == ("ZB235410",)
    assert lookups(tr.actions).count("ZB235410") == 2  # found again, but not offered
    assert says(tr.steps[-1][1]).startswith("I couldn't find order C as in Charlie")
    assert tr.state.attempts["order_id"] == 2 and tr.state.pending == "order_id"
    tr = run_letters(engine, [zb], f"Return please, {heard}", "No.", heard, heard)
    transfers = [a for a in tr.actions if isinstance(a, Transfer)]
    assert len(offers(tr)) == 1 and tr.state.ended
    assert [t.reason for t in transfers] == ["order number not found"]


def test_an_order_said_to_be_not_theirs_is_not_offered_as_a_sound_alike(
    engine: DialogEngine, orders: list[Order]
) -> None:
    zb = order_as(orders, "ZB235410")
    tr = run_letters(engine, [zb], "Return, Z B 2 3 5 4 1 0", "That's not my order.",
                     "C B 2 3 5 4 1 0")  # fmt: skip
    assert tr.state.rejected == ("ZB235410",) and offers(tr) == []
    assert lookups(tr.actions).count("ZB235410") == 2
    assert says(tr.steps[-1][1]).startswith("I couldn't find order C as in Charlie")


def test_without_its_own_prompt_a_no_gets_the_order_number_question(
    tmp_path: Path, orders: list[Order]
) -> None:
    engine = letters_dialog(tmp_path, "order_sound_alike_no")
    tr = run_letters(engine, [order_as(orders, "ZB235410")], "Return, C B 2 3 5 4 1 0", "No.")
    assert tr.state.pending == "order_id"
    assert says(tr.steps[-1][1]) == engine.spec.prompt("ask_order_id", 1)


def test_the_caller_correcting_the_number_instead_of_a_yes_is_looked_up(
    engine: DialogEngine, orders: list[Order]
) -> None:
    zb, rt = order_as(orders, "ZB235410"), order_as(orders, "RT235410", like="481526")
    tr = run_letters(engine, [zb, rt], "Return please, C B 2 3 5 4 1 0", "It's Romeo Tango 235410")
    assert lookups(tr.actions)[-1] == "RT235410"
    assert tr.state.order is not None and tr.state.order.order_id == "RT235410"


def test_an_oms_down_while_sound_alikes_are_looked_up_offers_a_person(
    engine: DialogEngine,
) -> None:
    state, _ = engine.start(CallStarted("CA-letters", TODAY))
    state, actions = engine.step(state, UserSaid("I'd like a return, C B 2 3 5 4 1 0"))
    state, actions = engine.step(state, OrderLookedUp("CB235410", None))
    assert lookups(actions) == ["ZB235410"]
    stale, _ = engine.step(state, OrderLookedUp("CB235410", None))  # an answer not waited for
    assert stale.probes == state.probes
    state, actions = engine.step(state, OrderLookedUp("ZB235410", None, error="timeout"))
    assert "can't reach our order system" in says(actions)
    assert state.probes == () and state.proposal is not None
    assert state.proposal["kind"] == "transfer"


def test_no_sound_alikes_without_the_prompt_nor_for_codes_of_digits(tmp_path: Path) -> None:
    plain = letters_dialog(tmp_path, "order_sound_alike")
    state, _ = plain.start(CallStarted("CA-letters", TODAY))
    state, _ = plain.step(state, UserSaid("I'd like a return, C B 2 3 5 4 1 0"))
    state, actions = plain.step(state, OrderLookedUp("CB235410", None))
    assert not lookups(actions) and "I couldn't find order C as in Charlie" in says(actions)
    digits = DialogEngine(load_dialog(DIALOG))  # has the prompt; its numbers hold no letters
    state, _ = digits.start(CallStarted("CA-digits", TODAY))
    state, _ = digits.step(state, UserSaid("I'd like a return, 4 8 1 5 2 7"))
    state, actions = digits.step(state, OrderLookedUp("481527", None))
    assert not lookups(actions) and "I couldn't find order 4, 8, 1, 5, 2, 7" in says(actions)
