"""``GET /calls`` and ``GET /calls/{call_sid}``: the call records, PII masked."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query

from voice_agent.pii import mask_data
from voice_agent.store.calls import CallRecord, CallStore, CallSummary


def calls_router(store: CallStore) -> APIRouter:
    """Build the router serving the call records of ``store`` (include it at the app's root)."""
    router = APIRouter(tags=["calls"])

    @router.get("/calls", response_model=list[CallSummary], summary="Recent calls, newest first")
    async def list_calls(
        outcome: Literal["resolved", "handed_off", "abandoned"] | None = None,
        channel: Annotated[str | None, Query(max_length=32)] = None,
        since: Annotated[
            datetime | None, Query(description="Only calls started at or after (UTC if naive)")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> Any:
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        found = await store.list_calls(outcome=outcome, channel=channel, since=since, limit=limit)
        return mask_data([c.__dict__ for c in found])

    @router.get(
        "/calls/{call_sid}",
        response_model=CallRecord,
        summary="One call: transcript, states, actions, work orders, latency, outcome",
        responses={404: {"description": "No such call"}},
    )
    async def get_call(call_sid: str) -> Any:
        record = await store.get_call(call_sid)
        if record is None:
            raise HTTPException(404, f"call {call_sid!r} not found")
        return mask_data(record.to_dict())

    return router
