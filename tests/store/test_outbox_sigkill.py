"""Several real processes on one outbox: SIGKILL after the outbox write, competing workers."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from voice_agent.oms.client import OmsClient
from voice_agent.oms.models import WorkOrderCreate
from voice_agent.oms.repository import OmsRepository
from voice_agent.oms.serve import ServerThread
from voice_agent.store.db import Database
from voice_agent.store.outbox import WorkOrderOutbox

CHILD = Path(__file__).with_name("outbox_child.py")
REQ_TEMPLATE = WorkOrderCreate(call_sid="x", order_id="481526", type="return", reason="too big")
ROOT = Path(__file__).resolve().parents[2]


class HoldResponses:
    """ASGI wrapper: lets the OMS process the request, then holds the response back.

    The nastiest moment to die: the OMS has opened the work order, the agent never heard so.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.arrived = threading.Event()
        self.release = threading.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        held: list[Any] = []

        async def hold(message: Any) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        self.arrived.set()
        while not self.release.is_set():
            await asyncio.sleep(0.05)


def spawn_child(db_url: str, oms_url: str, call_sid: str, key: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, str(CHILD), "submit", db_url, oms_url, call_sid, key],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


async def wait_for_row(db: Database, call_sid: str, timeout_s: float = 30.0) -> None:
    from voice_agent.store.outbox_rows import entries_for_call

    deadline = time.monotonic() + timeout_s
    while not entries_for_call(db, call_sid):
        assert time.monotonic() < deadline, "child never wrote its outbox row"
        await asyncio.sleep(0.02)


async def deliver_until_done(outbox: WorkOrderOutbox, key: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        await outbox.deliver_due()
        entry = await outbox.get(key)
        if entry is not None and entry.status == "delivered":
            return
        assert time.monotonic() < deadline, f"not delivered: {entry}"
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("moment", ["oms_answered_not_heard", "before_oms_reached"])
async def test_sigkill_after_outbox_write_delivers_once(
    db_url: str, oms_app: FastAPI, oms_repo: OmsRepository, moment: str
) -> None:
    call_sid, key = f"CA-kill-{moment}", f"va-kill-{moment}"
    db = Database(db_url)
    hold = HoldResponses(oms_app)
    held_server = ServerThread(hold)
    if moment == "oms_answered_not_heard":
        held_server.start()
    # else: nothing listens on held_server's port: the child's delivery fails and backs off
    child = spawn_child(db_url, held_server.url, call_sid, key)
    try:
        if moment == "oms_answered_not_heard":
            deadline = time.monotonic() + 30
            while not hold.arrived.wait(0.05):
                assert child.poll() is None, child.communicate()
                assert time.monotonic() < deadline, "child never reached the OMS"
            assert len(oms_repo.list_work_orders(call_sid)) == 1  # opened, answer never heard
        else:
            await wait_for_row(db, call_sid)
        os.kill(child.pid, signal.SIGKILL)
        out, err = child.communicate(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
        hold.release.set()
        held_server.stop()
    assert child.returncode == -signal.SIGKILL
    assert b"RECEIPT" not in out, "child finished before it was killed"

    [entry] = await WorkOrderOutbox(db, OmsClient("http://unused")).for_call(call_sid)
    assert entry.status == "pending"  # the row survived the kill

    with ServerThread(oms_app) as server:  # "restart": a new process's worker, a healthy OMS
        client = OmsClient(server.url, timeout_s=1.0, retries=0)
        outbox = WorkOrderOutbox(db, client, poll_interval_s=0.05, retry_base_s=0.05)
        await deliver_until_done(outbox, key)
        await client.aclose()
    wos = oms_repo.list_work_orders(call_sid)
    assert len(wos) == 1, wos
    delivered = await outbox.get(key)
    assert delivered is not None and delivered.oms_id == wos[0].id
    assert wos[0].details["agent_reference"] == delivered.reference
    db.dispose()


async def test_worker_processes_deliver_each_row_once(
    db_url: str, oms_app: FastAPI, oms_repo: OmsRepository
) -> None:
    from voice_agent.oms.serve import FlakyApp

    from .test_outbox import make_outbox

    async def slow_oms(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(0.03)  # so the workers' claims interleave
        await oms_app(scope, receive, send)

    counter = FlakyApp(slow_oms, fail=0)
    server = ServerThread(counter)
    db = Database(db_url)
    writer = make_outbox(db, server.url, inline_timeout_s=0.2)
    for i in range(24):
        req = REQ_TEMPLATE.model_copy(update={"call_sid": f"CA-proc-{i}"})
        assert not (await writer.submit(req, f"va-proc-{i}")).delivered  # OMS down: all pending
    await writer.client.aclose()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start_at = str(time.time() + 4.0)
    with server:
        workers = [
            subprocess.Popen(
                [sys.executable, str(CHILD), "work", db_url, server.url, f"proc-{n}", start_at],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )  # fmt: skip
            for n in range(3)
        ]
        outputs = [w.communicate(timeout=120) for w in workers]
    for worker, (_out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err.decode()[-2000:]
    claimed = [int(out.split()[-1]) for out, _ in outputs]
    assert sum(claimed) == 24, claimed  # every row claimed once, by exactly one process
    assert sum(c > 0 for c in claimed) >= 2, claimed  # and the processes did compete
    assert counter.passed == 24  # and sent to the OMS once
    assert len(oms_repo.list_work_orders()) == 24
    db.dispose()
