"""Call records: transcript, dialog states, actions, latency and outcome of every call.

The write methods are cheap to call from the audio pipeline: each is one small SQL statement run
in a worker thread, and a database error is logged rather than raised (a lost record line must
never break a live call). Text is PII-masked *before* it is stored: the raw values a work order
needs live only in the outbox payload.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from loguru import logger
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from voice_agent.pii import mask_data, mask_phone, mask_text
from voice_agent.store.db import Database, call_events, call_turns, calls, utcnow
from voice_agent.store.outbox_rows import entries_for_call

Outcome = Literal["resolved", "handed_off", "abandoned"]
Speaker = Literal["user", "agent"]
OUTCOMES: tuple[str, ...] = ("resolved", "handed_off", "abandoned")


@dataclass(frozen=True)
class Turn:
    speaker: str
    text: str
    at: datetime
    latency_ms: int | None = None
    interrupted: bool = False


@dataclass(frozen=True)
class CallEvent:
    kind: str
    at: datetime
    data: dict[str, Any]


@dataclass(frozen=True)
class WorkOrderRecord:
    reference: str
    oms_id: str | None
    status: str
    attempts: int
    last_error: str | None
    type: str
    order_id: str
    reason: str
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True)
class CallSummary:
    call_sid: str
    channel: str
    caller: str | None
    started_at: datetime
    ended_at: datetime | None
    outcome: str | None
    last_state: str | None


@dataclass(frozen=True)
class CallRecord(CallSummary):
    turns: list[Turn] = field(default_factory=list)
    events: list[CallEvent] = field(default_factory=list)
    work_orders: list[WorkOrderRecord] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class CallStore:
    """Writes and reads call records in the agent database.

    Args:
        engine_or_db: the agent database (a :class:`Database`, an engine or a URL).
        raise_errors: re-raise database errors from the write methods (tests) instead of
            logging them.

    """

    def __init__(self, engine_or_db: Database | Engine | str, *, raise_errors: bool = False):
        self.db = Database.of(engine_or_db)
        self.raise_errors = raise_errors

    # --- writes (async, one statement each, in a thread) ----------------------------------------
    async def start_call(
        self, call_sid: str, channel: str, caller: str | None = None, *, at: datetime | None = None
    ) -> None:
        """Record a new call. ``caller`` (a phone number or SIP URI) is stored masked."""
        await self._write(self._start, call_sid, channel, mask_phone(caller), at or utcnow())

    async def add_turn(
        self,
        call_sid: str,
        speaker: str,
        text: str,
        latency_ms: float | None = None,
        interrupted: bool = False,
        *,
        at: datetime | None = None,
    ) -> None:
        """Record what the caller (``user``) or the agent said.

        Args:
            call_sid: the call.
            speaker: ``user`` (the caller) or ``agent``.
            text: what was said (masked before it is stored).
            latency_ms: for agent turns, end of the caller's speech to first agent audio.
            interrupted: the caller barged in and the rest of this agent turn was not played.
            at: when the turn started (default: now).

        """
        values = {
            "call_sid": call_sid,
            "speaker": speaker,
            "text": mask_text(text),
            "at": at or utcnow(),
            "latency_ms": None if latency_ms is None else round(latency_ms),
            "interrupted": interrupted,
        }
        await self._write(self._insert, call_turns, values)

    async def add_event(
        self,
        call_sid: str,
        kind: str,
        data: dict[str, Any] | None = None,
        *,
        at: datetime | None = None,
    ) -> None:
        """Record a dialog state (``kind="state"``, ``data={"state": ...}``), an action, an error...

        A ``state`` event also updates the call's ``last_state``.
        """
        values = {"call_sid": call_sid, "kind": kind, "at": at or utcnow(), "data": {}}
        # Round-trip through JSON so dates, enums or dataclasses in ``data`` can't fail the write.
        values["data"] = mask_data(json.loads(json.dumps(data or {}, default=str)))
        await self._write(self._insert_event, values)

    async def end_call(self, call_sid: str, outcome: str, *, at: datetime | None = None) -> None:
        """Record how the call ended (one of :data:`OUTCOMES`); the first recorded outcome wins."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
        await self._write(self._end, call_sid, outcome, at or utcnow())

    async def _write(self, fn: Any, *args: Any) -> None:
        try:
            await self.db.run(fn, *args)
        except SQLAlchemyError:
            if self.raise_errors:
                raise
            logger.exception("call record write failed ({})", getattr(fn, "__name__", fn))

    def _start(self, call_sid: str, channel: str, caller: str | None, at: datetime) -> None:
        try:
            with self.db.engine.begin() as conn:
                conn.execute(
                    insert(calls).values(
                        call_sid=call_sid, channel=channel, caller=caller, started_at=at
                    )
                )
        except IntegrityError:  # started twice (e.g. a reconnect): keep the first start
            logger.debug("call {} already recorded", call_sid)

    def _insert(self, table: Any, values: dict[str, Any]) -> None:
        with self.db.engine.begin() as conn:
            conn.execute(insert(table).values(**values))

    def _insert_event(self, values: dict[str, Any]) -> None:
        with self.db.engine.begin() as conn:
            conn.execute(insert(call_events).values(**values))
            state = values["data"].get("state") if values["kind"] == "state" else None
            if isinstance(state, str):
                conn.execute(
                    update(calls)
                    .where(calls.c.call_sid == values["call_sid"])
                    .values(last_state=state[:64])
                )

    def _end(self, call_sid: str, outcome: str, at: datetime) -> None:
        with self.db.engine.begin() as conn:
            result = conn.execute(
                update(calls)
                .where(calls.c.call_sid == call_sid, calls.c.outcome.is_(None))
                .values(outcome=outcome, ended_at=at)
            )
            if result.rowcount == 0:
                exists = conn.execute(
                    select(calls.c.call_sid).where(calls.c.call_sid == call_sid)
                ).first()
                if exists is None:  # the start was never recorded: keep the end anyway
                    conn.execute(
                        insert(calls).values(
                            call_sid=call_sid,
                            channel="unknown",
                            started_at=at,
                            ended_at=at,
                            outcome=outcome,
                        )
                    )

    # --- reads ----------------------------------------------------------------------------------
    async def list_calls(
        self,
        *,
        outcome: str | None = None,
        channel: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
    ) -> list[CallSummary]:
        """List calls, newest first."""
        return await self.db.run(self._list, outcome, channel, since, limit)

    async def get_call(self, call_sid: str) -> CallRecord | None:
        """One call with its turns, events and work orders (all masked), or None."""
        return await self.db.run(self._get, call_sid)

    def _list(
        self, outcome: str | None, channel: str | None, since: datetime | None, limit: int
    ) -> list[CallSummary]:
        query = select(calls).order_by(calls.c.started_at.desc()).limit(limit)
        if outcome is not None:
            query = query.where(calls.c.outcome == outcome)
        if channel is not None:
            query = query.where(calls.c.channel == channel)
        if since is not None:
            query = query.where(calls.c.started_at >= since)
        with self.db.engine.connect() as conn:
            return [CallSummary(**row) for row in conn.execute(query).mappings()]

    def _get(self, call_sid: str) -> CallRecord | None:
        with self.db.engine.connect() as conn:
            row = conn.execute(select(calls).where(calls.c.call_sid == call_sid)).mappings().first()
            if row is None:
                return None
            turns = [
                Turn(
                    speaker=t["speaker"],
                    text=t["text"],
                    at=t["at"],
                    latency_ms=t["latency_ms"],
                    interrupted=bool(t["interrupted"]),
                )
                for t in conn.execute(
                    select(call_turns)
                    .where(call_turns.c.call_sid == call_sid)
                    .order_by(call_turns.c.at, call_turns.c.id)
                ).mappings()
            ]
            events = [
                CallEvent(kind=e["kind"], at=e["at"], data=e["data"])
                for e in conn.execute(
                    select(call_events)
                    .where(call_events.c.call_sid == call_sid)
                    .order_by(call_events.c.at, call_events.c.id)
                ).mappings()
            ]
        work_orders = [
            WorkOrderRecord(
                reference=e.reference,
                oms_id=e.oms_id,
                status=e.status,
                attempts=e.attempts,
                last_error=None if e.last_error is None else mask_text(e.last_error),
                type=str(e.payload.get("type")),
                order_id=str(e.payload.get("order_id")),
                reason=mask_text(str(e.payload.get("reason", ""))),
                created_at=e.created_at,
                delivered_at=e.delivered_at,
            )
            for e in entries_for_call(self.db, call_sid)
        ]
        return CallRecord(**row, turns=turns, events=events, work_orders=work_orders)
