"""Fixture cases (``audio_fixtures/<case>/caller.wav`` + ``expected.yaml``) and the pure check
of a replayed call against what a case expects.

A case may also be a recorded call: ``caller.wav`` is then the stereo recording (its left,
caller channel is replayed) and ``caller.events.jsonl`` its events file, whose VAD times
place each caller turn.

``expected.yaml``::

    today: 2026-11-22            # the date the scratch OMS and the dialog treat as today
    expect:
      intent: return             # the dialog's final intent
      slots: {order_id: "735902", reason: damaged}   # a subset of the final slots
      work_orders:               # in order; each listed key must match (others are ignored)
        - {type: return, order_id: "735902", reason: damaged}
      handoff: false             # true, or words of the transfer reason, e.g. "caller asked"
      outcome: resolved          # resolved | handed_off | abandoned
      max_turns: 6               # caller inputs the call may take at most
      said: ["30 days"]          # phrases the agent must have said (case-insensitive)
    xfail: "why this case is known to fail"   # optional: reported, not a regression
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from voice_agent.dialog.types import CALLER_INPUTS as CALLER_EVENTS

FIXTURE_TODAY = date(2026, 11, 22)
KNOWN_KEYS = {"intent", "slots", "work_orders", "handoff", "outcome", "max_turns", "said"}
CALLER_INPUTS = {event.__name__ for event in CALLER_EVENTS}


class SpecError(ValueError):
    """An ``expected.yaml`` that can't be used."""


@dataclass
class FixtureCase:
    name: str
    folder: Path
    audio: Path
    expect: dict[str, Any]
    today: date = FIXTURE_TODAY
    xfail: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    events: Path | None = None  # a recorded call's events (turn timing); None: silence gaps


def load_case(folder: Path) -> FixtureCase:
    """Read one case folder; raises :class:`SpecError` with the file name on bad content."""
    spec_path = folder / "expected.yaml"
    audio = folder / "caller.wav"
    if not audio.is_file():
        raise SpecError(f"{audio}: missing")
    try:
        doc = yaml.safe_load(spec_path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError(f"{spec_path}: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("expect"), dict):
        raise SpecError(f"{spec_path}: needs a mapping with an 'expect' mapping")
    unknown = set(doc["expect"]) - KNOWN_KEYS
    if unknown:
        raise SpecError(f"{spec_path}: unknown expect keys {sorted(unknown)}")
    today = doc.get("today", FIXTURE_TODAY)
    if isinstance(today, str):
        today = date.fromisoformat(today)
    meta = {k: v for k, v in doc.items() if k not in ("expect", "today", "xfail")}
    events = folder / "caller.events.jsonl"
    return FixtureCase(
        name=folder.name,
        folder=folder,
        audio=audio,
        expect=doc["expect"],
        today=today,
        xfail=doc.get("xfail"),
        meta=meta,
        events=events if events.is_file() else None,
    )


def discover(root: Path, only: list[str] | None = None) -> list[FixtureCase]:
    """Every case under ``root`` (a folder of case folders, or one case folder), sorted by name."""
    if (root / "expected.yaml").is_file():
        folders = [root]
    else:
        folders = sorted(p.parent for p in root.glob("*/expected.yaml"))
    if only:
        folders = [f for f in folders if f.name in only]
    return [load_case(f) for f in folders]


def summarize(turns: list[dict[str, Any]], state: dict[str, Any] | None, outcome: str | None,
              transferred: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a replayed call did, in the terms ``expected.yaml`` uses."""
    actions = [a for t in turns for a in t.get("actions", [])]
    transfers = [a for a in actions if a.get("action") == "Transfer"]
    return {
        "intent": (state or {}).get("intent"),
        "slots": dict((state or {}).get("slots") or {}),
        "work_orders": [
            {k: a.get(k) for k in ("type", "order_id", "reason", "item_sku", "details")}
            for a in actions
            if a.get("action") == "CreateWorkOrder"
        ],
        "handoff": transfers[-1].get("reason") if transfers else False,
        "outcome": outcome,
        "turns": sum(1 for t in turns if t.get("input", {}).get("type") in CALLER_INPUTS),
        "said": [s for t in turns for s in t.get("said", [])],
        "heard": [t["input"].get("text") or t["input"].get("key") or f"({t['input']['type']})"
                  for t in turns if t.get("input", {}).get("type") in CALLER_INPUTS],
        "transferred": transferred is not None,
    }


def _subset_diff(expected: dict[str, Any], actual: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in expected.items() if _norm(actual.get(k)) != _norm(v)}


def _norm(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip().lower()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    return value


def check(expect: dict[str, Any], actual: dict[str, Any]) -> list[dict[str, Any]]:
    """Differences between a case's expectations and a replayed call (empty: the case passes)."""
    diffs: list[dict[str, Any]] = []

    def diff(key: str, want: Any, got: Any) -> None:
        diffs.append({"field": key, "expected": want, "actual": got})

    if "intent" in expect and _norm(expect["intent"]) != _norm(actual["intent"]):
        diff("intent", expect["intent"], actual["intent"])
    if "slots" in expect:
        wrong = _subset_diff(expect["slots"], actual["slots"])
        if wrong:
            diff("slots", wrong, {k: actual["slots"].get(k) for k in wrong})
    if "work_orders" in expect:
        want, got = expect["work_orders"], actual["work_orders"]
        pairs = zip(want, got, strict=False)
        if len(want) != len(got) or any(_subset_diff(w, g) for w, g in pairs):
            diff("work_orders", want, got)
    if "handoff" in expect:
        want_h, got_h = expect["handoff"], actual["handoff"]
        ok = (got_h is False) if want_h is False else (
            got_h is not False if want_h is True
            else isinstance(got_h, str) and _norm(want_h) in _norm(got_h)
        )
        if not ok:
            diff("handoff", want_h, got_h)
    if "outcome" in expect and expect["outcome"] != actual["outcome"]:
        diff("outcome", expect["outcome"], actual["outcome"])
    if "max_turns" in expect and actual["turns"] > int(expect["max_turns"]):
        diff("max_turns", expect["max_turns"], actual["turns"])
    if "said" in expect:
        spoken = " ".join(actual["said"]).lower()
        missing = [p for p in expect["said"] if p.lower() not in spoken]
        if missing:
            diff("said", missing, "(not said)")
    return diffs
