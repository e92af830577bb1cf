"""Durable outbox of work orders: written to the database first, then delivered to the OMS.

``submit()`` stores the request (same database as the call records), then tries to deliver it
inline with a short deadline so the caller usually hears the OMS's own number. If the OMS is slow
or down the caller hears our reference (``R100001``) instead, and :meth:`WorkOrderOutbox.run`
delivers the row later, with the same ``Idempotency-Key``, so the OMS opens it exactly once.

Several processes may share the database: a worker owns a row only while its lease
(``claimed_until``) runs, and takes it with a compare-and-set ``UPDATE ... WHERE claimed_until <
now``, never a table lock. A process killed mid-delivery leaves a lease that simply expires.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import uuid
from datetime import datetime, timedelta
from typing import Any

from loguru import logger
from sqlalchemy import Engine, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from voice_agent.oms.client import OmsClient, OmsError, OmsRejected
from voice_agent.oms.models import WorkOrderCreate
from voice_agent.store.db import Database, outbox, utcnow
from voice_agent.store.outbox_rows import (
    OutboxEntry,
    Receipt,
    count_pending,
    entries_for_call,
    entry_by_id,
    entry_by_key,
    find_entry,
)

REFERENCE_BASE = 100000


class OutboxConflict(Exception):
    """The idempotency key was already used for a different work order."""


def _comparable(payload: dict[str, Any]) -> dict[str, Any]:
    details = {k: v for k, v in payload.get("details", {}).items() if k != "agent_reference"}
    return {**payload, "details": details}


class WorkOrderOutbox:
    """Outbox of work orders and its delivery worker.

    Args:
        engine_or_db: the agent database (a :class:`Database`, an engine or a URL).
        client: the OMS client used for delivery.
        inline_timeout_s: how long ``submit()`` waits for the OMS before answering with our own
            reference.
        inline_retries: client retries during that wait (the worker uses the client's own
            setting): a blip is retried, an outage does not keep the caller waiting.
        lease_s: how long a worker owns a row it claimed (must exceed one delivery's worst case).
        poll_interval_s: how often the worker looks for due rows when not woken.
        retry_base_s, max_backoff_s: backoff between attempts of one row (doubles per attempt).
        batch_size: rows claimed per pass.
        worker_id: name of this worker in ``claimed_by`` (default host:pid:random).

    """

    def __init__(
        self,
        engine_or_db: Database | Engine | str,
        client: OmsClient,
        *,
        inline_timeout_s: float = 2.5,
        inline_retries: int = 1,
        lease_s: float = 30.0,
        poll_interval_s: float = 1.0,
        retry_base_s: float = 1.0,
        max_backoff_s: float = 60.0,
        batch_size: int = 10,
        worker_id: str | None = None,
    ) -> None:
        self.db = Database.of(engine_or_db)
        self.client = client
        self.inline_timeout_s = inline_timeout_s
        self.inline_retries = inline_retries
        self.lease_s = lease_s
        self.poll_interval_s = poll_interval_s
        self.retry_base_s = retry_base_s
        self.max_backoff_s = max_backoff_s
        self.batch_size = batch_size
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None

    # --- submitting -----------------------------------------------------------------------------
    async def submit(self, req: WorkOrderCreate, idempotency_key: str) -> Receipt:
        """Store the work order durably, then try to deliver it before ``inline_timeout_s``.

        Returns once the row is committed: the receipt's ``reference`` is safe to read to the
        caller. Submitting the same key again returns the same work order (never a second one).

        Raises:
            OutboxConflict: the key was already used with a different request.

        """
        entry, claimed = await self.db.run(self._insert_or_claim, req, idempotency_key)
        if not claimed:
            return entry.receipt()
        try:
            return await asyncio.wait_for(
                self._deliver(entry, retries=self.inline_retries), self.inline_timeout_s
            )
        except TimeoutError:
            error = f"OMS did not answer within {self.inline_timeout_s:.1f}s"
            await self.db.run(self._record_failure, entry.id, error, entry.attempts + 1)
            self._wake.set()
            logger.info("work order {} pending: {}", entry.reference, error)
            return (await self.db.run(entry_by_id, self.db, entry.id)).receipt()

    def _insert_or_claim(self, req: WorkOrderCreate, key: str) -> tuple[OutboxEntry, bool]:
        now = utcnow()
        lease = now + timedelta(seconds=self.inline_timeout_s + 2.0)
        payload = req.model_dump(mode="json")
        try:
            with self.db.engine.begin() as conn:
                pk = conn.execute(
                    insert(outbox).values(
                        idempotency_key=key,
                        call_sid=req.call_sid,
                        payload=payload,
                        status="pending",
                        attempts=0,
                        created_at=now,
                        updated_at=now,
                        claimed_until=lease,
                        claimed_by=self.worker_id,
                    )
                ).inserted_primary_key
                assert pk is not None
                row_id = int(pk[0])
                reference = f"R{REFERENCE_BASE + row_id}"
                # The OMS gets our reference too, so either number finds the work order there.
                payload["details"] = {**payload["details"], "agent_reference": reference}
                conn.execute(
                    update(outbox)
                    .where(outbox.c.id == row_id)
                    .values(reference=reference, payload=payload)
                )
            return entry_by_id(self.db, row_id), True
        except IntegrityError:
            existing = entry_by_key(self.db, key)
            if existing is None:
                raise
            if _comparable(existing.payload) != _comparable(payload):
                raise OutboxConflict(
                    f"idempotency key {key!r} already used for work order {existing.reference} "
                    "with a different request"
                ) from None
            if existing.status == "pending" and self._try_claim(existing.id, now, lease):
                return entry_by_id(self.db, existing.id), True
            return existing, False

    # --- delivering -----------------------------------------------------------------------------
    async def _deliver(self, entry: OutboxEntry, retries: int | None = None) -> Receipt:
        attempts = entry.attempts + 1
        try:
            req = WorkOrderCreate.model_validate(entry.payload)
            work_order = await self.client.create_work_order(
                req, entry.idempotency_key, retries=retries
            )
        except OmsRejected as exc:
            await self.db.run(self._record_rejected, entry.id, str(exc), attempts)
            logger.warning("work order {} rejected by the OMS: {}", entry.reference, exc)
        except (OmsError, Exception) as exc:  # anything else: keep the row, try again later
            if not isinstance(exc, OmsError):
                logger.exception("unexpected error delivering work order {}", entry.reference)
            await self.db.run(self._record_failure, entry.id, str(exc), attempts)
            self._wake.set()
            logger.info("work order {} pending: {}", entry.reference, exc)
        else:
            logger.info("work order {} delivered as {}", entry.reference, work_order.id)
            try:
                await self.db.run(self._record_delivered, entry.id, work_order.id, attempts)
            except Exception:
                # The OMS has it; the row stays pending and a later delivery with the same key
                # gets the same id back. The caller can still hear the OMS's number.
                logger.exception("could not record delivery of {}", entry.reference)
                return Receipt(work_order.id, True, entry.reference, work_order.id, "delivered")
        return (await self.db.run(entry_by_id, self.db, entry.id)).receipt()

    async def deliver_due(self) -> int:
        """Claim the rows that are due and deliver them; returns how many were claimed."""
        entries = await self.db.run(self._claim_due)
        # Concurrently: one slow delivery must not outlast the leases of the rest of the batch.
        await asyncio.gather(*(self._deliver_claimed(entry) for entry in entries))
        return len(entries)

    async def _deliver_claimed(self, entry: OutboxEntry) -> None:
        try:
            await asyncio.wait_for(self._deliver(entry), self.lease_s * 0.8)
        except TimeoutError:
            error = f"delivery took longer than {self.lease_s * 0.8:.0f}s"
            await self.db.run(self._record_failure, entry.id, error, entry.attempts + 1)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver due rows until ``stop`` is set. Errors (e.g. database down) are logged."""
        logger.debug("outbox worker {} started", self.worker_id)
        while not stop.is_set():
            claimed = 0
            try:
                claimed = await self.deliver_due()
            except Exception:
                logger.exception("outbox worker pass failed")
            if claimed >= self.batch_size:
                continue
            self._wake.clear()
            waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            await asyncio.wait(waits, timeout=self.poll_interval_s, return_when="FIRST_COMPLETED")
            for waiter in waits:
                waiter.cancel()

    def start(self) -> asyncio.Task[None]:
        """Run the worker as a task of the running loop (stop it with :meth:`stop`)."""
        if self._task is None or self._task.done():
            self._stop = asyncio.Event()
            self._task = asyncio.create_task(self.run(self._stop), name="work-order-outbox")
        return self._task

    async def stop(self) -> None:
        if self._task is not None and self._stop is not None:
            self._stop.set()
            await self._task
            self._task = None

    # --- reading --------------------------------------------------------------------------------
    async def get(self, reference_or_key: str) -> OutboxEntry | None:
        """Find the entry with this local reference, OMS id or idempotency key."""
        return await self.db.run(find_entry, self.db, reference_or_key)

    async def for_call(self, call_sid: str) -> list[OutboxEntry]:
        return await self.db.run(entries_for_call, self.db, call_sid)

    async def pending_count(self) -> int:
        return await self.db.run(count_pending, self.db)

    # --- SQL (runs in a worker thread) ----------------------------------------------------------
    def _claim_due(self) -> list[OutboxEntry]:
        now = utcnow()
        with self.db.engine.connect() as conn:
            ids = (
                conn.execute(
                    select(outbox.c.id)
                    .where(outbox.c.status == "pending", _free(now))
                    .order_by(outbox.c.id)
                    .limit(self.batch_size)
                )
                .scalars()
                .all()
            )
        lease = now + timedelta(seconds=self.lease_s)
        return [entry_by_id(self.db, i) for i in ids if self._try_claim(i, now, lease)]

    def _try_claim(self, row_id: int, now: datetime, lease: datetime) -> bool:
        with self.db.engine.begin() as conn:
            result = conn.execute(
                update(outbox)
                .where(outbox.c.id == row_id, outbox.c.status == "pending", _free(now))
                .values(claimed_until=lease, claimed_by=self.worker_id)
            )
            return result.rowcount == 1

    def _record_delivered(self, row_id: int, oms_id: str, attempts: int) -> None:
        now = utcnow()
        self._update(
            row_id,
            status="delivered",
            oms_id=oms_id,
            attempts=attempts,
            delivered_at=now,
            updated_at=now,
            claimed_until=None,
            claimed_by=None,
        )

    def _record_rejected(self, row_id: int, error: str, attempts: int) -> None:
        self._update(
            row_id,
            status="rejected",
            attempts=attempts,
            last_error=error[:2000],
            updated_at=utcnow(),
            claimed_until=None,
            claimed_by=None,
        )

    def _record_failure(self, row_id: int, error: str, attempts: int) -> None:
        now = utcnow()
        backoff = min(self.max_backoff_s, self.retry_base_s * 2 ** max(0, attempts - 1))
        backoff *= random.uniform(0.8, 1.2)
        with self.db.engine.begin() as conn:
            # Only if still pending and not meanwhile claimed by another worker (our lease ran
            # out): a slow worker must not undo another's delivery or cut short its lease.
            conn.execute(
                update(outbox)
                .where(
                    outbox.c.id == row_id,
                    outbox.c.status == "pending",
                    or_(outbox.c.claimed_by.is_(None), outbox.c.claimed_by == self.worker_id),
                )
                .values(
                    attempts=attempts,
                    last_error=error[:2000],
                    updated_at=now,
                    claimed_until=now + timedelta(seconds=backoff),
                    claimed_by=None,
                )
            )

    def _update(self, row_id: int, **values: Any) -> None:
        with self.db.engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == row_id).values(**values))


def _free(now: datetime) -> Any:
    return or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until < now)
