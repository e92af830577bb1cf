"""``/console``: the QA console page and the JSON it reads (PII masked as in ``/calls``).

Routes: ``GET /console`` (the page), ``/console/static/*`` (its JS/CSS),
``/console/api/calls``, ``/console/api/calls/{sid}``, ``/console/api/calls/{sid}/recording.wav``
and ``/console/api/totals``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse, HTMLResponse
from loguru import logger

from voice_agent.console.stats import call_row, matches, timeline, totals, turn_latencies
from voice_agent.pii import mask_data
from voice_agent.pipeline.recording import read_events, recording_paths
from voice_agent.store.calls import CallStore

STATIC = Path(__file__).parent / "static"
STATIC_FILES = {
    "console.js": "text/javascript",
    "console.css": "text/css",
    "phone.js": "text/javascript",
}
MAX_CALLS = 500


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def console_router(store: CallStore, data_dir: Path) -> APIRouter:
    """Build the console routes over ``store``; recordings are read from ``data_dir``."""
    router = APIRouter(prefix="/console", tags=["console"])

    async def records(since: datetime | None, until: datetime | None, channel: str | None,
                      outcome: str | None, limit: int) -> list[dict[str, Any]]:
        found = await store.list_calls(outcome=outcome, channel=channel, since=_utc(since),
                                       limit=limit)
        out = []
        for summary in found:
            started = _utc(summary.started_at)
            if until is not None and started is not None and started > _utc(until):  # type: ignore[operator]
                continue
            record = await store.get_call(summary.call_sid)
            if record is not None:
                out.append(mask_data(record.to_dict()))
        return out

    @router.get("", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse((STATIC / "index.html").read_text())

    @router.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> FileResponse:
        if name not in STATIC_FILES:
            raise HTTPException(404, "not found")
        return FileResponse(STATIC / name, media_type=STATIC_FILES[name])

    @router.get("/api/calls", summary="Calls for the console list, newest first")
    async def list_calls(
        since: datetime | None = None,
        until: datetime | None = None,
        channel: Annotated[str | None, Query(max_length=32)] = None,
        outcome: Literal["resolved", "handed_off", "abandoned"] | None = None,
        intent: Annotated[str | None, Query(max_length=64)] = None,
        q: Annotated[str | None, Query(max_length=100, description="free text")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_CALLS)] = 100,
    ) -> list[dict[str, Any]]:
        rows = [call_row(r) for r in await records(since, until, channel, outcome, limit)]
        for row in rows:
            row["has_recording"] = recording_paths(data_dir, row["call_sid"])[0].is_file()
        if intent:
            rows = [r for r in rows if r["intent"] == intent]
        if q:
            rows = [r for r in rows if matches(r, q)]
        return rows

    @router.get("/api/calls/{call_sid}", summary="One call for the console")
    async def get_call(call_sid: str) -> dict[str, Any]:
        record = await store.get_call(call_sid)
        if record is None:
            raise HTTPException(404, f"call {call_sid!r} not found")
        data = mask_data(record.to_dict())
        wav, events_path = recording_paths(data_dir, call_sid)
        try:
            events = read_events(events_path)
        except OSError:
            logger.exception(f"[{call_sid}] events file unreadable")
            events = None
        events = mask_data(events) if events else None
        return {
            "call": call_row(data),
            "chat": timeline(data, events),
            "states": [e for e in data["events"] if e["kind"] == "state"],
            "actions": [e for e in data["events"] if e["kind"] in ("action", "transfer",
                                                                   "order_lookup", "work_order")],
            "work_orders": data["work_orders"],
            "latency": turn_latencies(events, data),
            "recording": f"/console/api/calls/{call_sid}/recording.wav" if wav.is_file() else None,
        }

    @router.get("/api/calls/{call_sid}/recording.wav", summary="The call's stereo recording")
    async def recording(call_sid: str) -> FileResponse:
        wav = recording_paths(data_dir, call_sid)[0]
        if not wav.is_file():
            raise HTTPException(404, "no recording for this call")
        return FileResponse(wav, media_type="audio/wav")

    @router.get("/api/totals", summary="Totals over a period")
    async def get_totals(
        since: datetime | None = None,
        until: datetime | None = None,
        channel: Annotated[str | None, Query(max_length=32)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_CALLS)] = MAX_CALLS,
    ) -> dict[str, Any]:
        return totals(await records(since, until, channel, None, limit))

    return router
