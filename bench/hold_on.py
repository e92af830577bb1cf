"""The answers that came after a hold-on ("One moment." while the order number is checked), as
``bench.latency`` reads them from the agent's call record and its recording.
"""

from __future__ import annotations

import statistics
from typing import Any

import httpx


async def held_answer_pending(http: httpx.AsyncClient, call_sid: str) -> bool:
    """Whether the agent said "One moment" (a hold-on) and has not given its answer yet."""
    events = (await http.get(f"/calls/{call_sid}")).json().get("events") or []
    kinds = [e["kind"] for e in events if e["kind"] in ("hold_on", "answer_after_hold_on")]
    return bool(kinds) and kinds[-1] == "hold_on"


def answers_after_hold_on(events: list[dict[str, Any]]) -> dict[int, tuple[float, float]]:
    """Per caller turn (0 = the first) that got a hold-on: the agent's own times, from the VAD's
    end of the turn, to the hold-on's first audio and to the answer handed to the TTS.
    """
    found: dict[int, tuple[float, float]] = {}
    turn, held, first = -1, None, None
    for event in events:
        kind, data = event["kind"], event["data"]
        if kind == "event" and data.get("type") in ("UserSaid", "DtmfKey", "NotHeard", "Silence"):
            turn += 1
        elif kind == "hold_on":
            # A number read again: said before the turn's words reached the dialog.
            held, first = turn + (data.get("reason") == "number_check"), None
        elif kind == "latency" and held is not None and first is None:
            first = data["end_of_speech_to_audio_ms"]
        elif kind == "answer_after_hold_on" and held is not None and first is not None:
            found[held] = (first, data["end_of_speech_to_answer_ms"])
            held = None
    return found


def hold_on_to_answer_heard(recording: list[dict[str, Any]]) -> list[float]:
    """Per hold-on that got its answer, in call order: the seconds from the hold-on's first audio
    to the answer's, as the call recording played them (its ``agent_audio_start`` events, on
    the caller's clock). An answer handed to the TTS while the hold-on plays waits for its end.
    """
    gaps: list[float] = []
    held_at: float | None = None
    state = ""
    for event in recording:
        kind = event.get("kind")
        if kind == "dialog_hold_on":
            state, held_at = "hold_on", None
        elif kind == "dialog_answer_after_hold_on" and state == "hold_on":
            state = "answer"
        elif kind == "agent_audio_start" and state == "hold_on" and held_at is None:
            held_at = event["t"]
        elif kind == "agent_audio_start" and state == "answer" and held_at is not None:
            gaps.append(event["t"] - held_at)
            state, held_at = "", None
    return gaps


def answers_heard(call: dict[str, Any], recording: list[dict[str, Any]]) -> dict[str, int]:
    """Per turn that got a hold-on: when its answer was heard, in ms after the end of speech
    (the hold-on's wire time plus the recording's time from the hold-on to the answer).
    """
    turns = sorted(call["answer_ms"], key=int)
    gaps = hold_on_to_answer_heard(recording)
    if len(gaps) != len(turns):
        return {}  # a hold-on the recording does not pair with an answer: leave it out
    return {
        k: round(call["turn_ms"][int(k)] + gap * 1000) for k, gap in zip(turns, gaps, strict=True)
    }


def answer_summary(calls: list[dict[str, Any]]) -> dict[str, Any]:
    answers = [ms for c in calls for ms in c["answer_ms"].values()]
    if not answers:
        return {"hold_ons": 0}
    heard = [ms for c in calls for ms in c.get("heard_ms", {}).values()]
    return {
        "hold_ons": len(answers),
        "answer_after_hold_on_p50_ms": statistics.median(answers),
        "answer_after_hold_on_max_ms": max(answers),
        "answer_heard_p50_ms": statistics.median(heard) if heard else None,
        "answer_heard_max_ms": max(heard) if heard else None,
    }
