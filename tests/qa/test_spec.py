"""The pure half of ``voice-agent qa``: fixture specs and the comparison of a call to them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from voice_agent.qa.spec import FIXTURE_TODAY, SpecError, check, discover, load_case, summarize

FIXTURES = Path(__file__).resolve().parents[2] / "audio_fixtures"

TURNS = [
    {"input": {"type": "CallStarted"}, "said": ["Hi, how can I help?"], "actions": []},
    {"input": {"type": "UserSaid", "text": "return 735902 broken"}, "said": ["Confirm?"],
     "actions": [{"action": "LookupOrder", "order_id": "735902"}]},
    {"input": {"type": "OrderLookedUp"}, "said": [], "actions": []},
    {"input": {"type": "UserSaid", "text": "yes"}, "said": ["Done. Goodbye."],
     "actions": [{"action": "CreateWorkOrder", "type": "return", "order_id": "735902",
                  "reason": "damaged", "item_sku": "HDP-NC-700", "details": {}},
                 {"action": "HangUp"}]},
]
STATE = {"intent": "return", "slots": {"order_id": "735902", "reason": "damaged"}}


def actual():
    return summarize(TURNS, STATE, "resolved")


def test_summary_counts_caller_inputs_and_collects_work_orders():
    got = actual()
    assert got["turns"] == 2
    assert got["heard"] == ["return 735902 broken", "yes"]
    assert got["work_orders"] == [{"type": "return", "order_id": "735902", "reason": "damaged",
                                   "item_sku": "HDP-NC-700", "details": {}}]
    assert got["handoff"] is False


def test_matching_expectations_give_no_diffs():
    expect = {"intent": "return", "slots": {"order_id": "735902"},
              "work_orders": [{"type": "return", "order_id": "735902", "reason": "damaged"}],
              "handoff": False, "outcome": "resolved", "max_turns": 2, "said": ["goodbye"]}
    assert check(expect, actual()) == []


@pytest.mark.parametrize(
    ("expect", "field"),
    [
        ({"intent": "exchange"}, "intent"),
        ({"slots": {"order_id": "481526"}}, "slots"),
        ({"work_orders": []}, "work_orders"),
        ({"work_orders": [{"type": "return", "order_id": "735902", "reason": "wrong_size"}]},
         "work_orders"),
        ({"handoff": "caller asked"}, "handoff"),
        ({"handoff": True}, "handoff"),
        ({"outcome": "handed_off"}, "outcome"),
        ({"max_turns": 1}, "max_turns"),
        ({"said": ["refund is on its way"]}, "said"),
    ],
)
def test_each_wrong_expectation_is_reported(expect, field):
    diffs = check(expect, actual())
    assert [d["field"] for d in diffs] == [field]


def test_handoff_reason_matches_by_words():
    turns = [{"input": {"type": "UserSaid", "text": "agent"}, "said": [],
              "actions": [{"action": "Transfer", "reason": "caller asked for a person"}]}]
    got = summarize(turns, {}, "handed_off")
    assert check({"handoff": "caller asked", "outcome": "handed_off"}, got) == []
    assert check({"handoff": False}, got)[0]["actual"] == "caller asked for a person"


def test_load_case_rejects_unknown_keys_and_missing_audio(tmp_path):
    case = tmp_path / "c"
    case.mkdir()
    (case / "expected.yaml").write_text(yaml.safe_dump({"expect": {"intent": "return"}}))
    with pytest.raises(SpecError, match="caller.wav"):
        load_case(case)
    (case / "caller.wav").write_bytes(b"RIFF")
    (case / "expected.yaml").write_text(yaml.safe_dump({"expect": {"intnet": "return"}}))
    with pytest.raises(SpecError, match="intnet"):
        load_case(case)
    (case / "expected.yaml").write_text("expect: [not, a, mapping]")
    with pytest.raises(SpecError):
        load_case(case)


def test_committed_fixtures_are_valid_small_and_cover_the_issue():
    cases = discover(FIXTURES)
    assert len(cases) >= 25
    total = 0
    for case in cases:
        size = case.audio.stat().st_size
        assert size < 300_000, case.name
        total += size
        assert case.today == FIXTURE_TODAY
    assert total < 10_000_000
    tags = {t for c in cases for t in c.meta.get("tags", [])}
    assert {"correction", "number", "noise", "angry", "unknown_order", "handoff", "policy"} <= tags
    intents = {c.expect.get("intent") for c in cases}
    assert {"return", "exchange", "refund_status", "order_status", "delivery_problem",
            "price_protection", "cancel"} <= intents
    assert any(c.expect.get("handoff") for c in cases)


def test_fixture_today_is_a_date():
    assert isinstance(FIXTURE_TODAY, date)
