"""Fault tests of the work-order outbox against the real embedded OMS on loopback.

Each test runs on SQLite and, when available, PostgreSQL (see conftest ``db_url``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from fastapi import FastAPI

from voice_agent.oms.client import OmsClient
from voice_agent.oms.models import WorkOrderCreate
from voice_agent.oms.repository import OmsRepository
from voice_agent.oms.serve import FlakyApp, ServerThread
from voice_agent.store.db import Database
from voice_agent.store.outbox import OutboxConflict, WorkOrderOutbox

REQ = WorkOrderCreate(call_sid="CA-out-1", order_id="481526", type="return", reason="too small")
KEY = "va-test-key-1"

FAST = dict(
    inline_timeout_s=1.0, lease_s=5.0, poll_interval_s=0.05, retry_base_s=0.05, max_backoff_s=0.2
)


def make_outbox(db: Database | str, url: str, **overrides: Any) -> WorkOrderOutbox:
    client = OmsClient(url, timeout_s=0.5, retries=1, backoff_s=0.01)
    return WorkOrderOutbox(db, client, **{**FAST, **overrides})


async def until(predicate: Callable[[], Awaitable[bool]], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    db = Database(db_url)
    yield db
    db.dispose()


async def test_delivered_inline_when_oms_is_up(
    database: Database, oms_server: ServerThread, oms_repo: OmsRepository
) -> None:
    outbox = make_outbox(database, oms_server.url)
    receipt = await outbox.submit(REQ, KEY)
    assert receipt.delivered and receipt.status == "delivered"
    [wo] = oms_repo.list_work_orders(REQ.call_sid)
    assert receipt.reference == receipt.oms_id == wo.id
    assert receipt.local_reference.startswith("R")
    assert wo.details["agent_reference"] == receipt.local_reference
    entry = await outbox.get(receipt.local_reference)
    assert entry is not None and entry.oms_id == wo.id and entry.attempts == 1
    await outbox.client.aclose()


async def test_oms_down_then_back_delivers_once(
    database: Database, oms_app: FastAPI, oms_repo: OmsRepository
) -> None:
    server = ServerThread(oms_app)  # port chosen, nothing listening yet: the OMS is down
    outbox = make_outbox(database, server.url)
    started = time.monotonic()
    receipt = await outbox.submit(REQ, KEY)
    assert time.monotonic() - started < 3.0  # the caller is not kept waiting
    assert not receipt.delivered and receipt.status == "pending"
    assert receipt.reference == receipt.local_reference and receipt.reference.startswith("R")
    assert receipt.error and "ConnectError" in receipt.error

    stop = asyncio.Event()
    worker = asyncio.create_task(outbox.run(stop))
    await asyncio.sleep(0.5)  # the worker retries against the closed port meanwhile
    entry = await outbox.get(receipt.reference)
    assert entry is not None and entry.status == "pending" and entry.attempts >= 2
    assert oms_repo.list_work_orders() == []

    server.start()
    try:

        async def delivered() -> bool:
            got = await outbox.get(receipt.reference)
            return got is not None and got.status == "delivered"

        await until(delivered)
    finally:
        stop.set()
        await worker
        server.stop()
    [wo] = oms_repo.list_work_orders(REQ.call_sid)
    entry = await outbox.get(receipt.reference)
    assert entry is not None and entry.oms_id == wo.id
    assert (await outbox.get(wo.id)) == entry  # our reference maps to the OMS id and back
    assert wo.details["agent_reference"] == receipt.reference
    assert await outbox.pending_count() == 0
    await outbox.client.aclose()


async def test_500s_then_201_makes_one_work_order(
    database: Database, oms_app: FastAPI, oms_repo: OmsRepository
) -> None:
    flaky = FlakyApp(oms_app, fail=3, status=500)
    with ServerThread(flaky) as server:
        outbox = make_outbox(database, server.url)  # client: 1 retry, so inline fails twice
        receipt = await outbox.submit(REQ, KEY)
        assert not receipt.delivered and "500" in (receipt.error or "")
        stop = asyncio.Event()
        worker = asyncio.create_task(outbox.run(stop))

        async def delivered() -> bool:
            got = await outbox.get(KEY)
            return got is not None and got.status == "delivered"

        await until(delivered)
        stop.set()
        await worker
    assert flaky.failed == 3 and flaky.passed == 1
    assert len(oms_repo.list_work_orders()) == 1
    await outbox.client.aclose()


async def test_duplicate_submit_is_one_work_order(
    database: Database, oms_server: ServerThread, oms_repo: OmsRepository
) -> None:
    outbox = make_outbox(database, oms_server.url)
    first, second = await asyncio.gather(outbox.submit(REQ, KEY), outbox.submit(REQ, KEY))
    third = await outbox.submit(REQ, KEY)
    assert third.delivered and third.oms_id is not None
    assert {first.local_reference, second.local_reference, third.local_reference} == {
        third.local_reference
    }
    assert len(oms_repo.list_work_orders()) == 1
    assert len(await outbox.for_call(REQ.call_sid)) == 1
    with pytest.raises(OutboxConflict):
        await outbox.submit(REQ.model_copy(update={"reason": "changed my mind"}), KEY)
    await outbox.client.aclose()


async def test_rejected_work_order_is_not_retried(
    database: Database, oms_app: FastAPI, oms_repo: OmsRepository
) -> None:
    counter = FlakyApp(oms_app, fail=0)
    with ServerThread(counter) as server:
        outbox = make_outbox(database, server.url)
        bad = REQ.model_copy(update={"order_id": "000000"})
        receipt = await outbox.submit(bad, "va-bad")
        assert receipt.status == "rejected" and not receipt.delivered
        assert "does not exist" in (receipt.error or "")
        assert await outbox.deliver_due() == 0
    assert counter.passed == 1 and oms_repo.list_work_orders() == []
    await outbox.client.aclose()


async def test_several_workers_deliver_each_row_once(
    database: Database, oms_app: FastAPI, oms_repo: OmsRepository
) -> None:
    counter = FlakyApp(oms_app, fail=0)
    server = ServerThread(counter)
    writer = make_outbox(database, server.url, inline_timeout_s=0.3)
    requests = [REQ.model_copy(update={"call_sid": f"CA-many-{i}"}) for i in range(12)]
    for i, req in enumerate(requests):
        assert not (await writer.submit(req, f"va-many-{i}")).delivered  # OMS down: all pending
    server.start()
    try:
        workers = [
            make_outbox(database, server.url, worker_id=f"w{i}", batch_size=3, retry_base_s=0.0)
            for i in range(3)
        ]
        # Let the backoff of the failed inline attempts run out, then race the workers.
        await asyncio.sleep(0.3)
        while await writer.pending_count():
            await asyncio.gather(*(w.deliver_due() for w in workers))
    finally:
        server.stop()
    assert counter.passed == 12  # every row sent exactly once: no two workers claimed one
    assert sorted(w.call_sid for w in oms_repo.list_work_orders()) == sorted(
        r.call_sid for r in requests
    )
    for outbox in [writer, *workers]:
        await outbox.client.aclose()


async def test_worker_start_stop(database: Database, oms_server: ServerThread) -> None:
    outbox = make_outbox(database, oms_server.url)
    task = outbox.start()
    assert outbox.start() is task
    await outbox.stop()
    assert task.done() and task.exception() is None
    await outbox.client.aclose()
