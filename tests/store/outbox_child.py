"""Child processes of the outbox tests.

python outbox_child.py submit DATABASE_URL OMS_URL CALL_SID KEY
    submits one work order, then waits to be killed;
python outbox_child.py work DATABASE_URL OMS_URL WORKER_ID START_AT
    runs a delivery worker from time START_AT (epoch seconds) until no row is pending.
"""

from __future__ import annotations

import asyncio
import sys
import time

from voice_agent.oms.client import OmsClient
from voice_agent.oms.models import WorkOrderCreate
from voice_agent.store.outbox import WorkOrderOutbox


async def submit(db_url: str, oms_url: str, call_sid: str, key: str) -> None:
    client = OmsClient(oms_url, timeout_s=30.0, retries=0)
    outbox = WorkOrderOutbox(db_url, client, inline_timeout_s=1.5)
    req = WorkOrderCreate(call_sid=call_sid, order_id="735902", type="refund", reason="broken")
    receipt = await outbox.submit(req, key)
    print("RECEIPT", receipt, flush=True)
    await asyncio.sleep(60)


async def work(db_url: str, oms_url: str, worker_id: str, start_at: str) -> None:
    client = OmsClient(oms_url, timeout_s=5.0, retries=0)
    outbox = WorkOrderOutbox(
        db_url, client, worker_id=worker_id, batch_size=2, retry_base_s=0.05, lease_s=10.0
    )
    await asyncio.sleep(max(0.0, float(start_at) - time.time()))  # all workers start together
    claimed = 0
    while await outbox.pending_count():
        claimed += await outbox.deliver_due()
    print("CLAIMED", claimed, flush=True)
    await client.aclose()


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    asyncio.run(submit(*args) if mode == "submit" else work(*args))
