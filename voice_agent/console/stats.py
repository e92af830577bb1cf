"""Pure views of call records for the console: list rows, turn timelines, totals.

Inputs are the masked dicts of :meth:`voice_agent.store.calls.CallRecord.to_dict` and the parsed
lines of a recording's events file; nothing here does I/O.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from typing import Any

STOPWORDS = frozenset(
    """a about actually again all also am an and any are as at be because been but by can could
    did do does doing don dont for from get got had has have having he her here hi him his how i
    i'm im is it it's its just know like me my no not now of off oh ok okay on one or order our out
    please really return returns refund right said say see she should so some that that's the
    their them then there they they're this to too uh um up us very want was we well were what
    when where which who why will with would yeah yes you your thanks thank hello number item
    items bye goodbye sorry need i'd i've wanted calling call""".split()  # noqa: SIM905
)
WORD = re.compile(r"[a-z][a-z']+")


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _seconds(start: Any, end: Any) -> float | None:
    if start is None or end is None:
        return None
    try:
        a = start if isinstance(start, datetime) else datetime.fromisoformat(str(start))
        b = end if isinstance(end, datetime) else datetime.fromisoformat(str(end))
    except ValueError:
        return None
    return round((b - a).total_seconds(), 1)


def last_state(record: dict[str, Any]) -> dict[str, Any]:
    for event in reversed(record.get("events") or []):
        if event.get("kind") == "state" and isinstance(event.get("data", {}).get("state"), dict):
            return dict(event["data"]["state"])
    return {}


def handoff_reason(record: dict[str, Any]) -> str | None:
    for event in record.get("events") or []:
        if event.get("kind") == "transfer":
            return str(event.get("data", {}).get("reason") or "unknown")
    for event in record.get("events") or []:
        data = event.get("data") or {}
        if event.get("kind") == "action" and data.get("action") == "Transfer":
            return str(data.get("reason") or "unknown")
    return "unknown" if record.get("outcome") == "handed_off" else None


def call_row(record: dict[str, Any]) -> dict[str, Any]:
    """One line of the calls list."""
    state = last_state(record)
    reason = handoff_reason(record)
    work_orders = record.get("work_orders") or []
    return {
        "call_sid": record["call_sid"],
        "started_at": _iso(record.get("started_at")),
        "channel": record.get("channel"),
        "caller": record.get("caller"),
        "duration_s": _seconds(record.get("started_at"), record.get("ended_at")),
        "intent": state.get("intent"),
        "outcome": record.get("outcome"),
        "handed_off": record.get("outcome") == "handed_off",
        "handoff_reason": reason,
        "work_orders": [
            {"type": w.get("type"), "order_id": w.get("order_id"), "status": w.get("status")}
            for w in work_orders
        ],
        "turns": sum(1 for t in record.get("turns") or [] if t.get("speaker") == "user"),
    }


def matches(row: dict[str, Any], text: str) -> bool:
    """Free-text filter over a list row (case-insensitive, any field)."""
    needle = text.strip().lower()
    if not needle:
        return True
    hay = " ".join(
        str(v) for k, v in row.items() if k != "work_orders"
    ) + " " + " ".join(f"{w['type']} {w['order_id']} {w['status']}" for w in row["work_orders"])
    return needle in hay.lower()


def timeline(
    record: dict[str, Any], events: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """The transcript as chat entries with a start time on the recording (``start_s``).

    With a recording's events, a caller line starts at the VAD start before its transcript and
    an agent line at the first agent audio after it; without, lines carry only wall-clock times.
    """
    turns = record.get("turns") or []
    if not events:
        return [
            {"speaker": t["speaker"], "text": t["text"], "at": _iso(t.get("at")),
             "start_s": None, "latency_ms": t.get("latency_ms"),
             "interrupted": t.get("interrupted", False)}
            for t in turns
        ]
    out: list[dict[str, Any]] = []
    last_vad = 0.0
    pending_agent: list[dict[str, Any]] = []
    db_turns = iter(turns)
    for event in events:
        kind = event.get("kind")
        t = float(event.get("t", 0.0))
        if kind == "vad_start":
            last_vad = t
        elif kind in ("agent_audio_start", "agent_first_audio"):
            for entry in pending_agent:
                entry["start_s"] = t
            pending_agent = []
        elif kind == "turn":
            db: dict[str, Any] = next(db_turns, {})
            entry = {
                "speaker": event.get("speaker"),
                "text": event.get("text"),
                "at": _iso(db.get("at")),
                "start_s": last_vad if event.get("speaker") == "user" else t,
                "latency_ms": db.get("latency_ms"),
                "interrupted": db.get("interrupted", False),
                "vad_end_to_transcript_ms": event.get("vad_end_to_transcript_ms"),
            }
            if event.get("speaker") == "agent":  # heard from its first audio on
                pending_agent.append(entry)
            out.append(entry)
    return out


def turn_latencies(events: list[dict[str, Any]] | None, record: dict[str, Any]) -> list[dict]:
    """Per caller turn: ASR time and response times, from the recording (or the call record)."""
    out: list[dict[str, Any]] = []
    if events:
        current: dict[str, Any] | None = None
        for event in events:
            if event.get("kind") == "turn" and event.get("speaker") == "user":
                current = {"turn": len(out) + 1, "text": event.get("text"),
                           "vad_end_to_transcript_ms": event.get("vad_end_to_transcript_ms")}
                out.append(current)
            elif event.get("kind") == "agent_first_audio" and current is not None:
                current["transcript_to_first_audio_ms"] = event.get("transcript_to_first_audio_ms")
                current["end_of_speech_to_first_audio_ms"] = event.get(
                    "end_of_speech_to_first_audio_ms"
                )
                current = None
        return out
    for i, event in enumerate(e for e in record.get("events") or [] if e.get("kind") == "latency"):
        out.append({"turn": i + 1,
                    "end_of_speech_to_first_audio_ms": event["data"].get(
                        "end_of_speech_to_audio_ms")})
    return out


def complaint_words(records: list[dict[str, Any]], top: int = 15) -> list[tuple[str, int]]:
    """The callers' most frequent content words (stopwords, digits and masked values removed)."""
    counts: Counter[str] = Counter()
    for record in records:
        for turn in record.get("turns") or []:
            if turn.get("speaker") != "user":
                continue
            for word in WORD.findall(str(turn.get("text", "")).lower()):
                word = word.strip("'")
                if len(word) >= 3 and word not in STOPWORDS and "*" not in word:
                    counts[word] += 1
    return counts.most_common(top)


def totals(records: list[dict[str, Any]]) -> dict[str, Any]:
    """What the operations team acts on: volume, containment, why calls reach a person."""
    rows = [call_row(r) for r in records]
    ended = [r for r in rows if r["outcome"] is not None]
    resolved = sum(1 for r in ended if r["outcome"] == "resolved")
    handoffs = Counter(r["handoff_reason"] for r in rows if r["handed_off"])
    reasons: Counter[str] = Counter()
    intents: Counter[str] = Counter()
    work_order_types: Counter[str] = Counter()
    for record, row in zip(records, rows, strict=True):
        if row["intent"]:
            intents[row["intent"]] += 1
        for w in record.get("work_orders") or []:
            work_order_types[str(w.get("type"))] += 1
            if w.get("type") == "return":
                reasons[str(w.get("reason"))] += 1
    return {
        "calls": len(rows),
        "ended": len(ended),
        "resolved": resolved,
        "handed_off": sum(1 for r in rows if r["handed_off"]),
        "abandoned": sum(1 for r in rows if r["outcome"] == "abandoned"),
        "containment_rate": round(resolved / len(ended), 3) if ended else None,
        "handoff_reasons": handoffs.most_common(),
        "return_reasons": reasons.most_common(),
        "intents": intents.most_common(),
        "work_order_types": work_order_types.most_common(),
        "complaint_words": complaint_words(records),
    }
