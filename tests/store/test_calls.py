"""Call records: writes from the pipeline side, /calls over real HTTP, no PII in output or logs."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from loguru import logger
from sqlalchemy import select

from voice_agent.oms.client import OmsClient
from voice_agent.oms.models import WorkOrderCreate
from voice_agent.oms.serve import ServerThread, free_port
from voice_agent.pii import install_log_masking
from voice_agent.store.api import calls_router
from voice_agent.store.calls import CallStore
from voice_agent.store.db import Database, call_turns, calls
from voice_agent.store.outbox import WorkOrderOutbox

PHONE = "+15550142211"
EMAIL = "dana.whitfield@example.com"
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def raw_pii(text: str) -> list[str]:
    """Unmasked phone numbers or e-mail addresses left in ``text``."""
    found = re.findall(r"[\w.+-]+@[\w-]+\.[\w.]+", text)
    text = re.sub(r"\d{4}-\d{2}-\d{2}", "<date>", text)  # timestamps are not PII
    found += [
        run for run in re.findall(r"\d[\d \-]{5,}\d", text) if len(re.sub(r"\D", "", run)) >= 7
    ]
    found += [d for d in ("5550142211", "555 014 2211", "dana.whitfield") if d in text]
    return found


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[CallStore]:
    store = CallStore(Database(db_url), raise_errors=True)
    yield store
    store.db.dispose()


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """Everything loguru logs meanwhile, with the masking the server installs at startup."""
    lines: list[str] = []
    previous_factory = logging.getLogRecordFactory()
    install_log_masking()

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect()
    logging.getLogger().addHandler(handler)
    sink = logger.add(lines.append, format="{message} | {extra}", level="DEBUG")
    yield lines
    logger.remove(sink)
    logger.configure(patcher=lambda _record: None)
    logging.getLogger().removeHandler(handler)
    logging.setLogRecordFactory(previous_factory)


async def record_test_call(store: CallStore, outbox: WorkOrderOutbox) -> str:
    sid = "CA-test-call-1"
    logger.info("incoming call {} from {}", sid, PHONE)  # as a careless pipeline might log
    await store.start_call(sid, "twilio", PHONE, at=T0)
    await store.add_event(sid, "state", {"state": "ask_order"}, at=T0)
    await store.add_turn(sid, "agent", "Hi! What is your order number?", at=T0, latency_ms=412.6)
    await store.add_turn(
        sid, "user", f"it's 4 8 1 5 2 6 and call me on 555 014 2211 or {EMAIL}", at=T0
    )
    logger.info("heard: call me on 555 014 2211 or {}", EMAIL)
    logging.getLogger("voice_agent.test").warning("caller %s <%s>", PHONE, EMAIL)  # stdlib too
    await store.add_event(
        sid, "action", {"kind": "lookup_order", "order_id": "481526", "note": f"from {PHONE}"}
    )
    req = WorkOrderCreate(
        call_sid=sid,
        order_id="481526",
        type="return",
        reason=f"too small; callback {PHONE}",
        details={"callback": PHONE, "email": EMAIL},  # raw: the OMS needs them
    )
    receipt = await outbox.submit(req, "va-test-call-1")
    await store.add_turn(
        sid, "agent", f"Your reference is {receipt.reference}.", at=T0 + timedelta(seconds=9)
    )
    await store.add_turn(sid, "user", "thanks", at=T0 + timedelta(seconds=12), interrupted=False)
    await store.end_call(sid, "resolved", at=T0 + timedelta(seconds=15))
    return sid


async def test_call_record_roundtrip_masked_at_rest(store: CallStore) -> None:
    down = OmsClient(f"http://127.0.0.1:{free_port()}", timeout_s=0.3, retries=0)
    outbox = WorkOrderOutbox(store.db, down, inline_timeout_s=0.5)
    sid = await record_test_call(store, outbox)
    record = await store.get_call(sid)
    assert record is not None
    assert record.caller == "+*********11" and record.channel == "twilio"
    assert record.outcome == "resolved" and record.last_state == "ask_order"
    assert record.ended_at == T0 + timedelta(seconds=15)
    assert [t.speaker for t in record.turns] == ["agent", "user", "agent", "user"]
    assert record.turns[0].latency_ms == 413
    assert "4 8 1 5 2 6" in record.turns[1].text  # the order number stays readable
    assert [e.kind for e in record.events] == ["state", "action"]
    [wo] = record.work_orders
    assert wo.status == "pending" and wo.reference.startswith("R") and wo.order_id == "481526"
    assert record.turns[2].text == f"Your reference is {wo.reference}."
    # Masked in the database itself, not only on the way out.
    with store.db.engine.connect() as conn:
        stored = " ".join(conn.execute(select(call_turns.c.text)).scalars())
        stored += " ".join(conn.execute(select(calls.c.caller)).scalars())
    assert raw_pii(stored) == []
    # ... except in the outbox payload, which the OMS needs.
    entry = await outbox.get(wo.reference)
    assert entry is not None and entry.payload["details"]["callback"] == PHONE
    await down.aclose()


async def test_calls_api_and_logs_have_no_pii(
    store: CallStore, oms_server: ServerThread, log_lines: list[str]
) -> None:
    client = OmsClient(oms_server.url)
    outbox = WorkOrderOutbox(store.db, client)
    sid = await record_test_call(store, outbox)
    await store.start_call("CA-other", "sip", "sip:alice@example.org", at=T0 + timedelta(hours=1))
    await store.end_call("CA-other", "abandoned", at=T0 + timedelta(hours=1, seconds=3))

    app = FastAPI()
    app.include_router(calls_router(store))
    with ServerThread(app) as server, httpx.Client(base_url=server.url) as http:
        listing = http.get("/calls")
        one = http.get(f"/calls/{sid}")
        resolved = http.get("/calls", params={"outcome": "resolved"}).json()
        sip = http.get("/calls", params={"channel": "sip"}).json()
        later = http.get("/calls", params={"since": "2026-11-20T10:30:00"}).json()
        limited = http.get("/calls", params={"limit": 1}).json()
        missing = http.get("/calls/nope")
        bad = http.get("/calls", params={"outcome": "exploded", "limit": 0})
    assert listing.status_code == 200 and one.status_code == 200
    assert [c["call_sid"] for c in listing.json()] == ["CA-other", sid]  # newest first
    assert [c["call_sid"] for c in resolved] == [sid]
    assert [c["call_sid"] for c in sip] == ["CA-other"] == [c["call_sid"] for c in later]
    assert [c["call_sid"] for c in limited] == ["CA-other"]
    assert missing.status_code == 404 and bad.status_code == 422
    body = one.json()
    assert body["work_orders"][0]["status"] == "delivered"
    assert body["work_orders"][0]["oms_id"].startswith("W")
    assert body["turns"][0]["latency_ms"] == 413

    assert raw_pii(listing.text) == [] and raw_pii(one.text) == []
    assert "481526" in one.text
    logged = "\n".join(log_lines)
    assert "incoming call CA-test-call-1" in logged and "heard:" in logged
    assert "caller +*********11 <d***@***.com>" in logged
    assert raw_pii(logged) == [], logged
    await client.aclose()


async def test_writes_are_robust(store: CallStore) -> None:
    await store.start_call("CA-r", "twilio", None)
    await store.start_call("CA-r", "twilio", PHONE)  # a reconnect: the first start is kept
    await store.add_turn("CA-unknown", "user", "hello")  # no start recorded: still kept
    await store.end_call("CA-never-started", "abandoned")
    await store.end_call("CA-r", "handed_off")
    await store.end_call("CA-r", "resolved")  # the first outcome wins
    with pytest.raises(ValueError):
        await store.end_call("CA-r", "exploded")
    r = await store.get_call("CA-r")
    assert r is not None and r.caller is None and r.outcome == "handed_off"
    never = await store.get_call("CA-never-started")
    assert never is not None and never.outcome == "abandoned" and never.channel == "unknown"
    assert await store.get_call("CA-unknown") is None


async def test_write_errors_are_logged_not_raised(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = Database(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    store = CallStore(db)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE call_turns")
    lines: list[str] = []
    sink = logger.add(lines.append, level="ERROR")
    try:
        await store.add_turn("CA1", "user", "hello")  # must not raise into the pipeline
    finally:
        logger.remove(sink)
    assert any("call record write failed" in line for line in lines)
    db.dispose()


def test_the_pii_detector_detects() -> None:
    # The checks above are only as good as raw_pii(); make sure it would catch a leak.
    assert raw_pii(f"from {PHONE}") and raw_pii(EMAIL) and raw_pii("555-014-2211")
    assert raw_pii("order 481526 on 2026-11-20, +*********11, d***@***.com") == []


async def test_event_data_of_any_type_is_stored(store: CallStore) -> None:
    from dataclasses import dataclass

    @dataclass
    class Slot:
        name: str

    await store.start_call("CA-ev", "twilio")
    await store.add_event("CA-ev", "action", {"when": T0, "slot": Slot("x"), "n": 1.5})
    record = await store.get_call("CA-ev")
    assert record is not None
    data = record.events[0].data
    assert data["when"] == str(T0) and data["n"] == 1.5
    assert data["slot"].endswith("Slot(name='x')")
