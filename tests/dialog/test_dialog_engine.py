import json
from dataclasses import FrozenInstanceError

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voice_agent.dialog.engine import DialogEngine
from voice_agent.dialog.script import MemoryOms, run_events
from voice_agent.dialog.spec import DialogSpec
from voice_agent.dialog.types import (
    CallStarted,
    CreateWorkOrder,
    DtmfKey,
    Event,
    LookupOrder,
    NotHeard,
    OrderLookedUp,
    Say,
    Silence,
    Transfer,
    UserSaid,
    WorkOrderOpened,
)
from voice_agent.dialog.upset import level, turn_score

from .conftest import TODAY, to_event

START = CallStarted(call_sid="CA-replay", today=TODAY)
SCRIPT = [
    "hello, this is ridiculous",
    "I want to return the shoes",
    "/silence",
    "4 8 1",
    "5 2 6",
    "they're too small",
    "no, not the shoes, the jacket",
    "yes",
]


def replay(engine: DialogEngine, events: list[Event]):
    """Feed recorded events (caller turns and OMS answers) with no OMS at all."""
    state, actions = engine.start(START)
    out = [actions]
    for event in events:
        state, actions = engine.step(state, event)
        out.append(actions)
    return state, out


def test_replaying_recorded_events_gives_identical_actions(engine, orders):
    events = [e for t in SCRIPT for e in to_event(t)]
    tr = run_events(engine, MemoryOms.from_orders(orders), START, events)
    recorded = tr.events[1:]  # everything after CallStarted, OMS answers included
    assert any(isinstance(e, OrderLookedUp) for e in recorded)
    state1, actions1 = replay(engine, recorded)
    state2, actions2 = replay(DialogEngine(engine.spec), recorded)
    assert actions1 == actions2 == [acts for _, acts in tr.steps]
    assert state1 == state2 == tr.state
    assert state1.to_dict() == state2.to_dict()
    [wo] = [a for acts in actions1 for a in acts if isinstance(a, CreateWorkOrder)]
    assert wo.item_sku == "JKT-RAIN-M"


def test_step_does_not_touch_the_old_state(engine, orders):
    state, _ = engine.start(START)
    snapshot = state.to_dict()
    s2, _ = engine.step(state, UserSaid("return order 481526, the jacket, it's broken"))
    s3, _ = engine.step(s2, OrderLookedUp("481526", orders[0]))
    assert state.to_dict() == snapshot
    assert s2.slots == {"order_id": "481526", "reason": "damaged"}
    assert s3.slots["item"] == "JKT-RAIN-M"
    with pytest.raises(FrozenInstanceError):
        s3.intent = "exchange"  # type: ignore[misc]
    json.dumps(s3.to_dict())  # JSON-serializable for call records
    assert s3.to_dict()["today"] == "2026-11-22"
    assert s3.to_dict()["order"]["order_id"] == "481526"


def test_request_id_is_stable_and_specific(engine, orders):
    def wo(call_sid: str, item: str) -> CreateWorkOrder:
        start = CallStarted(call_sid=call_sid, today=TODAY)
        tr = run_events(
            engine,
            MemoryOms.from_orders(orders),
            start,
            [UserSaid(f"return the {item} from 481526, damaged"), UserSaid("yes")],
        )
        [action] = [a for a in tr.actions if isinstance(a, CreateWorkOrder)]
        return action

    a, b = wo("CA-1", "jacket"), wo("CA-1", "jacket")
    assert a.request_id == b.request_id
    assert wo("CA-2", "jacket").request_id != a.request_id
    assert wo("CA-1", "shoes").request_id != a.request_id
    assert len(a.request_id) <= 64


def test_stale_and_foreign_results_are_ignored(engine, orders):
    state, _ = engine.start(START)
    state, acts = engine.step(state, UserSaid("return 481526"))
    assert acts == [LookupOrder("481526")]
    same, acts = engine.step(state, OrderLookedUp("735902", orders[1]))
    assert (same, acts) == (state, [])
    same, acts = engine.step(state, WorkOrderOpened("nope", "WO1"))
    assert (same, acts) == (state, [])
    # the caller talking while the lookup runs changes nothing but the transcript
    talk, acts = engine.step(state, UserSaid("hello?"))
    assert acts == [] and talk.phase == "lookup"


def test_nothing_happens_after_the_call_ended(engine):
    state, _ = engine.start(START)
    state, acts = engine.step(state, UserSaid("agent"))
    assert isinstance(acts[-1], Transfer) and state.ended
    assert engine.step(state, UserSaid("hello")) == (state, [])
    assert engine.step(state, Silence()) == (state, [])


def test_a_general_policy_question_mid_return_is_answered_and_the_return_goes_on(engine):
    state, _ = engine.start(START)
    state, _ = engine.step(state, UserSaid("I want to return something"))
    question = state.question
    state, acts = engine.step(state, UserSaid("what is your return policy?"))
    [say] = acts
    assert say.text.startswith("You can return most items within 30 days")
    assert say.text.endswith(question)  # and the order number is asked for again
    assert state.intent == "return" and state.pending == "order_id"
    # asked at the start of the call, it is the caller's reason to call
    state, _ = engine.start(START)
    state, acts = engine.step(state, UserSaid("what is your return policy?"))
    assert state.intent == "policy" and "anything else" in acts[-1].text


def test_speech_without_words_is_asked_again_then_handed_to_a_person(engine):
    state, _ = engine.start(START)
    state, acts = engine.step(state, UserSaid("I want to return something"))
    question = state.question
    assert state.pending == "order_id"
    state, acts = engine.step(state, NotHeard(1.8))
    assert acts == [Say(f"Sorry, I didn't catch that. {question}")]
    assert state.pending == "order_id" and state.unheard == 1
    # words understood in between start the count again
    state, _ = engine.step(state, UserSaid("4 8 1"))
    assert state.unheard == 0 and state.partial == "481"
    question = state.question
    state, acts = engine.step(state, NotHeard(1.2))
    assert acts == [Say(f"Sorry, I didn't catch that. {question}")]
    state, acts = engine.step(state, NotHeard(2.0))
    assert acts == [Say(f"Sorry, the line is breaking up. {question}")]
    state, acts = engine.step(state, NotHeard(2.0))
    [say, transfer] = acts
    assert isinstance(transfer, Transfer) and state.ended
    assert transfer.reason == "caller could not be understood"
    assert "trouble understanding" in say.text
    assert transfer.summary["intent"] == "return"


def test_speech_without_words_during_an_oms_call_waits_for_its_answer(engine, orders):
    state, _ = engine.start(START)
    state, acts = engine.step(state, UserSaid("return 481526"))
    assert acts == [LookupOrder("481526")]
    assert engine.step(state, NotHeard(1.5)) == (state, [])


def test_transfer_summary(engine, orders):
    tr = run_events(
        engine,
        MemoryOms.from_orders(orders),
        START,
        [UserSaid("return 481526"), UserSaid("the shoes"), UserSaid("I want to speak to a human")],
    )
    [transfer] = [a for a in tr.actions if isinstance(a, Transfer)]
    s = transfer.summary
    assert s["intent"] == "return" and s["reason"] == "caller asked for a person"
    assert s["slots"] == {"order_id": "481526", "item": "SHOE-BLU-42"}
    assert s["last_turns"][-1] == {"speaker": "caller", "text": "I want to speak to a human"}
    assert {"speaker": "caller", "text": "the shoes"} in s["last_turns"]
    json.dumps(s)


def test_upset_score_is_cumulative(spec: DialogSpec):
    u = spec.upset
    assert turn_score("I want to return my shoes", u) == 0
    assert turn_score("no", u) == 0
    one = turn_score("this is ridiculous", u)
    assert 0 < one < u.threshold
    assert level([one], u) < u.threshold
    swear = turn_score("oh shit", u)
    assert 0 < swear < u.threshold  # one swear word alone is not enough ...
    assert level([swear, turn_score("fuck this", u)], u) >= u.threshold  # ... two turns are
    assert turn_score("this is fucking useless", u) >= u.threshold  # abuse plus anger
    assert turn_score("no no no no", u) > 0
    assert level([one, 0, 0, 0], u) == 0  # it fades after the window
    # negatives turn after turn add up too, a single no does not
    assert turn_score("no", u, ["no", "that's wrong"]) == u.negative_weight
    assert turn_score("no", u, ["yes", "no"]) == 0


def test_dtmf_yes_and_buffer(engine):
    state, _ = engine.start(START)
    for k in "4815":
        state, acts = engine.step(state, DtmfKey(k))
        assert acts == []
    assert state.dtmf == "4815"
    state, acts = engine.step(state, DtmfKey("*"))
    assert state.dtmf == ""
    state, acts = engine.step(state, DtmfKey("A"))
    assert acts == []


PHRASES = [
    "return",
    "yes",
    "no",
    "4 8 1 5 2 6",
    "7 3 5 9 0 2",
    "the jacket",
    "too small",
    "agent",
    "",
    "what",
    "where is my refund",
    "cancel",
    "exchange for a large",
    "this is ridiculous",
    "how long do I have",
    "1 1 1 1 1 1",
    "goodbye",
    "broken",
    "the price dropped",
    "never got it",
    "no, it's 6 6 4 2 0 9",
]
EVENTS = st.one_of(
    st.sampled_from(PHRASES).map(UserSaid),
    st.text(max_size=30).map(UserSaid),
    st.sampled_from("0123456789*#").map(DtmfKey),
    st.just(Silence()),
    st.just(NotHeard(1.5)),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(EVENTS, max_size=25), st.booleans())
def test_random_calls_never_crash_or_dead_end(engine, orders, events, down):
    oms = MemoryOms.from_orders(orders, down=down)
    tr = run_events(engine, oms, START, events)
    # every spoken turn that the engine answered got something to hear or an action
    state, acts = engine.start(START)
    for event in tr.events[1:]:
        before = state
        state, acts = engine.step(state, event)
        waiting = before.phase in ("lookup", "creating")
        if isinstance(event, (UserSaid, Silence)) and not before.ended and not waiting:
            answered = (Say, Transfer, LookupOrder, CreateWorkOrder)
            assert any(isinstance(a, answered) for a in acts), (event, before.phase)
    assert len({wo.request_id for wo in oms.work_orders.values()}) == len(oms.work_orders)
