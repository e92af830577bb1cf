"""The outbox's rows as read back: the entry, what the caller is told of it, and its queries.

The queries are synchronous; :class:`~voice_agent.store.outbox.WorkOrderOutbox` runs them in a
worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, or_, select

from voice_agent.store.db import Database, outbox

Status = Literal["pending", "delivered", "rejected"]


@dataclass(frozen=True)
class Receipt:
    """What the dialog tells the caller about a submitted work order.

    Attributes:
        reference: the OMS's work-order id when delivered, else our own ``local_reference``.
        delivered: the OMS has the work order.
        local_reference: our reference (``R`` + digits), stable for the idempotency key.
        oms_id: the OMS's id once delivered.
        status: ``pending`` (will be retried), ``delivered`` or ``rejected`` (the OMS refused it;
            it will never be opened, hand the caller to a person).
        error: why the last attempt failed, if it did.

    """

    reference: str
    delivered: bool
    local_reference: str
    oms_id: str | None
    status: Status
    error: str | None = None


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    reference: str
    idempotency_key: str
    call_sid: str
    payload: dict[str, Any]
    status: Status
    oms_id: str | None
    attempts: int
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None
    claimed_until: datetime | None
    claimed_by: str | None

    def receipt(self) -> Receipt:
        delivered = self.status == "delivered"
        return Receipt(
            reference=self.oms_id if delivered and self.oms_id else self.reference,
            delivered=delivered,
            local_reference=self.reference,
            oms_id=self.oms_id,
            status=self.status,
            error=self.last_error,
        )


def _entry(row: Any) -> OutboxEntry:
    return OutboxEntry(**{k: row[k] for k in OutboxEntry.__dataclass_fields__})


def entry_by_id(db: Database, row_id: int) -> OutboxEntry:
    with db.engine.connect() as conn:
        row = conn.execute(select(outbox).where(outbox.c.id == row_id)).mappings().one()
    return _entry(row)


def _first(db: Database, where: Any) -> OutboxEntry | None:
    with db.engine.connect() as conn:
        row = conn.execute(select(outbox).where(where)).mappings().first()
    return None if row is None else _entry(row)


def entry_by_key(db: Database, key: str) -> OutboxEntry | None:
    return _first(db, outbox.c.idempotency_key == key)


def find_entry(db: Database, ref: str) -> OutboxEntry | None:
    """The entry with this local reference, OMS id or idempotency key."""
    where = or_(outbox.c.reference == ref, outbox.c.oms_id == ref, outbox.c.idempotency_key == ref)
    return _first(db, where)


def count_pending(db: Database) -> int:
    query = select(func.count()).select_from(outbox).where(outbox.c.status == "pending")
    with db.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def entries_for_call(db: Database, call_sid: str) -> list[OutboxEntry]:
    """Read the outbox rows of one call, oldest first."""
    with db.engine.connect() as conn:
        rows = conn.execute(
            select(outbox).where(outbox.c.call_sid == call_sid).order_by(outbox.c.id)
        ).mappings()
        return [_entry(row) for row in rows]
