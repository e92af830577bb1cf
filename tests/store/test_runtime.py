"""AgentStore as create_app() uses it, with the OMS reached in process (httpx ASGI transport)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from voice_agent.oms.client import OmsClient
from voice_agent.oms.models import WorkOrderCreate
from voice_agent.oms.repository import OmsRepository
from voice_agent.pipeline.call import CallRecorder, WorkOrderSink
from voice_agent.settings import Settings
from voice_agent.store.runtime import AgentStore, database_url


async def test_agent_store_wiring(tmp_path, oms_app: FastAPI, oms_repo: OmsRepository) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path / "var")
    assert database_url(settings).endswith("var/voice_agent.sqlite3")
    client = OmsClient("http://embedded-oms/", transport=httpx.ASGITransport(app=oms_app))
    store = AgentStore.from_settings(settings, client)
    recorder: CallRecorder = store.calls  # the pipeline's protocols, checked by mypy
    sink: WorkOrderSink = store.work_orders
    store.start()
    await recorder.start_call("CA-rt", "twilio", "+15550142211")
    req = WorkOrderCreate(call_sid="CA-rt", order_id="481526", type="return", reason="too big")
    reference = await sink.submit(req, "va-rt")
    [wo] = oms_repo.list_work_orders("CA-rt")
    assert reference == wo.id
    assert store.work_orders.last_receipts["va-rt"].delivered
    await recorder.add_turn("CA-rt", "agent", f"Your reference is {reference}", 350.0)
    await recorder.end_call("CA-rt", "resolved")
    record = await store.calls.get_call("CA-rt")
    assert record is not None and record.work_orders[0].oms_id == wo.id
    await store.aclose()
    await client.aclose()
    assert (tmp_path / "var" / "voice_agent.sqlite3").exists()
