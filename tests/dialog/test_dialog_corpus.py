"""The conversation corpus: scripted caller turns in conversations/*.yaml, run through the
real engine and dialog file against the embedded OMS (seeded demo orders, its own SQLite file),
asserting final actions and the work orders the OMS holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from voice_agent.dialog.types import HangUp, LookupOrder, Say, Transfer

CORPUS = Path(__file__).with_name("conversations")
KEYS = {"name", "turns", "oms", "expect"}
EXPECT = {
    "work_orders",
    "transfer",
    "hangup",
    "ended",
    "said",
    "not_said",
    "lookups",
    "intent",
    "slots",
    "last_said",
    "max_turns_to_wo",
}


def load_corpus() -> list[Any]:
    cases = []
    for path in sorted(CORPUS.glob("*.yaml")):
        for conv in yaml.safe_load(path.read_text()):
            assert set(conv) <= KEYS, (path.name, conv.get("name"), set(conv) - KEYS)
            assert set(conv["expect"]) <= EXPECT, (conv["name"], set(conv["expect"]) - EXPECT)
            cases.append(pytest.param(conv, id=f"{path.stem}:{conv['name']}"))
    return cases


CASES = load_corpus()


def test_corpus_is_big_enough():
    assert len(CASES) >= 60


@pytest.mark.parametrize("conv", CASES)
def test_conversation(conv, run):
    tr, oms = run(*conv["turns"], **conv.get("oms", {}))
    exp = conv["expect"]
    spoken = [a.text for a in tr.actions if isinstance(a, Say)]
    text = " | ".join(spoken).lower()
    debug = "\n".join(
        f"{type(e).__name__}: {getattr(e, 'text', '')} -> {acts}" for e, acts in tr.steps
    )
    got = [
        {
            "type": w.type,
            "order_id": w.order_id,
            "item_sku": w.item_sku,
            "reason": w.reason,
            **({"details": w.details} if w.details else {}),
        }
        for w in oms.work_orders.values()
    ]
    want = [dict(w) for w in exp.get("work_orders", [])]
    for g, w in zip(got, want, strict=False):
        for k in list(g):
            if k not in w:
                del g[k]
    assert got == want, debug
    if hasattr(oms, "opened"):  # the embedded OMS holds exactly these work orders
        opened = oms.opened()
        assert sorted(w["id"] for w in opened) == sorted(oms.references.values()), debug
    transfers = [a for a in tr.actions if isinstance(a, Transfer)]
    if exp.get("transfer"):
        assert len(transfers) == 1, debug
        assert exp["transfer"] in transfers[0].reason, debug
        summary = transfers[0].summary
        assert set(summary) == {"intent", "slots", "orders_not_theirs", "last_turns", "reason"}
        assert summary["last_turns"], debug
    else:
        assert not transfers, debug
    hangups = [a for a in tr.actions if isinstance(a, HangUp)]
    if "hangup" in exp:
        assert bool(hangups) == exp["hangup"], debug
    if hangups:
        assert isinstance(tr.actions[-1], HangUp), debug
    if "ended" in exp:
        assert tr.state.ended == exp["ended"], debug
    for phrase in exp.get("said", []):
        assert phrase.lower() in text, f"{phrase!r} not said\n{debug}"
    for phrase in exp.get("not_said", []):
        assert phrase.lower() not in text, f"{phrase!r} was said\n{debug}"
    if "last_said" in exp:
        assert exp["last_said"].lower() in spoken[-1].lower(), debug
    if "lookups" in exp:
        assert [a.order_id for a in tr.actions if isinstance(a, LookupOrder)] == exp["lookups"], (
            debug
        )
    if "intent" in exp:
        assert tr.state.intent == exp["intent"], debug
    for k, v in exp.get("slots", {}).items():
        assert tr.state.slots.get(k) == v, debug
